"""What the repo says about a mesh run by the Sail operator (pure, over a RepoIndex).

Finds the one `Istio` (sailoperator.io/v1) to upgrade and the revision it runs today (the
operator's naming, :func:`core.sailplan.revision_name`), the operator's release, the
`IstioRevisionTag`s that point at that Istio or its running revision, the `IstioCNI`, the
namespaces those revisions and tags inject (with their workloads and Services), and the gateway
Deployments (Sail deploys no gateways of its own). Refuses, in one line naming the object and
what to change, what it cannot upgrade as a canary.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from core.errors import InputError
from core.plan import GitOpsEngine, GitOpsObject, Plan
from core.sailplan import STRATEGIES, TargetKind, revision_name
from generator.discovery import WORKLOAD_KINDS, gitops_objects
from generator.flavours.base import Latecomer
from generator.flavours.helm.charts import ChartDoc, chart_docs
from generator.flavours.helm.discovery import gateway_deployments
from generator.flavours.helm.namespacelabels import LabelHolder, label_holders
from generator.flavours.sail.objects import ALIAS, RELEASE, OperatorDoc, operator_docs, sail_docs
from generator.index import Document, RepoIndex

__all__ = [
    "INJECTION",
    "REV",
    "SailFound",
    "SailGatewayFound",
    "SailNamespace",
    "discover",
    "latecomers",
]

INJECTION = "istio-injection"
REV = "istio.io/rev"
DEFAULT = "default"
AMBIENT = "istio.io/dataplane-mode"


@dataclass
class SailNamespace:
    """A namespace the running revision injects: how it is selected, and what runs there."""

    name: str
    doc: Document
    meshed_by: tuple[str, ...]
    rev_label: str
    workloads: list[Document] = field(default_factory=list)
    services: list[Document] = field(default_factory=list)


@dataclass(frozen=True)
class SailGatewayFound:
    """A gateway Deployment on the running revision; `rev_label` is its pod label ("" if none)."""

    name: str
    namespace: str
    doc: Document
    rev_label: str


@dataclass(frozen=True)
class TagFound:
    """An IstioRevisionTag of the running control plane."""

    doc: Document
    target_kind: TargetKind
    target_name: str


@dataclass
class SailFound:
    """Everything the Sail flavour's init needs from the repo."""

    istio: Document
    version: str  # the running Istio version, without the `v`
    namespace: str
    strategy: str
    grace: int | None
    operator: OperatorDoc
    tags: list[TagFound]
    cni: Document | None
    cni_version: str
    gateways: list[SailGatewayFound]
    gateway_releases: list[ChartDoc]  # of Istio's `gateway` chart, on the running revision
    namespaces: list[SailNamespace]
    engine: GitOpsEngine
    gitops: list[GitOpsObject]
    warnings: list[str] = field(default_factory=list)

    @property
    def revision(self) -> str:
        """The IstioRevision the workloads run on today."""
        return revision_name(self.istio.name, self.strategy, f"v{self.version}")

    @property
    def files(self) -> list[str]:
        return [
            self.istio.file,
            *(t.doc.file for t in self.tags),
            *([self.cni.file] if self.cni is not None else []),
            *(g.doc.file for g in self.gateways),
            *(c.doc.file for c in self.gateway_releases),
            *(ns.doc.file for ns in self.namespaces),
            *(w.file for ns in self.namespaces for w in ns.workloads),
        ]


def discover(index: RepoIndex) -> SailFound:
    """Read the Sail mesh out of the repo; InputError for what it cannot upgrade as a canary."""
    try:
        return _discover(index)
    except InputError as err:
        if not index.broken:
            raise
        unseen = "; ".join(list(index.broken.values())[:3])
        raise InputError(f"{unseen} (discovery could not see inside it); so: {err}") from err


