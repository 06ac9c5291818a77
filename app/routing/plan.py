"""From a model name to an ordered list of targets: aliases, fallback lists, free models, strategies.

A client names a routable id (`openrouter/<model>`), an alias from `[models.<alias>]`, or the built-in free
alias; it may add its own fallback list as `models: [...]`. The planner turns that into the targets to try,
drops those that cannot serve the request (no tool support, no JSON schema, no images, context too short),
and orders the rest by the alias's strategy and what the health board knows.

Nothing here knows a provider's policy. Which models the free alias stands for, and which of them share a
quota, is the provider's to say (`Provider.expand_alias`); the planner only filters, shuffles and caps them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from providers.base import Capabilities
from providers.errors import InvalidRequest, ModelNotFound, ProviderNotConfigured, UpstreamError, UpstreamUnavailable
from providers.schema import ImagePart, JsonSchemaFormat, UserMessage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.catalog import ModelCatalog
    from app.routing.health import TargetStatus
    from app.settings import AliasSettings, Settings, Strategy, TargetSettings, ToolCallGuard
    from providers.base import Provider
    from providers.errors import RouterError
    from providers.request import ChatRequest

__all__ = ["Needs", "Planner", "Policy", "RoutePlan", "RouteTarget", "order_targets"]


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """One provider and one of its models, with the alias's settings for it."""

    provider: Provider
    model: str
    settings: TargetSettings | None = None
    group: str | None = None  # targets that share one rate limit (OpenRouter's free models)
    # A target from an alias is checked against what the request needs; one the client named itself is
    # tried whatever its listed capabilities say.
    checked: bool = False

    @property
    def name(self) -> str:
        """The routable id, `<provider>/<model>`."""
        return f"{self.provider.name}/{self.model}"

    @property
    def weight(self) -> float:
        return self.settings.weight if self.settings else 1.0

    @property
    def max_concurrent(self) -> int | None:
        return self.settings.max_concurrent if self.settings else None

    @property
    def timeout(self) -> float | None:
        return self.settings.timeout if self.settings else None


@dataclass(frozen=True, slots=True)
class Policy:
    strategy: Strategy
    max_attempts: int
    timeout: float
    tool_call_guard: ToolCallGuard


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """What to try for one request, before strategy and health put it in order."""

    name: str  # what the client asked for, for messages
    targets: list[RouteTarget]
    policy: Policy
    request: ChatRequest  # what the targets are sent (without a `models` list the router follows itself)


@dataclass(frozen=True, slots=True)
class Needs:
    """What a request asks of a model."""

    tools: bool
    json_schema: bool
    vision: bool
    prompt_tokens: int  # a generous estimate, for context-length checks

    @classmethod
    def of(cls, request: ChatRequest) -> Needs:
        params = request.params
        messages = request.fields.get("messages")
        return cls(
            tools=bool(params.tools),
            json_schema=isinstance(params.response_format, JsonSchemaFormat),
            vision=any(
                isinstance(message, UserMessage)
                and isinstance(message.content, list)
                and any(isinstance(part, ImagePart) for part in message.content)
                for message in params.messages
            ),
            # About four bytes of JSON per token; an estimate errs towards "too long" only for images.
            prompt_tokens=len(messages) // 4 if messages is not None else 0,  # the raw JSON's length, not a copy
        )

    def describe(self) -> str:
        """What the request needs, in words, for messages."""
        needs = ["tools"] * self.tools + ["response_format json_schema"] * self.json_schema
        needs += ["image inputs"] * self.vision
        return ", ".join(needs) + (" and " if needs else "") + f"a prompt of about {self.prompt_tokens} tokens"

    def unmet_by(self, capabilities: Capabilities, context_length: int | None) -> str | None:
        """Why a model with these capabilities cannot serve the request, or None when it can."""
        if self.tools and not capabilities.tools:
            return "tools"
        if self.json_schema and not capabilities.json_schema:
            return "response_format json_schema"
        if self.vision and not capabilities.vision:
            return "image inputs"
        if context_length is not None and self.prompt_tokens > context_length:
            return f"a prompt of about {self.prompt_tokens} tokens (context {context_length})"
        return None


