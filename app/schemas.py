"""JSON Schemas that clients and operators send: compiled once, checked at compile time, run in bounded time.

Tool schemas come from whoever sends a request (and, for registered tools, from an operator), so a schema
is hostile input. `compile_schema` turns one into a `Schema` or raises `SchemaInvalid` (a `$ref` that does
not resolve, a schema its meta-schema rejects, a pattern the regex engine refuses, a limit below crossed);
`Schema.first_error` then says what is wrong with a value, as an OpenAI-style `param` path and a sentence.
Compiled schemas are cached by their canonical JSON, so a schema a client sends on every request is
compiled once.

The engine is jsonschema-rs (Rust), with its linear-time regex engine (`RegexOptions`, Rust's `regex`
crate) for `pattern`, `patternProperties` and the meta-schema's `format: regex` check of every pattern.
python-jsonschema with google-re2 was the alternative; jsonschema-rs won on three counts:

- Bounded time by construction: every regex the validator runs goes through the one engine option.
  python-jsonschema calls `re.search` directly in `pattern`, `patternProperties`, `additionalProperties`
  and `unevaluatedProperties`, and `re.compile` for `format: regex`, so re2 needs a hook in each, and
  one missed is the 6-second worker stall again.
- Errors at compile time: references are resolved when the schema is compiled, so `{"$ref": "#/nope"}`
  is a `SchemaInvalid`; python-jsonschema finds it halfway through validating a value.
- Speed, on the benchmark's `get_weather` schema: 0.7 us to accept its arguments and 9 us to report an
  error, against 140 us with python-jsonschema; compiling takes 45 us against 6.7 ms.

What it costs: patterns may not use lookaround or backreferences (the price of linear time; such a
schema is refused with a message that says so), and `format` is an annotation, as 2020-12 has it and as
the tool-call guard always treated it. No schema is ever fetched: a `$ref` must point inside the schema
or at a standard meta-schema.

What cannot be made linear is capped (`[schemas]` settings, `SchemaSettings`), and a schema or value past a
cap is refused, never half-checked:

- a schema: at most `max_values` JSON values, nested at most `max_depth` levels, with at most
  `max_patterns` regular expressions, each compiling to at most `max_pattern_bytes`;
- a value to validate: nested at most `max_depth` levels (the validator recurses in native code, where
  running out of stack would kill the worker, and a recursive schema can follow any depth);
- the cache: compiled schemas are kept up to an estimated `cache_bytes` of memory, least recently used
  first out.

`SchemaCompiler` holds the limits and the cache: the application builds one and hands it to whatever checks
schemas (the request decoders, the tool-call guard, the tool registry).
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import jsonschema_rs
import msgspec

from app.settings import SchemaSettings
from providers.errors import InvalidRequest

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["Problem", "Schema", "SchemaCompiler", "SchemaInvalid"]

# A match keeps a lazy DFA per regex; past this size it starts afresh, and past that falls back to the
# slower, still linear, NFA simulation.
_DFA_BYTES: Final = 64 * 1024
# Memory a compiled schema is taken to hold, for the cache's budget: per JSON value a little more than the
# 360 bytes measured on large schemas; a pattern at its worst, forward and reverse programs each up to the
# size limit, and their DFAs.
_VALUE_WEIGHT: Final = 512
_MESSAGE_CHARS: Final = 300

_canonical = msgspec.json.Encoder(order="deterministic")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")
_Kind = jsonschema_rs.ValidationErrorKind
_CONTAINERS: Final = (dict, list)


class SchemaInvalid(Exception):
    """The schema itself is unusable: `path` says where in it ("" for the root), `message` what is wrong."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing wrong with a value: where (`city`, `items[2].name`, "" for the root) and what."""

    path: str
    message: str

    def param(self, prefix: str) -> str:
        """The OpenAI `param` for this problem when the value sits at `prefix` (`arguments.city`)."""
        if not self.path:
            return prefix
        return f"{prefix}{self.path}" if self.path.startswith("[") or not prefix else f"{prefix}.{self.path}"


