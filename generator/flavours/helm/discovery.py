"""What the repo says about a mesh installed from the Istio Helm charts (pure, over a RepoIndex).

Finds the `istiod` release (exactly one: the one to upgrade), the `base` release (CRDs and the
default-revision validator), the gateways (releases of the `gateway` chart, and Deployments
injected with the gateway template), the namespaces the old istiod injects (through
`istio-injection=enabled` when it serves the default revision, its revision, or one of its
revision tags) with their workloads and Services. Refuses, in one line naming the object and what
to change, what it cannot upgrade safely.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import InputError
from core.helmplan import DEFAULT_REVISION, ChartForm
from core.plan import GitOpsEngine, GitOpsObject
from core.versions import version_key
from generator.discovery import WORKLOAD_KINDS, gitops_objects
from generator.flavours.helm.charts import ARGO, FLUX_HELM, ChartDoc, chart_docs, substituted
from generator.flavours.helm.cni import agent_docs
from generator.flavours.helm.namespacelabels import LabelHolder, label_holders
from generator.index import Document, RepoIndex

__all__ = [
    "GATEWAY_TEMPLATE",
    "GatewayFound",
    "HelmFound",
    "HelmNamespace",
    "declares_istiod",
    "discover",
    "gateway_deployments",
    "tag_manifests",
]

INJECTION = "istio-injection"
REV = "istio.io/rev"
GATEWAY_TEMPLATE = "inject.istio.io/templates"
AMBIENT = "istio.io/dataplane-mode"


@dataclass
class HelmNamespace:
    """A namespace the old istiod injects: how it is selected, and what runs there."""

    name: str
    doc: Document
    meshed_by: tuple[str, ...]
    rev_label: str
    workloads: list[Document] = field(default_factory=list)
    services: list[Document] = field(default_factory=list)


@dataclass
class GatewayFound:
    """A gateway on the old revision: a `gateway` chart release or an injected Deployment."""

    name: str
    namespace: str
    form: ChartForm
    doc: Document
    chart: ChartDoc | None
    revision: str


@dataclass
class HelmFound:
    """Everything the Helm flavour's init needs from the repo."""

    base: ChartDoc
    istiod: ChartDoc
    gateways: list[GatewayFound]
    namespaces: list[HelmNamespace]
    engine: GitOpsEngine
    gitops: list[GitOpsObject]
    releases: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)
    # tags of the old revision kept as manifests, with their documents
    tag_docs: dict[str, list[Document]] = field(default_factory=dict)
    # releases of the cni and ztunnel charts (node agents, moved in place: helm/cni.py)
    agents: list[ChartDoc] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return [
            self.base.doc.file,
            self.istiod.doc.file,
            *(g.doc.file for g in self.gateways),
            *(ns.doc.file for ns in self.namespaces),
            *(w.file for ns in self.namespaces for w in ns.workloads),
            *(d.file for docs in self.tag_docs.values() for d in docs),
            *(a.doc.file for a in self.agents),
        ]

    @property
    def serves_default(self) -> bool:
        """Whether the old istiod injects `istio-injection=enabled` namespaces."""
        tags = {*self.istiod.tags, *self.tag_docs}
        return self.istiod.revision == DEFAULT_REVISION or DEFAULT_REVISION in tags


def declares_istiod(doc: Document) -> bool:
    """Cheap check (no values parsed): an Application or HelmRelease of the istiod chart."""
    if doc.kind == "Application" and doc.group == ARGO:
        sources = [doc.get("spec", "source", default={})]
        sources += list(doc.get("spec", "sources", default=[]) or [])
        return any(
            isinstance(s, dict) and str(s.get("chart") or "").rsplit("/", 1)[-1] == "istiod"
            for s in sources
        )
    if doc.kind == "HelmRelease" and doc.group == FLUX_HELM:
        chart = doc.get("spec", "chart", "spec", "chart", default="")
        ref = doc.get("spec", "chartRef", "name", default="")
        return str(chart).rsplit("/", 1)[-1] == "istiod" or str(ref).endswith("istiod")
    return False


def _require_version(c: ChartDoc) -> str:
    path = ".".join(str(p) for p in c.version_path)
    if not c.version:
        raise InputError(
            f"{c.label}: no chart version ({path}); pin the version it runs so the upgrade "
            "can be reviewed"
        )
    if substituted(c.version):
        raise InputError(
            f"{c.label}: chart version {c.version} is filled in by Flux (postBuild substitution); "
            f"write the version it runs literally in {path} so each stage's change is reviewable"
        )
    if version_key(c.version) is None or c.version.count(".") != 2 or "*" in c.version:
        raise InputError(
            f"{c.label}: chart version {c.version!r} is not a release like 1.26.4; pin one"
        )
    return c.version.lstrip("v")


