"""The answer pipeline: from a routed model turn to typed answer events, for every front end.

events      the answer events front ends render (text, reasoning, tool calls, finish, usage)
normalise   OpenAI's invariants, enforced on any adapter's output, as events
answer      a whole answer from its events; usage summed across turns
turns       one routed turn (streamed or whole), whole answers and streamed ones
answering   `AnswerPipeline`: admission, routing, agents, normalisation and accounting of a request
"""
