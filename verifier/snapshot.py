"""One evaluation's view of the cluster, read once and handed to the pure checks.

`collect` is the thin I/O shell: one paged list of every pod in the cluster, the Istio and
MeshGateway CRs, and `get`s of the few named objects the plan points at. The big lists (pods, and
the meshed namespaces, which on a mesh labelled by revision tag is every namespace) are read in
pages of 1,000, twice kubectl's default: an evaluation then makes fewer list requests than
`kubectl get pods -A` alone (`bench/helm_verifier_bench.py`: 31 against 41 at 20,000 pods). It depends only on the
narrow :class:`ClusterReader` protocol, which :class:`verifier.cluster.Cluster` implements and unit
tests fake by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from verifier.expectation import Expectation
from verifier.helmview import HelmView
from verifier.helmview import read as read_helm
from verifier.sailview import SailView
from verifier.sailview import read as read_sail

if TYPE_CHECKING:  # the connectivity check judges these; it imports this module at run time
    from verifier.checks.connectivity import ProbeResult
from verifier import routes
from verifier.errors import NotFound
from verifier.resources import (
    APPLICATIONS,
    DEPLOYMENTS,
    ENDPOINTS,
    HELMRELEASES,
    ISTIO_GATEWAYS,
    ISTIO_NETWORKING_VERSIONS,
    ISTIOS,
    KUSTOMIZATIONS,
    MESHGATEWAYS,
    NAMESPACES,
    PODS,
    SERVICES,
    VIRTUALSERVICES,
    Resource,
)

__all__ = ["ClusterReader", "GitOpsRef", "Snapshot", "collect", "with_routes"]

Obj = Mapping[str, Any]
Key = tuple[str, str]
# Page size of the lists that grow with the cluster (see the module docstring).
BIG_PAGE = 1000


class ClusterReader(Protocol):
    """What reading a snapshot needs from a cluster."""

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        label_selector: str | None = None,
        chunk: int = 500,
    ) -> Sequence[Obj]: ...

    def get_or_none(self, resource: Resource, namespace: str, name: str) -> Obj | None: ...


@dataclass(frozen=True)
class GitOpsRef:
    """An Argo CD Application, Flux Kustomization or Flux HelmRelease to read."""

    kind: str
    namespace: str
    name: str

    @property
    def resource(self) -> Resource:
        if self.kind == "Application":
            return APPLICATIONS
        return HELMRELEASES if self.kind == "HelmRelease" else KUSTOMIZATIONS


@dataclass(frozen=True)
class Snapshot:
    """Raw objects of one evaluation; `None` values mean "asked, and it does not exist".

    `gitops` and `probes` are filled in by the gate, which alone knows which GitOps objects to
    read and when the data plane is ready for connectivity probes."""

    pods: Sequence[Obj]
    istios: Mapping[Key, Obj]
    meshgateways: Mapping[Key, Obj]
    deployments: Mapping[Key, Obj | None]
    services: Mapping[Key, Obj | None]
    old_namespaces: Sequence[Obj] = ()
    legacy_injection: frozenset[str] | None = None  # namespaces labelled istio-injection=enabled
    # Every namespace carrying an injection label (istio-injection or istio.io/rev), by name.
    meshed_namespaces: Mapping[str, Obj] = field(default_factory=dict)
    # Every Deployment, by (namespace, name): rollouts of the plan's workloads (paused or not).
    workloads: Mapping[Key, Obj] = field(default_factory=dict)
    # The Endpoints of each connectivity target Service, by (namespace, name).
    endpoints: Mapping[Key, Obj | None] = field(default_factory=dict)
    gitops: Mapping[GitOpsRef, Obj | None] = field(default_factory=dict)
    probes: Sequence[ProbeResult] | None = None  # None: not probed (the data plane is not ready)
    helm: HelmView | None = None  # the Helm flavour's webhooks and Services (None for Banzai)
    sail: SailView | None = None  # the Sail flavour's objects (None for the other flavours)
    # Istio Gateways and VirtualServices, read once the gateways moved (None: not read).
    istio_gateways: Sequence[Obj] | None = None
    virtualservices: Sequence[Obj] | None = None
    route_probes: Sequence[ProbeResult] | None = None  # through the gateways; None: not probed
    route_error: str = ""  # the routes could not be read (the cluster did not answer)
    _by_ns: dict[str, list[Obj]] = field(default_factory=dict, compare=False, repr=False)

    def pods_in(self, namespace: str) -> list[Obj]:
        if not self._by_ns and self.pods:
            index: dict[str, list[Obj]] = defaultdict(list)
            for p in self.pods:
                index[(p.get("metadata") or {}).get("namespace", "")].append(p)
            self._by_ns.update(index)
        return self._by_ns.get(namespace, [])


def collect(
    cluster: ClusterReader, expect: Expectation, gitops: Sequence[GitOpsRef] = ()
) -> Snapshot:
    """Read everything the checks for `expect` need (no connectivity probes: those exec)."""
    plan = expect.plan
    pods = cluster.list(PODS, chunk=BIG_PAGE)
    # A Helm or Sail cluster need not serve the Banzai CRDs at all.
    banzai = plan.flavour == "banzai"
    istios = {_key(o): o for o in cluster.list(ISTIOS)} if banzai else {}
    mgws = {_key(o): o for o in cluster.list(MESHGATEWAYS)} if banzai else {}
    deployments = {
        (cp.namespace, cp.istiod): cluster.get_or_none(DEPLOYMENTS, cp.namespace, cp.istiod)
        for cp in (plan.source, plan.target)
    }
    services = {
        (g.namespace, g.name): cluster.get_or_none(SERVICES, g.namespace, g.name)
        for g, _ in expect.gateways
    }
    old: list[Obj] = []
    legacy: frozenset[str] | None = None
    moved = any(cp is plan.target for cp in expect.namespaces.values())
    if plan.source.global_ and (moved or expect.cleanup_safety):
        # The old global CP injects wherever istio-injection=enabled is, and it wins over
        # istio.io/rev. Before cleanup only namespaces carrying both labels are in conflict (one
        # small filtered list, whatever the cluster's size); for cleanup none may carry it.
        selector = "istio-injection=enabled" + ("" if expect.cleanup_safety else ",istio.io/rev")
        labelled = cluster.list(NAMESPACES, label_selector=selector)
        legacy = frozenset(str((n.get("metadata") or {}).get("name")) for n in labelled)
        if expect.cleanup_safety:
            old.extend(labelled)
    if expect.cleanup_safety:
        old.extend(cluster.list(NAMESPACES, label_selector=f"istio.io/rev={plan.source.revision}"))
    found = {ref: cluster.get_or_none(ref.resource, ref.namespace, ref.name) for ref in gitops}
    # Two small filtered lists, whatever the cluster's size: every namespace some control plane
    # could inject, planned or not (a meshed namespace added after `init` must be named).
    meshed = {
        str((n.get("metadata") or {}).get("name")): n
        for selector in ("istio-injection", "istio.io/rev")
        for n in cluster.list(NAMESPACES, label_selector=selector, chunk=BIG_PAGE)
    }
    workloads = {_key(o): o for o in cluster.list(DEPLOYMENTS)}
    endpoints = {
        (c.target_namespace, c.target_service): cluster.get_or_none(
            ENDPOINTS, c.target_namespace, c.target_service
        )
        for c in expect.probes
    }
    return Snapshot(
        pods,
        istios,
        mgws,
        deployments,
        services,
        old,
        legacy,
        gitops=found,
        meshed_namespaces=meshed,
        workloads=workloads,
        endpoints=endpoints,
        helm=read_helm(cluster, plan) if plan.flavour == "helm" else None,
        sail=read_sail(
            cluster,
            [
                *(g.namespace for g in plan.sail.gateways),
                *(r.namespace for r in plan.sail.gateway_releases),
            ],
        )
        if plan.sail is not None
        else None,
    )


def with_routes(cluster: ClusterReader, snap: Snapshot) -> Snapshot:
    """The snapshot plus the Istio Gateways and VirtualServices and the Endpoints of every
    Service they route to: read by the gate only when it probes through the gateways, so an
    evaluation that does not probe makes no more requests."""
    istio_gateways = _list_networking(cluster, ISTIO_GATEWAYS)
    virtualservices = _list_networking(cluster, VIRTUALSERVICES)
    endpoints = dict(snap.endpoints)
    for key in sorted(routes.destinations(virtualservices)):
        if key not in endpoints:
            endpoints[key] = cluster.get_or_none(ENDPOINTS, *key)
    return replace(
        snap, istio_gateways=istio_gateways, virtualservices=virtualservices, endpoints=endpoints
    )


def _list_networking(cluster: ClusterReader, resource: Resource) -> Sequence[Obj]:
    """The whole list at the newest version Istio serves; no version served at all means Istio's
    networking API is not installed, so there is none (a fact, not a failure to look)."""
    for version in ISTIO_NETWORKING_VERSIONS:
        try:
            return cluster.list(Resource(resource.group, version, resource.plural))
        except NotFound:
            continue
    return []


def _key(obj: Obj) -> Key:
    m = obj.get("metadata") or {}
    return (str(m.get("namespace", "")), str(m.get("name", "")))