def pinned_version(doc: Document, what: str) -> str:
    """`spec.version` of a Sail object as `X.Y.Z`; refuses aliases and anything not a release."""
    raw = doc.get("spec", "version")
    label = f"{doc.where}: {doc.kind} {doc.name}"
    if raw is None:
        raise InputError(f"{label} has no spec.version; pin the version it runs (like v1.27.9)")
    version = str(raw)
    if ALIAS.match(version):
        raise InputError(
            f"{label}: spec.version {version} is an alias, so the repo does not say which Istio "
            f"{what} runs, and the operator would put it literally in a revision name "
            f"({doc.name}-{version.replace('.', '-')}, sail#2262); pin it to the release it "
            "runs (like v1.27.9, see `kubectl get istiorevision`) and run init again"
        )
    m = RELEASE.match(version)
    if m is None:
        raise InputError(
            f"{label}: spec.version {version!r} is not a release like v1.27.9; pin the release "
            f"{what} runs"
        )
    return version[1:]


def latecomers(index: RepoIndex, plan: Plan) -> list[Latecomer]:
    """Namespaces labelled for the old revision or one of the plan's tags after init, read as
    `init` reads them; none once cleanup is applied (the operator then deletes the old revision,
    and a tag that followed the Istio already serves the new one)."""
    if plan.sail is None or plan.applied_by("cleanup"):
        return []
    serving = {plan.source.revision, *(t.name for t in plan.sail.tags)}
    planned = {ns.name for ns in plan.namespaces}
    holders = {n: h for n, h in label_holders(index).items() if n not in planned}
    found = _meshed(holders, serving)
    _attach_workloads(index, found, gateway_deployments(index))
    return [
        Latecomer(ns.name, ns.doc.file, ns.meshed_by, ns.workloads, ns.services, ns.rev_label)
        for ns in found.values()
    ]


def _one(docs: list[Document], kind: str) -> Document | None:
    if len(docs) > 1:
        raise InputError(
            f"several Sail {kind} objects ({', '.join(f'{d.name} at {d.where}' for d in docs)}); "
            f"istio-canary upgrades one {kind} at a time: split the repo or remove the unused ones"
        )
    return docs[0] if docs else None


