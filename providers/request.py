"""The provider-neutral chat request handed to adapters.

A request is decoded twice from the same bytes, each pass doing one job: a strict typed pass
(`ChatCompletionRequest`) that validates and gives the router what it reads, and a shallow pass that keeps
every top-level field as the client's own JSON (`msgspec.Raw`, a slice of the body, not a parsed copy).
Adapters build the upstream body from the shallow fields, so whatever the client sent, including fields and
nested keys the router does not know, reaches the provider byte for byte unless an adapter changes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from providers.errors import InvalidRequest
from providers.schema import UNSET, ChatCompletionRequest

__all__ = ["ChatRequest", "check_model_name", "decode_json", "invalid_request"]

T = TypeVar("T")

_typed_decoder = msgspec.json.Decoder(ChatCompletionRequest)
_fields_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_encoder = msgspec.json.Encoder()
_model_names = msgspec.json.Decoder(list[str])

# msgspec reports a location as `$.messages[2].content`; OpenAI's `param` is `messages[2].content`.
_LOCATION = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_MISSING_FIELD = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")
# Model ids are printable ASCII without spaces everywhere they exist; anything else (control characters,
# which could forge log lines or break response headers, or text no provider names a model with) is refused
# before it goes anywhere.
_MODEL_NAME = re.compile(r"[\x21-\x7e]{1,256}")


@dataclass(slots=True)
class ChatRequest:
    """A validated chat request: the typed view plus the client's top-level fields as sent."""

    params: ChatCompletionRequest
    fields: dict[str, msgspec.Raw]

    @classmethod
    def decode(cls, body: bytes) -> ChatRequest:
        """Validate a request body, raising `InvalidRequest` that names the offending field."""
        params = decode_json(_typed_decoder, body)
        check_model_name(params.model, "model")
        return cls(params=params, fields=_fields_decoder.decode(body))

    @classmethod
    def from_params(cls, params: ChatCompletionRequest, **extra: Any) -> ChatRequest:
        """Build a request from typed params (and extra top-level fields), as a translating front end does."""
        fields = _fields_decoder.decode(_encoder.encode(params))
        fields.update({key: msgspec.Raw(_encoder.encode(value)) for key, value in extra.items()})
        return cls(params=params, fields=fields)

    def fallback_models(self) -> list[str]:
        """The request's own `models` list (OpenRouter's fallback field), or `[]` without one."""
        raw = self.fields.get("models")
        if raw is None:
            return []
        try:
            names = _model_names.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            raise InvalidRequest(
                "Invalid request at 'models': expected a list of model names.", param="models", code="invalid_value"
            ) from None
        for position, name in enumerate(names):
            check_model_name(name, f"models[{position}]")
        return names

    def without(self, *keys: str) -> ChatRequest:
        """The same request without some top-level fields (ones the router consumes itself)."""
        return ChatRequest(self.params, {key: value for key, value in self.fields.items() if key not in keys})

    def upstream_body(self, model: str, **overrides: Any) -> bytes:
        """The JSON body for an upstream: the client's fields with `model` and any `overrides` replaced
        (an override of `UNSET` removes the field)."""
        fields: dict[str, Any] = dict(self.fields)
        fields["model"] = model
        for key, value in overrides.items():
            if value is UNSET:
                fields.pop(key, None)
            else:
                fields[key] = value
        return _encoder.encode(fields)


def decode_json(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    """Decode and validate a request body, raising `InvalidRequest` that names the offending field."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise invalid_request(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(
            f"We could not parse the JSON body of your request ({exc}). Send a valid JSON object.",
            code="invalid_json",
        ) from None
    except RecursionError:
        raise InvalidRequest(
            "The JSON body of your request is nested too deeply (arrays or objects about 1,000 levels deep).",
            code="invalid_json",
        ) from None


def check_model_name(name: str, param: str) -> None:
    """Refuse a model name that no provider could have: 1 to 256 printable ASCII characters, no spaces."""
    if _MODEL_NAME.fullmatch(name) is None:
        shown = name[:64].encode("unicode_escape").decode("ascii")
        raise InvalidRequest(
            f"Invalid request at '{param}': '{shown}' is not a model name (1 to 256 printable ASCII characters, "
            "without spaces or control characters).",
            param=param,
            code="invalid_value",
        )


def invalid_request(message: str, prefix: str = "") -> InvalidRequest:
    """An `InvalidRequest` for a msgspec validation message, its location (under `prefix`) as `param`."""
    located = _LOCATION.search(message)
    path = located["path"] if located else ""
    detail = message[: located.start()] if located else message
    missing = _MISSING_FIELD.match(detail)
    if missing:
        path = f"{path}.{missing['field']}" if path else missing["field"]
    if prefix:
        path = f"{prefix}{'' if not path or path.startswith('[') else '.'}{path}"
    param = path or None
    where = f" at '{param}'" if param else ""
    return InvalidRequest(f"Invalid request{where}: {detail}.", param=param, code="invalid_value")
