"""The web dashboard at `/ui`: its page and files, the views behind its JSON, and its live updates.

    assets      `GET /ui` and the shipped files (`static/`), with a strict Content-Security-Policy
    views       the Overview, the aliases and agents, the playground's models, the redacted configuration
    live        the one stream of updates every open dashboard of a worker shares

The JSON endpoints are `app.api.dashboard`'s, under `/admin` behind the admin key; the requests they show
come from `app.telemetry.recent`.
"""