def _discover(index: RepoIndex) -> SailFound:
    istio = _one(sail_docs(index, "Istio"), "Istio")
    if istio is None:
        raise InputError("no Istio object of sailoperator.io/v1 in the repo")
    for z in sail_docs(index, "ZTunnel"):
        raise InputError(
            f"{z.where}: ZTunnel {z.name}: an ambient mesh is upgraded in place only (ztunnel is "
            "one per node and serves every revision); istio-canary plans sidecar canaries"
        )
    if str(istio.get("spec", "profile", default="")) in ("ambient", "openshift-ambient"):
        raise InputError(
            f"{istio.where}: Istio {istio.name} uses the ambient profile, which the Sail operator "
            "upgrades in place only; istio-canary plans sidecar canaries"
        )
    version = pinned_version(istio, f"Istio {istio.name}")
    strategy = str(istio.get("spec", "updateStrategy", "type", default="InPlace"))
    if strategy not in STRATEGIES:
        raise InputError(
            f"{istio.where}: Istio {istio.name}: updateStrategy.type {strategy!r} is not InPlace "
            "or RevisionBased"
        )
    grace = istio.get("spec", "updateStrategy", "inactiveRevisionDeletionGracePeriodSeconds")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int) or grace < 0):
        raise InputError(
            f"{istio.where}: Istio {istio.name}: inactiveRevisionDeletionGracePeriodSeconds "
            f"{grace!r} is not a whole number of seconds >= 0"
        )
    namespace = str(istio.get("spec", "namespace", default="istio-system"))
    operators = operator_docs(index)
    if not operators:
        raise InputError(
            "no Sail operator release in the repo (an Argo CD Application or Flux HelmRelease "
            "of the sail-operator chart, or an OLM Subscription to sailoperator or "
            f"servicemeshoperator3) for Istio {istio.name} ({istio.where}); add the one that "
            "runs it, so the plan can say which operator must install the new version"
        )
    if len(operators) > 1:
        raise InputError(
            "several Sail operator releases ("
            + ", ".join(o.label for o in operators)
            + "); keep the one that runs"
        )
    operator = operators[0]
    old = revision_name(istio.name, strategy, f"v{version}")
    warnings: list[str] = []
    tags = _tags(index, istio.name, old, warnings)
    serving = {old, *(t.doc.name for t in tags)}
    cni = _one(sail_docs(index, "IstioCNI"), "IstioCNI")
    cni_version = pinned_version(cni, f"IstioCNI {cni.name}") if cni is not None else ""
    holders = label_holders(index)
    gw_docs = gateway_deployments(index)
    namespaces = _meshed(holders, serving)
    _attach_workloads(index, namespaces, gw_docs)
    for ns in namespaces.values():
        if not ns.workloads:
            warnings.append(
                f"{ns.doc.where}: namespace {ns.name} has no Deployment, StatefulSet or "
                "DaemonSet manifest in the repo; its pods move to the new revision only when "
                "restarted: restart them after its wave"
            )
    ambient = [n for n, h in sorted(holders.items()) if h.labels.get(AMBIENT) == "ambient"]
    if ambient:
        warnings.append(
            f"namespaces {', '.join(ambient)} use ambient mode (no sidecars); the plan does not "
            "move them"
        )
    if old == DEFAULT and DEFAULT not in serving - {old}:
        warnings.append(
            f"Istio {istio.name} runs the revision named default, which also serves "
            "istio-injection=enabled; once it is gone, a namespace labelled that way is injected "
            f"by nothing: after cleanup, add an IstioRevisionTag default targeting Istio "
            f"{istio.name} if you still use that label"
        )
    gateways = _gateways(index, gw_docs, holders, serving, warnings)
    releases = _gateway_releases(index, old, serving - {old}, warnings)
    engine, objs = gitops_objects(index)
    return SailFound(
        istio=istio,
        version=version,
        namespace=namespace,
        strategy=strategy,
        grace=grace,
        operator=operator,
        tags=tags,
        cni=cni,
        cni_version=cni_version,
        gateways=gateways,
        gateway_releases=releases,
        namespaces=[namespaces[n] for n in sorted(namespaces)],
        engine=engine,
        gitops=objs,
        warnings=warnings,
    )


def _tags(index: RepoIndex, istio: str, old: str, warnings: list[str]) -> list[TagFound]:
    """Tags that point at the Istio (they follow it) or at its running revision (they stay)."""
    out = []
    for d in sail_docs(index, "IstioRevisionTag"):
        kind = str(d.get("spec", "targetRef", "kind", default=""))
        name = str(d.get("spec", "targetRef", "name", default=""))
        if (kind, name) == ("Istio", istio) or (kind, name) == ("IstioRevision", old):
            out.append(TagFound(d, kind, name))  # type: ignore[arg-type]
        elif kind not in ("Istio", "IstioRevision") or not name:
            raise InputError(
                f"{d.where}: IstioRevisionTag {d.name}: spec.targetRef must name an Istio or "
                f"an IstioRevision (kind {kind or '?'}, name {name or '?'})"
            )
        else:
            warnings.append(
                f"{d.where}: IstioRevisionTag {d.name} points at {kind} {name}, not at Istio "
                f"{istio} or its revision {old}; left as it is"
            )
    return sorted(out, key=lambda t: t.doc.name)


def _meshed(holders: dict[str, LabelHolder], serving: set[str]) -> dict[str, SailNamespace]:
    """Namespaces whose labels select a serving revision or tag, as the injector decides:
    `istio-injection=enabled` (the revision or tag named default) wins over `istio.io/rev`."""
    out: dict[str, SailNamespace] = {}
    for name, holder in sorted(holders.items()):
        labels: dict[str, Any] = holder.labels
        inj, rev = labels.get(INJECTION), labels.get(REV)
        if inj == "enabled":
            if DEFAULT in serving:
                out[name] = SailNamespace(name, holder.doc, (INJECTION,), "")
        elif inj is None and rev is not None and str(rev) in serving:
            out[name] = SailNamespace(name, holder.doc, (REV,), str(rev))
    return out