class Schema:
    """A compiled schema. `first_error` is safe on any value: it answers, in bounded time, or says why not."""

    __slots__ = ("_max_depth", "_validator")

    def __init__(self, validator: jsonschema_rs.Validator, max_depth: int) -> None:
        self._validator = validator
        self._max_depth = max_depth

    def first_error(self, instance: Any) -> Problem | None:
        """What is wrong with `instance` (JSON as Python values), or None when it is valid."""
        unfit = _unfit(instance, self._max_depth)
        if unfit is not None:
            return unfit
        try:
            if self._validator.is_valid(instance):
                return None
            error = next(iter(self._validator.iter_errors(instance)), None)
        except ValueError as exc:  # not JSON after all: a key that is not a string, bytes
            return Problem("", _sentence(f"The value cannot be validated: {getattr(exc, 'message', exc)}"))
        if error is None:
            return Problem("", "The value does not match the schema.")
        return _problem(_most_relevant(error))


class SchemaCompiler:
    """Compiles schemas within the configured limits, and keeps what it compiled (refusals too)."""

    def __init__(self, settings: SchemaSettings | None = None) -> None:
        self.settings = settings = settings or SchemaSettings()
        self._regex = jsonschema_rs.RegexOptions(size_limit=settings.max_pattern_bytes, dfa_size_limit=_DFA_BYTES)
        self._pattern_weight = 2 * (settings.max_pattern_bytes + _DFA_BYTES)
        self._cache = _Cache(settings.cache_bytes)

    def compile(self, schema: Mapping[str, Any]) -> Schema:
        """The compiled form of `schema`, from the cache when the same schema was compiled before.

        Raises `SchemaInvalid` when the schema cannot be used (a refusal is cached too: sending the same bad
        schema again costs a lookup, not a compile).
        """
        try:
            key = _canonical.encode(schema)
        except (TypeError, ValueError) as exc:
            raise SchemaInvalid("", _sentence(f"The schema is not JSON: {exc}")) from None
        compiled = self._cache.get(key)
        if compiled is None:
            compiled, weight = self._compile(msgspec.json.decode(key))
            self._cache.put(key, compiled, weight + len(key))
        if isinstance(compiled, _Refusal):
            raise SchemaInvalid(compiled.path, compiled.message)
        return compiled

    def check_tool_schemas(self, tools: Iterable[tuple[str, str, object]]) -> None:
        """Refuse a request with a function tool whose parameters schema is unusable, before anything is sent.

        `tools` holds, for each function tool, where its schema sits in the request (the `param`), the
        function's name and the schema (None or unset when the tool has none).
        """
        for param, name, schema in tools:
            if not isinstance(schema, dict):
                continue
            try:
                self.compile(schema)
            except SchemaInvalid as exc:
                where = f" at {exc.path}" if exc.path else ""
                raise InvalidRequest(
                    f"Invalid schema for function {name!r}{where}: {exc.message}",
                    param=param,
                    code="invalid_function_parameters",
                ) from None

    def _compile(self, schema: Any) -> tuple[Schema | _Refusal, int]:
        """Compile a decoded schema, with the weight its cache entry counts for."""
        settings = self.settings
        try:
            shape = _measure(schema, settings)
            try:
                validator = jsonschema_rs.validator_for(
                    schema, pattern_options=self._regex, validate_formats=False, offline=True
                )
            except jsonschema_rs.ValidationError as exc:
                raise _invalid(schema, exc, shape.references, settings) from None
            except ValueError as exc:  # the library's own recursion limit; `_measure` keeps schemas under it
                raise SchemaInvalid("", _sentence(str(exc))) from None
        except SchemaInvalid as exc:
            return _Refusal(exc.path, exc.message), 0
        weight = shape.values * _VALUE_WEIGHT + shape.patterns * self._pattern_weight
        return Schema(validator, settings.max_depth), weight


