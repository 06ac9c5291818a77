"""The agents' admin API, behind the admin key (`app.access.admin.AdminGuard`):

    POST   /v1/agents           register an agent: 201 with it; at once a model on every endpoint
    GET    /v1/agents           every agent, the config file's included (`source` says which)
    GET    /v1/agents/{name}    one agent
    PUT    /v1/agents/{name}    replace an API agent's definition
    DELETE /v1/agents/{name}    remove an API agent

The body is the fields of an `[agents.<name>]` table plus `name` (`app.agents.definitions`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.params import FromPath

from app.agents.directory import AgentDirectory
from app.api.inject import Injected

__all__ = ["create_agent", "delete_agent", "list_agents", "replace_agent", "retrieve_agent"]

_encoder = msgspec.json.Encoder()


@post("/", status_code=201)
async def create_agent(request: Request[Any, Any, Any], agents: Injected[AgentDirectory]) -> Response[bytes]:
    agent = await agents.register(await request.body())
    return _json(agent.describe(), 201)


@get("/")
async def list_agents(agents: Injected[AgentDirectory]) -> Response[bytes]:
    return _json({"object": "list", "data": [agent.describe() for agent in agents.agents()]})


@get("/{name:str}")
async def retrieve_agent(name: FromPath[str], agents: Injected[AgentDirectory]) -> Response[bytes]:
    return _json(agents.agent(name).describe())


@put("/{name:str}")
async def replace_agent(
    request: Request[Any, Any, Any], name: FromPath[str], agents: Injected[AgentDirectory]
) -> Response[bytes]:
    agent = await agents.replace(name, await request.body())
    return _json(agent.describe())


@delete("/{name:str}", status_code=200)
async def delete_agent(name: FromPath[str], agents: Injected[AgentDirectory]) -> Response[bytes]:
    await agents.remove(name)
    return _json({"object": "agent.deleted", "name": name, "deleted": True})


def _json(payload: Any, status: int = 200) -> Response[bytes]:
    return Response(_encoder.encode(payload), status_code=status, media_type="application/json")
