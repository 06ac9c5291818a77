"""OpenAI's Responses API (`/v1/responses`) in front of the router's answer pipeline.

A Responses request is translated into a chat request (`to_chat`), answered exactly as a chat client's
request is (`app.pipeline`), and the answer's events are rendered back (`stream`, for a streamed answer and
a whole one alike). So every provider, routing rule and output guarantee of the chat API holds here too.
Its `mcp` tools name registry toolsets, which the router runs for it (`mcp`).

    items       input and output items (messages, function calls and their outputs, reasoning, MCP items)
    wire        the request and the response object, as msgspec types
    events      the stream events, and their SSE framing
    decode      a request body to a validated request, with errors that name the offending field
    mcp         a request's `mcp` tools resolved against the tool registry: what the router runs for it
    to_chat     a request (and the conversation before it) to a chat request, and the calls it approves
    from_chat   the response before any output, and its status and usage once answered
    stream      answer events to Responses stream events, and a whole answer's events to its response
    store       stored responses, for `previous_response_id` and `GET /v1/responses/{id}`

The HTTP endpoints are in `app.api.responses`.
"""

from __future__ import annotations

__all__: list[str] = []