class Planner:
    """Builds a `RoutePlan` for each request."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        catalog: ModelCatalog,
        settings: Settings,
        rng: random.Random | None = None,
    ) -> None:
        self.providers = providers
        self.catalog = catalog
        self.settings = settings
        self.rng = rng or random.Random()
        routing = settings.routing
        self.default_policy = Policy("priority", routing.max_attempts, routing.timeout, "off")
        # An alias's targets and policy, made at its first request: the settings do not change while serving.
        self._aliased: dict[str, tuple[list[RouteTarget], Policy]] = {}

    def aliases(self) -> list[str]:
        """The aliases a client can use now (the free alias only when something can serve it)."""
        names = list(self.settings.models)
        free = self.settings.free
        provider = self.providers.get(free.provider)
        if free.enabled and ((provider is not None and provider.configured) or free.fallback):
            names.append(free.alias)
        return names

    async def plan(self, request: ChatRequest) -> RoutePlan:
        """The targets for a request, in the order its names give them.

        A request's own `models` list is followed by the router when every entry is a name the router can
        route, and is then not sent upstream. Otherwise it is not the router's: like any field the router
        does not know, it goes upstream untouched, where OpenRouter reads it as its own fallback list.
        """
        fallbacks = request.fallback_models()
        follows_models = bool(fallbacks) and all(self._routable(name) for name in fallbacks)
        names = [request.params.model, *(fallbacks if follows_models else ())]
        targets: list[RouteTarget] = []
        policy: Policy | None = None
        free_failed: RouterError | None = None  # why the free alias gave no targets
        for position, name in enumerate(names):
            param = "model" if position == 0 else f"models[{position - 1}]"
            aliased = self._aliased.get(name) or self._alias(name, param)
            if aliased is not None:
                policy = policy or aliased[1]
                targets += aliased[0]
            elif self.settings.free.enabled and name == self.settings.free.alias:
                policy = policy or replace(self.default_policy, tool_call_guard=self.settings.free.tool_call_guard)
                try:
                    targets += await self._free_targets(request)
                except (InvalidRequest, ProviderNotConfigured, UpstreamError) as exc:
                    free_failed = exc  # the other names in the request's list may still serve it
            else:
                targets.append(self.target(name, param))
        if free_failed is not None and not targets:
            raise free_failed
        return RoutePlan(
            name=request.params.model,
            targets=_unique(targets),
            policy=policy or self.default_policy,
            # A fallback list the router follows is not the upstream's to follow again.
            request=request.without("models") if follows_models else request,
        )

    def _alias(self, name: str, param: str) -> tuple[list[RouteTarget], Policy] | None:
        alias = self.settings.models.get(name)
        if alias is None:
            return None
        targets = [replace(self.target(settings.model, param, settings), checked=True) for settings in alias.targets]
        self._aliased[name] = aliased = (targets, self._policy(alias))
        return aliased

    def _routable(self, name: str) -> bool:
        prefix, _, model = name.partition("/")
        return name in self.aliases() or (bool(model) and prefix in self.providers)

    def target(self, name: str, param: str = "model", settings: TargetSettings | None = None) -> RouteTarget:
        """The target a routable id names, or `ModelNotFound`."""
        prefix, _, model = name.partition("/")
        provider = self.providers.get(prefix) if model else None
        if provider is None:
            known = ", ".join(f"'{provider}/<model id>'" for provider in sorted(self.providers))
            aliases = ", ".join(f"'{alias}'" for alias in self.aliases())
            raise ModelNotFound(
                f"The model '{name}' does not exist. Name a model as {known}"
                + (f", or an alias: {aliases}." if aliases else "."),
                param=param,
            )
        return RouteTarget(provider, model, settings)

    async def capable(self, plan: RoutePlan) -> list[RouteTarget]:
        """The plan's targets that can serve its request; a clear 400 when none of them can."""
        needs = Needs.of(plan.request)
        capable: list[RouteTarget] = []
        reasons: list[str] = []
        for target in plan.targets:
            if not target.checked:
                capable.append(target)
                continue
            capabilities, context_length = await self._capabilities(target)
            unmet = needs.unmet_by(capabilities, context_length)
            if unmet is None:
                capable.append(target)
            else:
                reasons.append(f"{target.name} does not support {unmet}")
        if not capable:
            raise InvalidRequest(
                f"No target of '{plan.name}' can serve this request: {'; '.join(reasons) or 'no model matched'}.",
                param="model",
                code="no_capable_target",
            )
        return capable

    def _policy(self, alias: AliasSettings) -> Policy:
        return Policy(
            strategy=alias.strategy,
            max_attempts=alias.max_attempts or self.default_policy.max_attempts,
            timeout=alias.timeout or self.default_policy.timeout,
            tool_call_guard=alias.tool_call_guard,
        )

    async def _capabilities(self, target: RouteTarget) -> tuple[Capabilities, int | None]:
        info = await self.catalog.info(target.provider, target.model)
        listed = info.capabilities if info and info.capabilities else target.provider.capabilities
        overrides = target.settings.capabilities if target.settings else None
        if overrides is not None:
            listed = Capabilities(
                tools=_pick(overrides.tools, listed.tools),
                streaming=listed.streaming,
                json_schema=_pick(overrides.json_schema, listed.json_schema),
                vision=_pick(overrides.vision, listed.vision),
            )
        return listed, info.context_length if info else None

    async def _free_targets(self, request: ChatRequest) -> list[RouteTarget]:
        free = self.settings.free
        provider = self.providers.get(free.provider)
        fallback = [replace(self.target(name, "model"), checked=True) for name in free.fallback]
        if provider is None or not provider.configured:
            if fallback:
                return fallback
            env = provider.api_key_env if provider else None
            raise ProviderNotConfigured(
                f"The '{free.alias}' alias routes to {free.provider}'s free models"
                + (f": set {env} where the router runs." if env else ", which is not installed."),
                param="model",
            )
        try:
            listed = await self.catalog.infos(provider)
        except UpstreamError as exc:
            if fallback:  # the catalog has logged why
                return fallback
            raise UpstreamUnavailable(
                f"The '{free.alias}' alias could not find {provider.name}'s free models. {exc.message}",
                provider=provider.name,
                code=exc.code,
                retry_after=exc.retry_after,
            ) from None
        expanded = provider.expand_alias("free", listed)
        free_models = expanded.models if expanded is not None else []
        if not free_models and not fallback:
            raise UpstreamUnavailable(
                f"The '{free.alias}' alias found no free models in {provider.name}'s model list.",
                provider=provider.name,
                code="no_free_models",
            )
        needs = Needs.of(request)
        models = [
            info
            for info in free_models
            if needs.unmet_by(info.capabilities or Capabilities(), info.context_length) is None
        ]
        # Spread load: each request sees the free models in a new order.
        self.rng.shuffle(models)
        group = expanded.quota_group if expanded is not None else None
        targets = [RouteTarget(provider, info.id, group=group, checked=True) for info in models[: free.max_models]]
        if not targets and not fallback:
            raise InvalidRequest(
                f"No target of '{free.alias}' can serve this request: none of the {len(free_models)} free models "
                f"of {provider.name} takes a request with {needs.describe()}.",
                param="model",
                code="no_capable_target",
            )
        return targets + fallback


