"""Discovery: what the repo says about the running mesh (pure functions over a RepoIndex).

Finds the old control plane (`Istio` CR), the operator release that reconciles it (by Istio minor,
since `spec.version` alone picks the operator), the MeshGateways bound to it (explicitly, or by the
oldest-CR rule when `spec.istioControlPlane` is absent), the gateways the operator makes from the
CR itself (not in the repo), the namespaces it injects, and their workloads and Services.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from core.errors import InputError
from core.plan import (
    GatewayRef,
    GitOpsEngine,
    GitOpsObject,
    OperatorForm,
    OperatorRelease,
    revision_of,
)
from core.versions import minor_of, parse_version
from generator.index import Document, RepoIndex

__all__ = [
    "ISTIO_GROUP",
    "WORKLOAD_KINDS",
    "Found",
    "MeshNamespaceFound",
    "OperatorFound",
    "discover",
    "find_doc",
    "gateways_made_by",
    "gitops_objects",
    "has_release",
    "operator_release",
    "refuse_shared_bases",
]

ISTIO_GROUP = "istio.banzaicloud.io"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
OPERATOR_CHART = "istio-operator"


@dataclass(frozen=True)
class OperatorFound:
    """An operator release with the document that declares it."""

    release: OperatorRelease
    doc: Document


@dataclass
class MeshNamespaceFound:
    """A namespace the old control plane injects, with what runs there."""

    name: str
    doc: Document
    meshed_by: tuple[str, ...]
    workloads: list[Document] = field(default_factory=list)
    services: list[Document] = field(default_factory=list)


@dataclass
class Found:
    """Everything init needs from the repo."""

    cr: Document
    cr_namespace: str
    operator: OperatorFound
    gateways: list[tuple[GatewayRef, Document | None]]
    namespaces: list[MeshNamespaceFound]
    engine: GitOpsEngine
    gitops: list[GitOpsObject]
    istio_names: frozenset[tuple[str, str]] = frozenset()
    warnings: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return str(self.cr.get("spec", "version", default=""))

    @property
    def global_(self) -> bool:
        return self.cr.get("spec", "global") is not False

    @property
    def revision(self) -> str:
        return revision_of(self.cr.name, self.cr_namespace)


# ----- lookups -------------------------------------------------------------------------------------


def find_doc(
    index: RepoIndex, kind: str, name: str, namespace: str | None, group: str | None = None
) -> Document | None:
    """The one resource document with this identity (patch files excluded)."""
    patches = index.patch_files()
    hits = [
        d
        for d in index.named(kind, name)
        if (group is None or d.group == group)
        and d.file not in patches
        and (namespace is None or index.namespace_of(d) in (namespace, ""))
    ]
    if len(hits) > 1:
        raise InputError(
            f"{kind} {name}: two objects with the same identity "
            f"({', '.join(d.where for d in hits)}); keep one"
        )
    return hits[0] if hits else None


def _helm_value(doc: Document, dotted: str) -> Any:
    """A value of an Argo CD Helm source (parameters, valuesObject or values text)."""
    helm = doc.get("spec", "source", "helm", default={})
    if not isinstance(helm, dict):
        return None
    for p in helm.get("parameters") or ():
        if isinstance(p, dict) and p.get("name") == dotted:
            return p.get("value")
    values = helm.get("valuesObject")
    if values is None and isinstance(helm.get("values"), str):
        try:
            values = yaml.safe_load(helm["values"])
        except yaml.YAMLError:
            values = None
    node: Any = values
    for step in dotted.split("."):
        node = node.get(step) if isinstance(node, dict) else None
    return node


def operator_release(index: RepoIndex, doc: Document) -> OperatorRelease | None:
    """The operator release `doc` declares, in whatever form the repo keeps it."""
    form: OperatorForm
    if doc.kind == "Application" and doc.group == "argoproj.io":
        source = doc.get("spec", "source", default={})
        chart = str(source.get("chart") or source.get("path") or "")
        if not chart.rstrip("/").endswith(OPERATOR_CHART):
            return None
        version = _helm_value(doc, "operator.image.tag")
        name = doc.get("spec", "source", "helm", "releaseName", default=doc.name)
        namespace = doc.get("spec", "destination", "namespace", default="")
        form = "argocd-application"
    elif doc.kind == "HelmRelease" and doc.group == "helm.toolkit.fluxcd.io":
        chart = str(doc.get("spec", "chart", "spec", "chart", default=""))
        if not chart.rstrip("/").endswith(OPERATOR_CHART):
            return None
        version = doc.get("spec", "values", "operator", "image", "tag")
        name = doc.get("spec", "releaseName", default=doc.name)
        namespace = doc.get("spec", "targetNamespace", default=index.namespace_of(doc))
        form = "helmrelease"
    elif doc.kind == "StatefulSet" and doc.group == "apps":
        containers = doc.get("spec", "template", "spec", "containers", default=[])
        images = [str(c.get("image", "")) for c in containers if isinstance(c, dict)]
        image = next((i for i in images if i.rpartition(":")[0].endswith(OPERATOR_CHART)), None)
        if image is None:
            return None
        version = image.rpartition(":")[2]
        name, namespace, form = doc.name, index.namespace_of(doc), "plain"
    else:
        return None
    if version is None:
        raise InputError(f"{doc.where}: operator release {name} has no operator.image.tag")
    return OperatorRelease(str(name), str(namespace), str(version), form, doc.file)


def has_release(index: RepoIndex, release: OperatorRelease) -> bool:
    """Whether the file the plan records for `release` still declares it."""
    return any(
        (found := operator_release(index, d)) is not None and found.name == release.name
        for d in index.files.get(release.file, [])
    )


def gitops_objects(index: RepoIndex) -> tuple[GitOpsEngine, list[GitOpsObject]]:
    """Argo CD Applications and Flux Kustomizations/HelmReleases, and which engine applies the repo."""
    objs: list[GitOpsObject] = []
    for d in index.of_kind("Application", "argoproj.io"):
        objs.append(
            GitOpsObject(
                "Application",
                d.name,
                str(d.metadata.get("namespace", "argocd")),
                str(d.get("spec", "source", "path", default="")),
            )
        )
    flux = [
        *index.of_kind("Kustomization", "kustomize.toolkit.fluxcd.io"),
        *index.of_kind("HelmRelease", "helm.toolkit.fluxcd.io"),
    ]
    for d in flux:
        objs.append(
            GitOpsObject(
                d.kind,
                d.name,
                str(d.metadata.get("namespace", "flux-system")),
                str(d.get("spec", "path", default="")).removeprefix("./"),
            )
        )
    engine: GitOpsEngine = "argocd" if objs and objs[0].kind == "Application" else "none"
    if engine == "none" and flux:
        engine = "flux"
    return engine, objs


def gateways_made_by(cr: Document, cr_namespace: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, type, block) of each gateway the operator creates from the CR's `spec.gateways`."""
    # An absent block means the operator defaults: gateways on, ingress on in 1.6 (off in 1.7).
    gateways = cr.get("spec", "gateways", default={})
    if not isinstance(gateways, dict) or gateways.get("enabled") is False:
        return []
    minor = minor_of(str(cr.get("spec", "version", default="1.6")))
    revisioned = cr.get("spec", "global") is False
    suffix = f"-{cr.name.replace('.', '-')}" if revisioned else ""
    made = []
    for kind, default_on in (("ingress", minor == "1.6"), ("egress", False)):
        block = gateways.get(kind)
        block = block if isinstance(block, dict) else {}
        if block.get("enabled", default_on) and not block.get("createOnly"):
            made.append((f"istio-{kind}gateway{suffix}", kind, block))
    return made