def _one(charts: list[ChartDoc], chart: str, why: str) -> ChartDoc:
    found = [c for c in charts if c.chart == chart]
    if not found:
        raise InputError(f"no release of the Istio {chart} chart in the repo; {why}")
    if len(found) > 1:
        raise InputError(
            f"several releases of the Istio {chart} chart: "
            + ", ".join(f"{c.name} ({c.where})" for c in found)
            + "; istio-canary upgrades one running istiod: remove the ones not in use "
            "(or finish the upgrade that added them)"
        )
    return found[0]


def gateway_deployments(index: RepoIndex) -> list[Document]:
    """Deployments whose pods are injected with the gateway template."""
    out = []
    for d in index.of_kind("Deployment", "apps"):
        meta = d.get("spec", "template", "metadata", default={}) or {}
        marks = {**(meta.get("labels") or {}), **(meta.get("annotations") or {})}
        if marks.get(GATEWAY_TEMPLATE) == "gateway":
            out.append(d)
    return out


def discover(index: RepoIndex) -> HelmFound:
    """Read the Helm-installed mesh out of the repo; InputError for what it cannot act on."""
    try:
        return _discover(index)
    except InputError as err:
        if not index.broken:
            raise
        unseen = "; ".join(list(index.broken.values())[:3])
        raise InputError(f"{unseen} (discovery could not see inside it); so: {err}") from err


def _discover(index: RepoIndex) -> HelmFound:
    charts = chart_docs(index)
    istiod = _one(charts, "istiod", "")
    base = _one(
        charts,
        "base",
        "the base chart (CRDs, default-revision validator) must be upgraded before the new "
        "istiod: add its release to the repo",
    )
    for c in (istiod, base):
        _require_version(c)
    if base.form != istiod.form:
        raise InputError(
            f"{base.label} and {istiod.label} are applied by different engines; istio-canary "
            "writes both in one form: keep the Istio releases under one engine"
        )
    warnings: list[str] = []
    if (version_key(base.version) or (0, 0, 0))[:2] <= (1, 23):
        warnings.append(
            f"{base.label}: CRDs first installed by base {base.version} may lack Helm's ownership "
            "metadata; if its upgrade fails with 'invalid ownership metadata', label the Istio "
            "CRDs app.kubernetes.io/managed-by=Helm and annotate them meta.helm.sh/release-name="
            f"{base.name}, meta.helm.sh/release-namespace={base.namespace or 'istio-system'} once"
        )
    manifests = tag_manifests(index)
    mine = {tag: docs for tag, docs in manifests.items() if _points_at(docs) == istiod.revision}
    for tag, docs in manifests.items():
        if tag in istiod.tags and tag in mine:
            raise InputError(
                f"tag {tag} is both in {istiod.label}'s revisionTags and a manifest "
                f"({docs[0].where}); two owners for one webhook: keep one"
            )
    old = {istiod.revision, *istiod.tags, *mine}
    serves_default = DEFAULT_REVISION in old
    ns_docs = label_holders(index)
    gw_docs = gateway_deployments(index)
    namespaces, skipped = _meshed(ns_docs, old, serves_default)
    if skipped:
        warnings.append(skipped)
    _attach_workloads(index, namespaces, gw_docs)
    for ns in namespaces.values():
        if not ns.workloads:
            warnings.append(
                f"{ns.doc.where}: namespace {ns.name} has no Deployment, StatefulSet or "
                "DaemonSet manifest in the repo (its workloads come from Helm charts?); its pods "
                "move to the new revision only when restarted: restart them after its wave"
            )
    gateways = _gateways(index, charts, gw_docs, ns_docs, old, serves_default, warnings)
    warnings += _ambient_notes(index, ns_docs)
    engine, objs = gitops_objects(index)
    return HelmFound(
        base=base,
        istiod=istiod,
        gateways=gateways,
        namespaces=[namespaces[n] for n in sorted(namespaces)],
        engine=engine,
        gitops=objs,
        releases=frozenset(c.name for c in charts),
        warnings=warnings,
        tag_docs={t: mine[t] for t in sorted(mine)},
        agents=agent_docs(index),
    )


def tag_manifests(index: RepoIndex) -> dict[str, list[Document]]:
    """Revision tags kept as their own manifests: webhook configurations and Services labelled
    `istio.io/tag` (what `istioctl tag generate` prints), by tag."""
    out: dict[str, list[Document]] = defaultdict(list)
    kinds = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Service")
    for kind in kinds:
        for d in index.of_kind(kind):
            if d.file in index.patch_files():
                continue
            tag = (d.metadata.get("labels") or {}).get("istio.io/tag")
            if tag is not None:
                out[str(tag)].append(d)
    return dict(out)


