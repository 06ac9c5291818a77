"""OpenAI's Responses API (`/v1/responses`) in front of the router's answer pipeline.

A Responses request is translated into a chat request (`to_chat`), answered exactly as a chat client's
request is (`app.pipeline`), and the answer is rendered back (`from_chat` for a whole answer, `stream` for
its events). So every provider, routing rule and output guarantee of the chat API holds here too.

    items       input and output items (messages, function calls and their outputs, reasoning)
    wire        the request and the response object, as msgspec types
    events      the stream events, and their SSE framing
    decode      a request body to a validated request, with errors that name the offending field
    to_chat     a request (and the conversation before it) to a chat request
    from_chat   a whole answer (a chat completion) to a response
    stream      answer events to Responses stream events
    store       stored responses, for `previous_response_id` and `GET /v1/responses/{id}`

The HTTP endpoints are in `app.api.responses`.
"""

from __future__ import annotations

__all__: list[str] = []