# ---------------------------------------------------------------------------------------------- compiling


@dataclass(frozen=True, slots=True)
class _Refusal:
    """A cached `SchemaInvalid` (raised anew each time, so tracebacks do not pile up on one exception)."""

    path: str
    message: str


_Reference = tuple[tuple[str | int, ...], str]  # where a `$ref` is, and what it says


@dataclass(slots=True)
class _Shape:
    values: int = 0
    patterns: int = 0
    references: list[_Reference] = field(default_factory=list)  # (path, `$ref`) in document order


def _measure(schema: Any, limits: SchemaSettings) -> _Shape:
    """Count a schema's values and regular expressions, find its references; `SchemaInvalid` past a limit.

    Containers are counted whole before their contents are looked at, so a huge one is refused at once.
    """
    shape = _Shape(values=1)
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(schema, ())]
    while stack:
        value, path = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        if len(path) >= limits.max_depth:
            raise SchemaInvalid(_path(path), f"The schema is nested deeper than {limits.max_depth} levels.")
        shape.values += len(value)
        if shape.values > limits.max_values:
            raise SchemaInvalid("", f"The schema has more than {limits.max_values} values.")
        if isinstance(value, list):
            stack.extend((value[index], (*path, index)) for index in reversed(range(len(value))))
            continue
        pattern, properties, ref = value.get("pattern"), value.get("patternProperties"), value.get("$ref")
        shape.patterns += isinstance(pattern, str) + (len(properties) if isinstance(properties, dict) else 0)
        if isinstance(ref, str):
            shape.references.append(((*path, "$ref"), ref))
        stack.extend((child, (*path, key)) for key, child in reversed(value.items()))
    if shape.patterns > limits.max_patterns:
        raise SchemaInvalid("", f"The schema has more than {limits.max_patterns} regular expressions.")
    return shape


def _invalid(
    schema: Any, error: jsonschema_rs.ValidationError, references: list[_Reference], limits: SchemaSettings
) -> SchemaInvalid:
    """The `SchemaInvalid` for a compile error: where in the schema, in the router's words where it can."""
    if isinstance(error.kind, _Kind.Referencing):
        return _unresolved(schema, error.kind.error.message, references)
    error = _most_relevant(error)
    path = _path(error.instance_path)
    if isinstance(error.kind, _Kind.Format) and error.kind.format == "regex":
        return SchemaInvalid(
            path,
            f"{error.instance!r} is not a regular expression the router can run: it must be valid ECMA 262 "
            "syntax without lookaround or backreferences, and compile to at most "
            f"{limits.max_pattern_bytes // 1024} KiB (a wide repetition such as `.{{1,5000}}` is better said with "
            "`maxLength`).",
        )
    return SchemaInvalid(path, _sentence(error.message))


def _unresolved(schema: Any, reason: str, references: list[_Reference]) -> SchemaInvalid:
    """Where the reference that failed is. The library says why but not where, so find the first one that
    cannot resolve offline: a JSON pointer into the schema that leads nowhere, or an address elsewhere."""
    if isinstance(schema, dict) and "$schema" in schema:
        try:
            jsonschema_rs.validator_for({"$schema": schema["$schema"]}, offline=True)
        except jsonschema_rs.ValidationError:
            return SchemaInvalid(
                "$schema",
                f"`$schema` names a meta-schema the router does not know ({schema['$schema']!r}): use JSON "
                "Schema draft-07 or 2020-12 (draft-04, draft-06 and 2019-09 work too), or leave it out.",
            )
    for path, ref in references:
        address, _, fragment = ref.partition("#")
        if address or not _pointer_exists(schema, fragment):
            return SchemaInvalid(_path(path), _sentence(f"{ref!r} does not resolve: {reason}"))
    return SchemaInvalid("", _sentence(f"A reference does not resolve: {reason}"))


