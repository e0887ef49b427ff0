"""The Sail flavour's extra reads of one evaluation, and the operator's own rules over them.

Read only for a plan of the Sail flavour (`collect` calls :func:`read`): the four cluster-scoped
`sailoperator.io/v1` kinds (`Istio`, `IstioRevision`, `IstioRevisionTag`, `IstioCNI`, a handful
of objects each), the `istio-cni-node` DaemonSet of each `IstioCNI`, and the mutating webhook
configurations (a tag is only as real as the webhook the API server calls).

The pure half answers, from data read once, the questions the operator answers about itself, by
its own rules (sail-operator `pkg/revision/references.go`, `controllers/istiorevision`):

- a namespace names `default` when `istio-injection=enabled`, else its `istio.io/rev`;
- a pod not `Succeeded` names the revision of its `istio.io/rev` annotation (the injector wrote
  it), or, only in a namespace that names none, that of its `istio.io/rev` label (or `default`
  for `sidecar.istio.io/inject=true`), unless it opts out with `sidecar.istio.io/inject=false`;
- a revision is in use when a tag's `status.istioRevision`, a namespace or a pod names it, and
  the `default` revision always when it injects every namespace (`enableNamespacesByDefault`).

The checks compare the operator's `InUse` conditions with this, so a status that lags (or an
operator that stopped) is seen, and a cleanup gate can name the very pod that holds a revision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import ClusterUnreachable
from verifier.errors import NotFound
from verifier.helmview import HelmView
from verifier.resources import (
    DAEMONSETS,
    ISTIO_CNIS,
    ISTIO_REVISION_TAGS,
    ISTIO_REVISIONS,
    MUTATING_WEBHOOKS,
    SAIL_ISTIOS,
    SERVICES,
)

if TYPE_CHECKING:
    from verifier.snapshot import ClusterReader

__all__ = [
    "CNI_DAEMONSET",
    "DEFAULT_REVISION",
    "Condition",
    "SailView",
    "cni_namespace",
    "condition",
    "current",
    "has_condition",
    "istiod_name",
    "namespace_revision",
    "pod_revision",
    "read",
    "references",
]

Obj = Mapping[str, Any]
Key = tuple[str, str]

DEFAULT_REVISION = "default"
CNI_DAEMONSET = "istio-cni-node"  # the operator's fixed name (controllers/istiocni)
REV = "istio.io/rev"
INJECTION = "istio-injection"
INJECT = "sidecar.istio.io/inject"


@dataclass(frozen=True)
class Condition:
    """One `status.conditions[]` entry; a condition the object lacks is `Unknown`, as in Sail."""

    type: str
    status: str = "Unknown"
    reason: str = ""
    message: str = ""

    @property
    def true(self) -> bool:
        return self.status == "True"

    def __str__(self) -> str:
        why = f" {self.reason}" if self.reason else ""
        said = f" ({self.message})" if self.message else ""
        return f"{self.type}={self.status}{why}{said}"


@dataclass(frozen=True)
class SailView:
    """What the Sail checks read besides pods, Deployments and meshed namespaces."""

    istios: Mapping[str, Obj] = field(default_factory=dict)
    revisions: Mapping[str, Obj] = field(default_factory=dict)
    tags: Mapping[str, Obj] = field(default_factory=dict)
    cnis: Mapping[str, Obj] = field(default_factory=dict)
    # The istio-cni-node DaemonSet of each IstioCNI's namespace, by (namespace, name).
    daemonsets: Mapping[Key, Obj | None] = field(default_factory=dict)
    mutating: Sequence[Obj] = ()
    # The Services of the planned gateways' namespaces, by (namespace, name).
    services: Mapping[Key, Obj] = field(default_factory=dict)

    @property
    def gateway_view(self) -> HelmView:
        """The webhooks and gateway Services in the shape the shared gateway rules read."""
        return HelmView(
            mutating=self.mutating,
            services=self.services,
            services_read=frozenset(ns for ns, _ in self.services),
        )

    def tag_webhooks(self, tag: str) -> list[Obj]:
        """The MutatingWebhookConfigurations labelled `istio.io/tag=<tag>` (what the tag renders)."""
        return [c for c in self.mutating if _labels(c).get("istio.io/tag") == tag]

    def cni_daemonset(self, cni: Obj) -> Obj | None:
        return self.daemonsets.get((cni_namespace(cni), CNI_DAEMONSET))


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _labels(obj: Obj) -> Mapping[str, str]:
    return _meta(obj).get("labels") or {}


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", ""))


def istiod_name(revision: str) -> str:
    """The istiod Deployment and Service of a revision: `istiod` for `default`, else suffixed."""
    return "istiod" if revision == DEFAULT_REVISION else f"istiod-{revision}"


def cni_namespace(cni: Obj) -> str:
    """The namespace of the CNI DaemonSet (the CRD's default is `istio-cni`)."""
    return str((cni.get("spec") or {}).get("namespace") or "istio-cni")


def read(cluster: ClusterReader, gateway_namespaces: Iterable[str] = ()) -> SailView:
    """One read of the Sail objects, each IstioCNI's DaemonSet, the mutating webhooks and the
    Services of the planned gateways' namespaces.

    A Sail kind the API server does not serve is not "no objects": the operator's CRDs are
    missing, so nothing can be judged (could not verify, exit 3), and the message says so."""
    try:
        cnis = {_name(o): o for o in cluster.list(ISTIO_CNIS)}
        istios = cluster.list(SAIL_ISTIOS)
        revisions = cluster.list(ISTIO_REVISIONS)
        tags = cluster.list(ISTIO_REVISION_TAGS)
    except NotFound as err:
        raise ClusterUnreachable(
            f"{err}: the cluster serves no sailoperator.io/v1 kinds; install the Sail operator "
            "(its CRDs), or point --kubeconfig/--context at the cluster it runs in"
        ) from err
    services = {
        (ns, _name(svc)): svc
        for ns in sorted(set(gateway_namespaces))
        for svc in cluster.list(SERVICES, namespace=ns)
    }
    return SailView(
        istios={_name(o): o for o in istios},
        revisions={_name(o): o for o in revisions},
        tags={_name(o): o for o in tags},
        cnis=cnis,
        daemonsets={
            (ns, CNI_DAEMONSET): cluster.get_or_none(DAEMONSETS, ns, CNI_DAEMONSET)
            for ns in sorted({cni_namespace(c) for c in cnis.values()})
        },
        mutating=cluster.list(MUTATING_WEBHOOKS),
        services=services,
    )


# ----- the operator's rules, over data ------------------------------------------------------


def condition(obj: Obj | None, ctype: str) -> Condition:
    """The object's condition `ctype`; missing (or no object) reads as Unknown."""
    for c in ((obj or {}).get("status") or {}).get("conditions") or ():
        if isinstance(c, Mapping) and c.get("type") == ctype:
            return Condition(
                ctype,
                str(c.get("status") or "Unknown"),
                str(c.get("reason") or ""),
                str(c.get("message") or ""),
            )
    return Condition(ctype)


def has_condition(obj: Obj | None, ctype: str) -> bool:
    """Whether the operator wrote condition `ctype` at all (older releases lack some)."""
    conditions = ((obj or {}).get("status") or {}).get("conditions") or ()
    return any(isinstance(c, Mapping) and c.get("type") == ctype for c in conditions)


def current(obj: Obj) -> bool:
    """Whether the status was written for the object's current spec (observedGeneration)."""
    observed = (obj.get("status") or {}).get("observedGeneration")
    generation = _meta(obj).get("generation")
    return generation is None or observed == generation


def namespace_revision(labels: Mapping[str, str]) -> str:
    """The revision (or tag) a namespace names: `istio-injection=enabled` wins, as in Sail."""
    if labels.get(INJECTION) == "enabled":
        return DEFAULT_REVISION
    return str(labels.get(REV) or "")


def pod_revision(pod: Obj, namespace_labels: Mapping[str, str]) -> tuple[str, str]:
    """(the revision or tag a live pod names, and how), or ("", "") when it names none."""
    if ((pod.get("status") or {}).get("phase")) == "Succeeded":
        return "", ""
    injected = str((_meta(pod).get("annotations") or {}).get(REV) or "")
    if injected:
        return injected, f"its {REV} annotation (the injector's)"
    if namespace_revision(namespace_labels):
        return "", ""
    labels = _labels(pod)
    if labels.get(INJECT) == "false":
        return "", ""
    if labels.get(REV):
        return str(labels[REV]), f"its {REV} label"
    if labels.get(INJECT) == "true":
        return DEFAULT_REVISION, f"its {INJECT}=true label"
    return "", ""


def references(
    view: SailView, pods: Sequence[Obj], namespaces: Mapping[str, Obj]
) -> dict[str, list[str]]:
    """Everything that names each revision or tag, as the operator's `InUse` rule counts it.

    `namespaces` holds every namespace with an injection label (a namespace absent from it has
    none); the values are one line each, naming the object and why it counts."""
    out: dict[str, list[str]] = {}
    default = view.revisions.get(DEFAULT_REVISION)
    values = ((default or {}).get("spec") or {}).get("values") or {}
    if (values.get("sidecarInjectorWebhook") or {}).get("enableNamespacesByDefault") is True:
        # it injects every namespace that does not opt out, so it is always in use
        out[DEFAULT_REVISION] = [
            "IstioRevision default (values.sidecarInjectorWebhook.enableNamespacesByDefault)"
        ]
    for name, tag in sorted(view.tags.items()):
        rev = str((tag.get("status") or {}).get("istioRevision") or "")
        if rev:
            out.setdefault(rev, []).append(f"IstioRevisionTag {name}")
    for name, namespace in sorted(namespaces.items()):
        labels = _labels(namespace)
        rev = namespace_revision(labels)
        if rev:
            how = (
                "istio-injection=enabled" if labels.get(INJECTION) == "enabled" else f"{REV}={rev}"
            )
            out.setdefault(rev, []).append(f"namespace {name} ({how})")
    for pod in pods:
        meta = _meta(pod)
        where = str(meta.get("namespace", ""))
        rev, how = pod_revision(pod, _labels(namespaces[where]) if where in namespaces else {})
        if rev:
            out.setdefault(rev, []).append(f"pod {where}/{meta.get('name')} ({how})")
    return out
