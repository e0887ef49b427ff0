"""The Helm flavour's extra reads of one evaluation: webhook configurations and istiod Services.

Read only for a plan of the Helm flavour (`collect` calls :func:`read`): both webhook
configuration lists (cluster-scoped, a handful of objects), the Services of every namespace an
Istio webhook calls or a gateway lives in, and the gateway namespaces' live labels. Pure model
plus one read function over the narrow `ClusterReader` protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.helmplan import agent_daemonset
from verifier.admission import Hook, hooks, is_injector
from verifier.resources import (
    DAEMONSETS,
    MUTATING_WEBHOOKS,
    NAMESPACES,
    SERVICES,
    VALIDATING_WEBHOOKS,
)

if TYPE_CHECKING:
    from core.plan import Plan
    from verifier.snapshot import ClusterReader

__all__ = ["HelmView", "read"]

Obj = Mapping[str, Any]
Key = tuple[str, str]


@dataclass(frozen=True)
class HelmView:
    """What the Helm checks read besides pods, Deployments and meshed namespaces."""

    mutating: Sequence[Obj] = ()
    validating: Sequence[Obj] = ()
    # Every Service of the namespaces read (istiod's, the webhooks' and the gateways'), by key.
    services: Mapping[Key, Obj] = field(default_factory=dict)
    services_read: frozenset[str] = frozenset()  # namespaces whose Services were listed
    namespaces: Mapping[str, Obj | None] = field(default_factory=dict)  # gateway namespaces
    # The node agents' DaemonSets (cni, ztunnel releases the plan moves), by key; None: absent.
    daemonsets: Mapping[Key, Obj | None] = field(default_factory=dict)
    # Each Istio webhook's caBundle at the previous evaluation of this run (the gate fills it).
    earlier_bundles: Mapping[str, str] = field(default_factory=dict)
    # How often each one changed (set -> another value) in this run so far, this read included.
    bundle_changes: Mapping[str, int] = field(default_factory=dict)

    @property
    def mutating_hooks(self) -> list[Hook]:
        return hooks(self.mutating, "MutatingWebhookConfiguration")

    @property
    def validating_hooks(self) -> list[Hook]:
        return hooks(self.validating, "ValidatingWebhookConfiguration")

    @property
    def injectors(self) -> list[Hook]:
        return [h for h in self.mutating_hooks if is_injector(h)]

    def tag_configs(self) -> dict[str, list[Obj]]:
        """Mutating configurations labelled `istio.io/tag`, by tag."""
        out: dict[str, list[Obj]] = {}
        for cfg in self.mutating:
            tag = ((cfg.get("metadata") or {}).get("labels") or {}).get("istio.io/tag")
            if tag:
                out.setdefault(str(tag), []).append(cfg)
        return out

    def service(self, namespace: str, name: str) -> Obj | None:
        return self.services.get((namespace, name))


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def read(cluster: ClusterReader, plan: Plan) -> HelmView:
    """One read of the webhook configurations and the Services they and the gateways need."""
    mutating = cluster.list(MUTATING_WEBHOOKS)
    validating = cluster.list(VALIDATING_WEBHOOKS)
    wanted = {plan.source.namespace, plan.target.namespace}
    for h in hooks(mutating, "m") + hooks(validating, "v"):
        if h.service_namespace and (h.service.startswith("istiod") or is_injector(h)):
            wanted.add(h.service_namespace)
    gateways = plan.helm.gateways if plan.helm is not None else ()
    wanted.update(g.namespace for g in gateways)
    services: dict[Key, Obj] = {}
    for ns in sorted(n for n in wanted if n):
        for svc in cluster.list(SERVICES, namespace=ns):
            services[(ns, _name(svc))] = svc
    namespaces = {g.namespace: cluster.get_or_none(NAMESPACES, "", g.namespace) for g in gateways}
    agents = plan.helm.node_agents if plan.helm is not None else ()
    daemonsets = {
        (r.namespace, agent_daemonset(r)): cluster.get_or_none(
            DAEMONSETS, r.namespace, agent_daemonset(r)
        )
        for r in agents
    }
    return HelmView(
        mutating, validating, services, frozenset(n for n in wanted if n), namespaces, daemonsets
    )