def _attach_workloads(
    index: RepoIndex, namespaces: dict[str, SailNamespace], gateway_docs: list[Document]
) -> None:
    """Each meshed namespace's workloads and Services, without gateways and their Services
    (a gateway moves at the gateways stage and is probed through its routes, not as an app)."""
    gateways = {id(d) for d in gateway_docs}
    gateway_pods = [
        (index.namespace_of(d), d.get("spec", "template", "metadata", "labels", default={}))
        for d in gateway_docs
    ]
    by_ns: dict[str, list[Document]] = defaultdict(list)
    services: dict[str, list[Document]] = defaultdict(list)
    for d in index.documents():
        if d.kind in WORKLOAD_KINDS and d.group == "apps" and id(d) not in gateways:
            by_ns[index.namespace_of(d)].append(d)
        elif d.kind == "Service" and d.group == "":
            ns = index.namespace_of(d)
            selector = d.get("spec", "selector", default={})
            if isinstance(selector, dict) and any(
                ns == gw_ns
                and isinstance(pod, dict)
                and selector
                and selector.items() <= pod.items()
                for gw_ns, pod in gateway_pods
            ):
                continue
            services[ns].append(d)
    for name, mesh in namespaces.items():
        mesh.workloads = sorted(by_ns.get(name, []), key=lambda d: (d.kind, d.name))
        mesh.services = sorted(services.get(name, []), key=lambda d: d.name)


def _gateway_releases(
    index: RepoIndex, old: str, tags: set[str], warnings: list[str]
) -> list[ChartDoc]:
    """Releases of Istio's `gateway` chart whose `revision` value is the running revision (the
    chart renders it as the pods' `istio.io/rev`; unset reads as `default`): the gateways stage
    moves them. One on a tag of this Istio (its proxies follow the tag: they need a restart, not
    a new value) or on another revision is named and left alone."""
    out = []
    for c in chart_docs(index):
        if c.chart != "gateway":
            continue
        if c.revision == old:
            out.append(c)
        elif c.revision in tags:
            warnings.append(
                f"{c.label}: release of Istio's gateway chart on tag {c.revision}, which the plan "
                "does not restart: restart its pods after the namespaces (and after cleanup if "
                "the tag names the old IstioRevision)"
            )
        else:
            warnings.append(
                f"{c.label}: release of Istio's gateway chart on revision {c.revision}, which the "
                f"running revision {old} does not serve; left as it is"
            )
    return out


def _gateways(
    index: RepoIndex,
    deployments: list[Document],
    holders: dict[str, LabelHolder],
    serving: set[str],
    warnings: list[str],
) -> list[SailGatewayFound]:
    out = []
    for d in deployments:
        ns = index.namespace_of(d)
        containers = d.get("spec", "template", "spec", "containers", default=[]) or []
        images = [str(c.get("image", "")) for c in containers if isinstance(c, dict)]
        if "auto" not in images:
            warnings.append(
                f"{d.where}: gateway Deployment {d.name} pins its proxy image ({', '.join(images)}) "
                "instead of `image: auto`; the upgrade cannot move it: set its image yourself"
            )
            continue
        pod = d.get("spec", "template", "metadata", "labels", default={}) or {}
        ns_labels = holders[ns].labels if ns in holders else {}
        label = pod.get(REV)
        if ns_labels.get(INJECTION) == "enabled":
            rev = DEFAULT  # the namespace label wins over the pod's
        elif ns_labels.get(REV) is not None:
            rev = str(ns_labels[REV])
        elif label is not None:
            rev = str(label)
        elif str(pod.get("sidecar.istio.io/inject", "")).lower() == "true":
            rev = DEFAULT
        else:
            rev = ""
        if rev not in serving:
            warnings.append(
                f"{d.where}: gateway Deployment {d.name} is not injected by the running "
                "revision; left as it is"
            )
            continue
        out.append(SailGatewayFound(d.name, ns, d, "" if label is None else str(label)))
    return out