def refuse_shared_bases(index: RepoIndex, files: Iterable[str]) -> None:
    """An object we must edit may not live in a kustomize base that several overlays build."""
    for path in sorted(set(files)):
        overlays = index.overlays_of(path)
        if len(overlays) > 1:
            raise InputError(
                f"{path}: lives in a kustomize base shared by overlays {', '.join(overlays)}; "
                "editing it would move all of them at once (give each overlay its own copy)"
            )


# ----- discovery -----------------------------------------------------------------------------------


def _control_plane(index: RepoIndex, target: tuple[int, int, int] | None) -> Document:
    crs = [d for d in index.of_kind("Istio", ISTIO_GROUP) if d.file not in index.patch_files()]
    if not crs:
        raise InputError(
            f"{index.root}: no Istio CR (istio.banzaicloud.io/v1beta1) found in the repo"
        )
    if len(crs) == 1:
        return crs[0]
    older = [
        d
        for d in crs
        if target is None
        or parse_version(str(d.get("spec", "version", default="0.0")))[:2] < target[:2]
    ]
    if len(older) != 1:
        raise InputError(
            "several Istio CRs could be the one to upgrade: "
            + ", ".join(f"{d.name} ({d.where})" for d in crs)
        )
    return older[0]


def _duplicates(index: RepoIndex, kinds: set[str]) -> None:
    patches = index.patch_files()
    seen: dict[tuple[str, str, str, str], Document] = {}
    for d in index.documents():
        if d.kind not in kinds or d.file in patches or not d.name:
            continue
        key = (d.group, d.kind, index.namespace_of(d), d.name)
        if key in seen:
            first = seen[key]
            for link, real in ((first, d), (d, first)):
                if (index.root / link.file).is_symlink() and (
                    (index.root / link.file).resolve() == (index.root / real.file).resolve()
                ):
                    raise InputError(
                        f"{link.file} is a symlink to {real.file}, so {d.kind} {d.name} is "
                        f"found twice ({link.where}, {real.where}); the generator edits files, "
                        "not links: keep one real file"
                    )
            raise InputError(
                f"{d.kind} {d.name}: two objects with the same identity "
                f"({first.where} and {d.where}); keep one"
            )
        seen[key] = d


