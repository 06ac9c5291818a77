"""The HTTP endpoints: each module decodes requests, calls domain objects, and encodes their answers.

    chat         POST /v1/chat/completions
    responses    POST /v1/responses, GET and DELETE /v1/responses/{id}
    messages     POST /v1/messages, POST /v1/messages/count_tokens (Anthropic's Messages API)
    models       GET /v1/models, GET /v1/models/{id}
    admin        /admin/targets and its reset (the admin key)
    operations   /health, /ready, /metrics, /openapi.json
    routed       what the routed endpoints share: per-request limits in, route headers and SSE out

Handlers get the domain objects they use by dependency injection (litestar's `Provide`, wired in
`app.server.create_app`); no domain module imports this package.
"""
