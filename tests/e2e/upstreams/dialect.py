"""What a scripted dialect is: how one provider's wire format reads a request and renders an answer.

A dialect renders; it decides nothing. Which scenario plays, whether it fails and where its stream breaks
belong to `scenarios`; serving, recording and counting attempts belong to the `Upstream`. The base knows no
path, body shape or event name, so a provider with another wire format (Anthropic's `/v1/messages`, content
blocks, named SSE events) is one more subclass: it reads its request shape into `Asked`, and renders an
`Answer`, a `StreamPlan` and a `Failure` in its own shape.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from tests.e2e.upstreams.scenarios import Answer, Asked, Failure, StreamPlan

__all__ = ["Dialect"]


class Dialect(ABC):
    """One provider, as the scripted upstream plays it and as the conformance suite expects the router to treat it."""

    name: ClassVar[str]  # the router's provider name: the suite's models are `<name>/<scenario>`
    prefix: ClassVar[str]  # the path the upstream serves this dialect under: its base URL
    chat_path: ClassVar[str]  # the chat endpoint, below `prefix`
    models_path: ClassVar[str]  # the model list, below `prefix`
    env_prefix: ClassVar[str]  # the router's settings for this provider: `<env_prefix>_API_KEY`, ...
    key: ClassVar[str]  # the provider key the router is given: distinct, so tests can assert it never leaks

    # What the router makes of this dialect, as a client sees it: the conformance suite's expectations.
    client_usage: ClassVar[dict[str, Any]]  # the usage of every scripted answer, in OpenAI's shape
    # Where the provider reports a failure with HTTP 200 (`error-in-200`): in a plain answer, mid-stream,
    # both or neither. Elsewhere that scenario answers normally.
    in_band_failures: ClassVar[frozenset[Literal["answer", "stream"]]]

    @property
    def key_env(self) -> str:
        """The variable the router names when this provider rejects its key."""
        return f"{self.env_prefix}_API_KEY"

    def router_env(self, base_url: str) -> dict[str, str]:
        """The environment that points the router at this dialect on the scripted upstream."""
        return {
            f"{self.env_prefix}_API_KEY": self.key,
            f"{self.env_prefix}_BASE_URL": base_url,
            # The `slow` scenario takes 5 s; a 2 s budget turns it into a timeout.
            f"{self.env_prefix}_TIMEOUT": "2",
        }

    def router_config(self, base_url: str) -> str:
        """TOML for the router's configuration file, for providers that exist only there (none by default)."""
        return ""

    # ------------------------------------------------------------------------------------------- reading

    @abstractmethod
    def read(self, body: dict[str, Any], headers: Mapping[str, str]) -> Asked:
        """What a chat request to `chat_path` asks for."""

    # ----------------------------------------------------------------------------------------- rendering

    @abstractmethod
    def response_id(self) -> str:
        """A new response id, in this provider's format."""

    @abstractmethod
    def call_id(self, n: int) -> str:
        """A new id for the answer's `n`th tool call, in this provider's format."""

    @abstractmethod
    def completion(self, answer: Answer) -> bytes:
        """The body of a successful plain (non-streamed) answer."""

    @abstractmethod
    def stream(self, answer: Answer, plan: StreamPlan) -> Iterator[str]:
        """The SSE frames of a streamed answer: `plan.events`, then the ending `plan.end` names."""

    @abstractmethod
    def error(self, failure: Failure) -> dict[str, Any]:
        """This provider's error envelope."""

    @abstractmethod
    def models(self) -> dict[str, Any]:
        """The body of `models_path`."""
