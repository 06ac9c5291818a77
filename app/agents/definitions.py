"""Agent definitions as the admin API takes them: the fields of an `[agents.<name>]` table, plus its `name`.

`parse_agent` validates a request body; a problem is an `InvalidAgentDefinition` whose `param` names the
field. `ModelNames` is what the names in it are checked against: an agent may not take an alias's name
(409, like any name in use; a `<provider>/<model>` id is refused by the name's pattern), and its `model` is
one the router routes each round to, an alias or `<provider>/<model id>` of a known provider.
`encode_stored` and `decode_stored` are the form an API agent is kept in (`app.records`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from pydantic import ConfigDict, Field, ValidationError

from app.settings import AgentSettings
from providers.errors import AgentConflict, InvalidAgentDefinition

if TYPE_CHECKING:
    from collections.abc import Iterable

    from app.settings import Settings

__all__ = ["COLLECTION", "AgentDefinition", "ModelNames", "decode_stored", "encode_stored", "parse_agent"]

COLLECTION = "agents"
"""The API agents' collection in the record store: the SQLite table, the Redis key."""

# The config file's rule for agent (and key) names, in `app.settings`: plain words, which rules out '/'.
AGENT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class AgentDefinition(AgentSettings):
    """The admin API's body: `{"name", "model", "tools", ...}`."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(pattern=AGENT_NAME)
    """Letters, digits, '.', '_' or '-', 64 at most: the model name clients use."""


@dataclass(frozen=True, slots=True)
class ModelNames:
    """The model names this router knows, for checking an agent's definition against."""

    aliases: frozenset[str]
    """Aliases a client (and an agent's rounds) can name."""
    reserved: frozenset[str]
    """Names an agent may not take: every alias, the free one even when it is off (as in the config file)."""
    providers: frozenset[str]

    @classmethod
    def of(cls, settings: Settings, providers: Iterable[str]) -> ModelNames:
        aliases = set(settings.models)
        if settings.free.enabled:
            aliases.add(settings.free.alias)
        return cls(frozenset(aliases), frozenset({*settings.models, settings.free.alias}), frozenset(providers))

    def routable(self, model: str) -> bool:
        prefix, _, rest = model.partition("/")
        return model in self.aliases or (bool(rest) and prefix in self.providers)


def parse_agent(body: bytes, names: ModelNames) -> AgentDefinition:
    """Validate a request body: `InvalidAgentDefinition` naming the field, or `AgentConflict` for an alias's
    name."""
    try:
        definition = AgentDefinition.model_validate_json(body, strict=True)
    except ValidationError as exc:
        raise _invalid(exc) from None
    if definition.name in names.reserved:
        raise AgentConflict(
            f"The name '{definition.name}' is an alias's: an agent needs a name of its own.",
            param="name",
            code="agent_name_taken",
        )
    if not names.routable(definition.model):
        known = ", ".join(f"'{provider}/<model id>'" for provider in sorted(names.providers))
        aliases = ", ".join(f"'{alias}'" for alias in sorted(names.aliases))
        raise InvalidAgentDefinition(
            f"The model '{definition.model}' is not one the router routes: name a model as {known}"
            + (f", or an alias: {aliases}." if aliases else "."),
            param="model",
        )
    return definition


class _Stored(msgspec.Struct):
    definition: msgspec.Raw
    """The definition's JSON, with the fields the admin set (so later defaults apply to the others)."""
    updated_at: float


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Stored)


def encode_stored(definition: AgentDefinition, updated_at: float) -> bytes:
    fields = definition.model_dump_json(exclude_unset=True).encode()
    return _encoder.encode(_Stored(msgspec.Raw(fields), updated_at))


def decode_stored(data: bytes) -> tuple[AgentDefinition, float]:
    """A stored agent and when it was last written; `msgspec` or `pydantic` errors if it cannot be used."""
    stored = _decoder.decode(data)
    return AgentDefinition.model_validate_json(bytes(stored.definition), strict=True), stored.updated_at


def _invalid(exc: ValidationError) -> InvalidAgentDefinition:
    error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    if error["type"] == "json_invalid":
        return InvalidAgentDefinition(f"The body is not valid JSON ({error['msg']}).", code="invalid_json")
    param = _param(error["loc"]) or None
    where = f" at '{param}'" if param else ""
    return InvalidAgentDefinition(f"Invalid agent definition{where}: {error['msg']}.", param=param)


def _param(loc: tuple[Any, ...]) -> str:
    """A pydantic location as a `param`: `tools[0]`, `max_rounds`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path