def order_targets(
    targets: list[RouteTarget], statuses: list[TargetStatus], strategy: Strategy, rng: random.Random
) -> list[RouteTarget]:
    """Put targets in the order to try them: by strategy, with those unavailable now moved last."""
    status = {target.name: state for target, state in zip(targets, statuses, strict=True)}
    if strategy == "weighted":
        # Weighted random order without replacement (Efraimidis and Spirakis).
        keys = {target.name: rng.random() ** (1 / target.weight) for target in targets}
        ordered = sorted(targets, key=lambda target: keys[target.name], reverse=True)
    elif strategy == "latency":
        # Targets with no latency yet go first, so every target gets measured.
        ordered = sorted(targets, key=lambda target: status[target.name].latency or 0.0)
    elif strategy == "least-busy":
        ordered = sorted(targets, key=lambda target: status[target.name].in_flight)
    else:
        ordered = list(targets)
    return sorted(ordered, key=lambda target: _unavailable(target, status[target.name]))


def _unavailable(target: RouteTarget, status: TargetStatus) -> bool:
    busy = target.max_concurrent is not None and status.in_flight >= target.max_concurrent
    return busy or status.available_in > 0


def _pick(override: bool | None, listed: bool) -> bool:
    return listed if override is None else override


def _unique(targets: list[RouteTarget]) -> list[RouteTarget]:
    """Each target once, in first-seen order (a fallback list may repeat an alias's target)."""
    unique: dict[str, RouteTarget] = {}
    for target in targets:
        unique.setdefault(target.name, target)
    return list(unique.values())