def discover(index: RepoIndex, target: tuple[int, int, int] | None = None) -> Found:
    """Read the mesh out of the repo; refuses (InputError) what it cannot act on safely.

    A file discovery could not parse is the likely cause of anything it then finds missing
    (a duplicate key hides a Namespace, a stray byte hides the Istio CR), so a refusal names
    those files first rather than sending the user to look for a manifest that is there.
    """
    try:
        return _discover(index, target)
    except InputError as err:
        if not index.broken:
            raise
        unseen = "; ".join(list(index.broken.values())[:3])
        raise InputError(f"{unseen} (discovery could not see inside it); so: {err}") from err


_IDENTIFIED_KINDS = frozenset(
    {"Istio", "MeshGateway", "Namespace", "Service", "Application", "HelmRelease", *WORKLOAD_KINDS}
)
"""Kinds whose objects discovery looks up by identity, so a duplicate would be ambiguous."""


def _discover(index: RepoIndex, target: tuple[int, int, int] | None) -> Found:
    """The named steps of discovery, in order; each refuses what it cannot act on."""
    _duplicates(index, set(_IDENTIFIED_KINDS))
    cr = _control_plane(index, target)
    cr_ns = index.namespace_of(cr) or "default"
    version = str(cr.get("spec", "version", default=""))
    if not version:
        raise InputError(f"{cr.where}: Istio {cr.name} has no spec.version")
    operator = _operator(index, cr, minor_of(version))
    gateways = _gateways(index, cr, cr_ns)
    revision = revision_of(cr.name, cr_ns)
    is_global = cr.get("spec", "global") is not False
    auto = [str(n) for n in cr.get("spec", "autoInjectionNamespaces", default=[]) or []]
    ns_docs = {
        d.name: d for d in index.of_kind("Namespace", "") if d.file not in index.patch_files()
    }
    namespaces = _meshed_namespaces(ns_docs, auto, revision, is_global)
    if is_global:
        _require_auto_injection_manifests(cr, auto, ns_docs)
    warnings = [] if is_global else _revisioned_warnings(cr, auto, ns_docs, namespaces, revision)
    _attach_workloads(index, namespaces)
    engine, objs = gitops_objects(index)
    return Found(
        cr=cr,
        cr_namespace=cr_ns,
        operator=operator,
        gateways=gateways,
        namespaces=[namespaces[n] for n in sorted(namespaces)],
        engine=engine,
        gitops=objs,
        istio_names=frozenset(
            (d.name, index.namespace_of(d) or cr_ns) for d in index.of_kind("Istio", ISTIO_GROUP)
        ),
        warnings=warnings,
    )


def _operator(index: RepoIndex, cr: Document, minor: str) -> OperatorFound:
    """The one operator release reconciling the CR's Istio minor."""
    operators: list[OperatorFound] = []
    for d in index.documents():
        rel = operator_release(index, d)
        if rel is not None and rel.minor == minor:
            operators.append(OperatorFound(rel, d))
    if not operators:
        raise InputError(
            f"{cr.where}: no istio-operator release for Istio {minor} found in the repo "
            "(an Argo CD Application or Flux HelmRelease of chart istio-operator, or its StatefulSet)"
        )
    if len(operators) > 1:
        raise InputError(
            f"several istio-operator releases reconcile Istio {minor}: "
            + ", ".join(f"{o.release.name} ({o.doc.where})" for o in operators)
        )
    return operators[0]


