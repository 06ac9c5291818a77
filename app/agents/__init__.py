"""Agents: model names that run registry tools themselves, so a client gets answers that used them.

directory   the agents (the config file's and the admin API's), and the tools each may call
definitions an agent as the admin API takes it, validated, and as it is stored
memory      the server's side of a turn that also called the client's tools, until the client comes back
loop        one request to an agent: rounds of a routed model turn, then its tool calls, as one answer
"""