def _pointer_exists(document: Any, fragment: str) -> bool:
    """Whether a `#/...` JSON pointer (RFC 6901) leads somewhere in `document`; anchors are taken as found."""
    if not fragment.startswith("/"):
        return True
    node = document
    for token in urllib.parse.unquote(fragment)[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


# ------------------------------------------------------------------------------------------------- errors


def _most_relevant(error: jsonschema_rs.ValidationError) -> jsonschema_rs.ValidationError:
    """For "not valid under any of anyOf/oneOf", the branch error that says most: the deepest in the value,
    and one that is not a plain type mismatch (the branch whose type matched is the one meant)."""
    while isinstance(error.kind, (_Kind.AnyOf, _Kind.OneOfNotValid)):
        candidates = [inner for branch in error.kind.context for inner in branch]
        if not candidates:
            break
        error = max(candidates, key=lambda e: (len(e.instance_path), not isinstance(e.kind, _Kind.Type)))
    return error


def _problem(error: jsonschema_rs.ValidationError) -> Problem:
    path: list[str | int] = list(error.instance_path)
    # As OpenAI and msgspec do, a missing or unexpected property is named in the path itself.
    if isinstance(error.kind, _Kind.Required):
        path.append(error.kind.property)
    elif isinstance(error.kind, (_Kind.AdditionalProperties, _Kind.UnevaluatedProperties)) and error.kind.unexpected:
        path.append(error.kind.unexpected[0])
    return Problem(_path(path), _sentence(error.message))


def _path(parts: Sequence[str | int]) -> str:
    """`items[2].name`: keys joined with dots, indexes in brackets, other keys as quoted JSON strings."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{_canonical.encode(part).decode()}]")
    return "".join(out)


def _sentence(text: str) -> str:
    """One line, not too long, ending in a stop. Messages quote the value, which may be a whole document,
    usually first and followed by what is wrong with it: so the middle goes."""
    text = " ".join(text.split())
    if len(text) > _MESSAGE_CHARS:
        head = _MESSAGE_CHARS // 3
        text = f"{text[:head]}…{text[head + 1 - _MESSAGE_CHARS :]}"
    return text if text.endswith(".") else f"{text}."


def _unfit(value: Any, max_depth: int) -> Problem | None:
    """What makes a value unfit for the validator, without recursing: nesting deeper than `max_depth`, or a
    number that is not finite (JSON's `1e400` decodes to infinity, which the validator would let through)."""
    if not isinstance(value, _CONTAINERS):
        return Problem("", f"{value!r} is not a finite number.") if _not_finite(value) else None
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        container, path = stack.pop()
        for key, child in container.items() if isinstance(container, dict) else enumerate(container):
            if isinstance(child, _CONTAINERS):
                if len(path) + 1 >= max_depth:
                    return Problem(_path((*path, key)), f"The value is nested deeper than {max_depth} levels.")
                stack.append((child, (*path, key)))
            elif _not_finite(child):
                return Problem(_path((*path, key)), f"{child!r} is not a finite number.")
    return None


def _not_finite(value: Any) -> bool:
    return isinstance(value, float) and (value - value) != 0.0  # inf - inf and nan - nan are nan


# -------------------------------------------------------------------------------------------------- cache


class _Cache:
    """Compiled schemas by canonical JSON, least recently used out first once their weight passes a budget."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._weight = 0
        self._entries: OrderedDict[bytes, tuple[Schema | _Refusal, int]] = OrderedDict()
        self._lock = threading.Lock()  # the registry may compile from worker threads

    def get(self, key: bytes) -> Schema | _Refusal | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: bytes, compiled: Schema | _Refusal, weight: int) -> None:
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (compiled, weight)
            self._weight += weight
            while self._weight > self._budget and len(self._entries) > 1:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._weight -= evicted
