"""Anthropic's Messages API (`/v1/messages`) in front of the router's answer pipeline.

A Messages request is translated into a chat request (`to_chat`), answered exactly as a chat client's
request is (`app.pipeline`: any provider or alias, the same routing, limits and guarantees), and the answer
is rendered back (`from_chat` for a whole message, `stream` for Anthropic's event stream). The wire types
are in `providers.anthropic_schema`, shared with the Anthropic provider adapter.

    decode      a request body to a validated request, refusing what the router cannot do by name
    to_chat     a request to the chat request that answers it
    from_chat   a whole answer (a chat completion) to a message
    stream      answer events to Anthropic's stream events
    tokens      the input-token estimate of `/v1/messages/count_tokens`

The HTTP endpoints are in `app.api.messages`; errors on them take Anthropic's envelope (`app.errors`).
"""

from __future__ import annotations

__all__: list[str] = []