def _gateways(
    index: RepoIndex, cr: Document, cr_ns: str
) -> list[tuple[GatewayRef, Document | None]]:
    """MeshGateways bound to the CR (explicitly, or by having no `istioControlPlane`), then the
    gateways the operator makes from the CR itself that the repo does not hold."""
    gateways: list[tuple[GatewayRef, Document | None]] = []
    in_repo_names = set()
    for g in index.of_kind("MeshGateway", ISTIO_GROUP):
        ref = g.get("spec", "istioControlPlane", default=None)
        ns = index.namespace_of(g) or cr_ns
        in_repo_names.add((g.name, ns))
        bound = ref is None or (
            isinstance(ref, dict)
            and ref.get("name") == cr.name
            and ref.get("namespace", cr_ns) == cr_ns
        )
        if bound:
            gateways.append((GatewayRef(g.name, ns, True, g.file), g))
    for name, _kind, _block in gateways_made_by(cr, cr_ns):
        if (name, cr_ns) not in in_repo_names:
            gateways.append((GatewayRef(name, cr_ns, False), None))
    return gateways


def _meshed_namespaces(
    ns_docs: dict[str, Document], auto: list[str], revision: str, is_global: bool
) -> dict[str, MeshNamespaceFound]:
    """Namespaces the CR injects, each with what makes it meshed: a global CR honours the
    `istio-injection` label and `autoInjectionNamespaces`, any CR its `istio.io/rev` label."""
    namespaces: dict[str, MeshNamespaceFound] = {}
    for name, d in sorted(ns_docs.items()):
        labels = d.metadata.get("labels") or {}
        inj, rev = labels.get("istio-injection"), labels.get("istio.io/rev")
        if inj == "disabled" or (rev is not None and rev != revision and inj != "enabled"):
            continue
        by = []
        if inj == "enabled" and is_global:
            by.append("istio-injection")
        if rev == revision:
            by.append("istio.io/rev")
        if name in auto and is_global:
            by.append("autoInjectionNamespaces")
        if by:
            namespaces[name] = MeshNamespaceFound(name, d, tuple(by))
    return namespaces


def _require_auto_injection_manifests(
    cr: Document, auto: list[str], ns_docs: dict[str, Document]
) -> None:
    """Every namespace `autoInjectionNamespaces` names needs a manifest the upgrade can relabel."""
    missing = [n for n in auto if n not in ns_docs]
    if missing:
        raise InputError(
            f"{cr.where}: autoInjectionNamespaces lists {', '.join(missing)} but the repo has no "
            "Namespace manifest for it; add one so the upgrade can relabel it"
        )


def _revisioned_warnings(
    cr: Document,
    auto: list[str],
    ns_docs: dict[str, Document],
    namespaces: dict[str, MeshNamespaceFound],
    revision: str,
) -> list[str]:
    """A revisioned CR ignores `autoInjectionNamespaces` and `istio-injection=enabled`: say which
    namespaces that leaves out of the plan, so nobody expects them to move."""
    ignored_auto = [n for n in auto if n not in namespaces]
    ignored_label = [
        n
        for n, d in sorted(ns_docs.items())
        if (d.metadata.get("labels") or {}).get("istio-injection") == "enabled"
        and n not in namespaces
    ]
    if not ignored_auto and not ignored_label:
        return []
    why = [
        f"{what} ({', '.join(names)})"
        for what, names in (
            ("autoInjectionNamespaces", ignored_auto),
            ("istio-injection=enabled", ignored_label),
        )
        if names
    ]
    moves = "no namespace" if not namespaces else ", ".join(sorted(namespaces))
    return [
        f"{cr.where}: {cr.name} is revisioned (global: false), so it injects only "
        f"namespaces labelled istio.io/rev={revision}; it ignores {' and '.join(why)}: "
        f"the plan moves {moves}"
    ]


def _attach_workloads(index: RepoIndex, namespaces: dict[str, MeshNamespaceFound]) -> None:
    """Give each meshed namespace its workloads and Services, in name order (one pass)."""
    by_ns: dict[str, list[Document]] = defaultdict(list)
    services: dict[str, list[Document]] = defaultdict(list)
    for d in index.documents():
        if d.kind in WORKLOAD_KINDS and d.group == "apps":
            by_ns[index.namespace_of(d)].append(d)
        elif d.kind == "Service" and d.group == "":
            services[index.namespace_of(d)].append(d)
    for name, mesh in namespaces.items():
        mesh.workloads = sorted(by_ns.get(name, []), key=lambda d: (d.kind, d.name))
        mesh.services = sorted(services.get(name, []), key=lambda d: d.name)
