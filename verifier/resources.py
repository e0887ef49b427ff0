"""Requests to the API server as data: which kind of object, where, and which ones.

A :class:`Resource` names a kind the way the API server addresses it (group, version, plural);
a :class:`Read` adds the namespace, name and selectors of one request and knows its URL path.
:class:`verifier.cluster.Cluster` sends every read the same way, so any kind (a StatefulSet, a
webhook configuration, a custom resource) is read correctly without per-kind client methods.
Pure: no I/O, no third-party types.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

__all__ = [
    "APPLICATIONS",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "ENDPOINTS",
    "HELMRELEASES",
    "ISTIOS",
    "ISTIO_CNIS",
    "ISTIO_GATEWAYS",
    "ISTIO_NETWORKING_VERSIONS",
    "ISTIO_REVISIONS",
    "ISTIO_REVISION_TAGS",
    "KUSTOMIZATIONS",
    "MESHGATEWAYS",
    "MUTATING_WEBHOOKS",
    "NAMESPACES",
    "PODS",
    "SAIL_ISTIOS",
    "SERVICES",
    "STATEFULSETS",
    "VALIDATING_WEBHOOKS",
    "VIRTUALSERVICES",
    "Read",
    "Resource",
]


@dataclass(frozen=True)
class Resource:
    """A kind of object, addressed the way the API server addresses it ("" is the core group)."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def label(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def api_path(self) -> str:
        """`/api/v1` for the core group, `/apis/<group>/<version>` for every other."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


PODS = Resource("", "v1", "pods")
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False)
SERVICES = Resource("", "v1", "services")
ENDPOINTS = Resource("", "v1", "endpoints")
DEPLOYMENTS = Resource("apps", "v1", "deployments")
STATEFULSETS = Resource("apps", "v1", "statefulsets")
DAEMONSETS = Resource("apps", "v1", "daemonsets")
MUTATING_WEBHOOKS = Resource(
    "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", namespaced=False
)
VALIDATING_WEBHOOKS = Resource(
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", namespaced=False
)
ISTIOS = Resource("istio.banzaicloud.io", "v1beta1", "istios")
MESHGATEWAYS = Resource("istio.banzaicloud.io", "v1beta1", "meshgateways")
# Istio's networking config. Istio 1.6/1.7 serve v1alpha3 and v1beta1, 1.22+ also v1: a read tries
# them newest first (`ISTIO_NETWORKING_VERSIONS`); RBAC is per group and resource, not version.
VIRTUALSERVICES = Resource("networking.istio.io", "v1", "virtualservices")
ISTIO_GATEWAYS = Resource("networking.istio.io", "v1", "gateways")
ISTIO_NETWORKING_VERSIONS = ("v1", "v1beta1", "v1alpha3")
APPLICATIONS = Resource("argoproj.io", "v1alpha1", "applications")
KUSTOMIZATIONS = Resource("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
HELMRELEASES = Resource("helm.toolkit.fluxcd.io", "v2", "helmreleases")
# The Sail operator's kinds (sailoperator.io/v1), all cluster-scoped. Its `Istio` shares the kind
# name with Banzai's, so it is always addressed by its group.
SAIL_ISTIOS = Resource("sailoperator.io", "v1", "istios", namespaced=False)
ISTIO_REVISIONS = Resource("sailoperator.io", "v1", "istiorevisions", namespaced=False)
ISTIO_REVISION_TAGS = Resource("sailoperator.io", "v1", "istiorevisiontags", namespaced=False)
ISTIO_CNIS = Resource("sailoperator.io", "v1", "istiocnis", namespaced=False)


@dataclass(frozen=True)
class Read:
    """One GET: a list (no `name`) across all namespaces or one, or a single object."""

    resource: Resource
    namespace: str | None = None
    name: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None

    @property
    def path(self) -> str:
        """The URL path; a cluster-scoped kind ignores the namespace, as kubectl does."""
        parts = [self.resource.api_path]
        if self.namespace and self.resource.namespaced:
            parts.append(f"namespaces/{_segment(self.namespace)}")
        parts.append(self.resource.plural)
        if self.name is not None:
            parts.append(_segment(self.name))
        return "/".join(parts)

    def query(self, limit: int | None = None, token: str | None = None) -> list[tuple[str, str]]:
        """Query parameters: the selectors, and for a list its page size and continue token."""
        params: list[tuple[str, str]] = []
        if self.label_selector:
            params.append(("labelSelector", self.label_selector))
        if self.field_selector:
            params.append(("fieldSelector", self.field_selector))
        if limit:
            params.append(("limit", str(limit)))
        if token:
            params.append(("continue", token))
        return params

    @property
    def description(self) -> str:
        """`list pods in demo-a` or `get services istio-system/gw`, for error messages."""
        if self.name is None:
            where = f" in {self.namespace}" if self.namespace else ""
            return f"list {self.resource.label}{where}"
        prefix = f"{self.namespace}/" if self.namespace else ""
        return f"get {self.resource.label} {prefix}{self.name}"


def _segment(value: str) -> str:
    """One path segment, escaped so a name cannot add a segment of its own."""
    return quote(value, safe="")