def _points_at(docs: list[Document]) -> str:
    """The revision a tag's manifests name (their `istio.io/rev` label)."""
    revs = {str((d.metadata.get("labels") or {}).get(REV, "")) for d in docs}
    if len(revs) != 1:
        raise InputError(
            f"the manifests of one revision tag disagree on its revision ({', '.join(sorted(revs))}"
            f": {', '.join(d.where for d in docs)}); make them agree"
        )
    return revs.pop()


def _meshed(
    ns_docs: dict[str, LabelHolder], old: set[str], serves_default: bool
) -> tuple[dict[str, HelmNamespace], str]:
    out: dict[str, HelmNamespace] = {}
    ignored: list[str] = []
    for name, holder in sorted(ns_docs.items()):
        d = holder.doc
        labels: dict[str, Any] = holder.labels
        inj, rev = labels.get(INJECTION), labels.get(REV)
        if inj == "enabled":
            # istio-injection wins over istio.io/rev; it selects the default revision
            if serves_default:
                out[name] = HelmNamespace(name, d, (INJECTION,), "")
            else:
                ignored.append(name)
        elif inj is None and rev is not None and str(rev) in old:
            out[name] = HelmNamespace(name, d, (REV,), str(rev))
        elif inj is None and rev == DEFAULT_REVISION and serves_default:
            out[name] = HelmNamespace(name, d, (REV,), DEFAULT_REVISION)
    note = ""
    if ignored:
        note = (
            f"namespaces {', '.join(ignored)} are labelled istio-injection=enabled, but the "
            "running istiod does not serve the default revision; they are left out of the plan"
        )
    return out, note


def _ambient_notes(index: RepoIndex, ns_docs: dict[str, LabelHolder]) -> list[str]:
    """Ambient namespaces are not moved by a revision canary (the cni/ztunnel releases are,
    in place: helm/cni.py): say what stays as it is."""
    notes = []
    ambient = [n for n, d in sorted(ns_docs.items()) if d.labels.get(AMBIENT) == "ambient"]
    if ambient:
        notes.append(
            f"namespaces {', '.join(ambient)} use ambient mode (no sidecars); the plan does not "
            "move them"
        )
    return notes


def _attach_workloads(
    index: RepoIndex, namespaces: dict[str, HelmNamespace], gateway_docs: Sequence[Document]
) -> None:
    """Each meshed namespace's workloads and Services, without the injected gateways and their
    Services: a gateway is moved by the gateways stage and probed through its routes, never
    restarted by a wave or probed as an app (it answers a plain request by Host, not with 200)."""
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
            if (
                isinstance(selector, dict)
                and selector
                and any(
                    ns == gw_ns and isinstance(labels, dict) and selector.items() <= labels.items()
                    for gw_ns, labels in gateway_pods
                )
            ):
                continue  # the gateway's own Service
            services[ns].append(d)
    for name, mesh in namespaces.items():
        mesh.workloads = sorted(by_ns.get(name, []), key=lambda d: (d.kind, d.name))
        mesh.services = sorted(services.get(name, []), key=lambda d: d.name)


def _gateways(
    index: RepoIndex,
    charts: list[ChartDoc],
    deployments: list[Document],
    ns_docs: dict[str, LabelHolder],
    old: set[str],
    serves_default: bool,
    warnings: list[str],
) -> list[GatewayFound]:
    out: list[GatewayFound] = []
    for c in charts:
        if c.chart != "gateway":
            continue
        if c.revision in old or (c.revision == DEFAULT_REVISION and serves_default):
            _require_version(c)
            out.append(GatewayFound(c.name, c.namespace, c.form, c.doc, c, c.revision))
        else:
            warnings.append(
                f"{c.label}: gateway on revision {c.revision}, which the running istiod does "
                "not serve; left as it is"
            )
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
        labels = d.get("spec", "template", "metadata", "labels", default={}) or {}
        rev = labels.get(REV)
        ns_labels = ns_docs[ns].labels if ns in ns_docs else {}
        if rev is None:
            # as the webhooks decide: the namespace's labels first, then the pod's inject label
            if ns_labels.get(INJECTION) == "enabled":
                rev = DEFAULT_REVISION if serves_default else None
            elif ns_labels.get(REV) is not None:
                rev = ns_labels.get(REV)
            elif labels.get("sidecar.istio.io/inject") in ("true", True):
                rev = DEFAULT_REVISION if serves_default else None
        if rev is None or (str(rev) not in old and rev != DEFAULT_REVISION):
            warnings.append(
                f"{d.where}: gateway Deployment {d.name} is not injected by the running istiod; "
                "left as it is"
            )
            continue
        out.append(GatewayFound(d.name, ns, "deployment", d, None, str(rev)))
    return out
