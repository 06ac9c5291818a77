"""The answer pipeline: from a routed model turn to typed answer events, for every front end.

events      the answer events front ends render (text, reasoning, tool calls, finish, usage)
normalise   OpenAI's invariants, enforced on any adapter's output, as events
answer      a whole answer from its events; usage summed across turns
turns       `AnswerPipeline`: admission, routing, normalisation and accounting of a request
"""

from __future__ import annotations

from app.pipeline.turns import Answer, AnswerPipeline, AnswerStream

__all__ = ["Answer", "AnswerPipeline", "AnswerStream"]
