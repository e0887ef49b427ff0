"""The upgrade plan: what `init` decided, stored in the GitOps repo at `.istio-canary/plan.yaml`.

The plan is the contract between the generator (which writes it and applies its stages) and the
verifier (which reads it to know what to expect of the cluster after each stage). It is plain data:
frozen dataclasses, parsed once at the edge by :func:`Plan.from_dict` (which reports every problem
together) and serialised by :meth:`Plan.to_dict`. Queries that both sides need (which revision a
namespace should be on after stage N) live here so they are answered one way only.
"""

from __future__ import annotations

import functools
import itertools
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from core.errors import PlanError
from core.helmplan import DEFAULT_REVISION, HelmMesh, helm_from_dict, helm_to_dict
from core.sailplan import SailMesh, sail_from_dict, sail_to_dict
from core.versions import minor_key
from core.yamlload import Loader as _Loader

__all__ = [
    "API_VERSION",
    "FLAVOURS",
    "PLAN_PATH",
    "STAGE_KINDS",
    "ConnectivityCheck",
    "ControlPlane",
    "GatewayRef",
    "GitOpsObject",
    "MeshNamespace",
    "OperatorRelease",
    "Plan",
    "ServiceRef",
    "Stage",
    "WorkloadRef",
    "dump_plan",
    "load_plan",
    "read_plan_file",
    "revision_of",
]

# libyaml when present: a 2,500-namespace plan is ~1 MB, which pure-Python PyYAML takes seconds on.
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

API_VERSION = "istio-canary.io/v1alpha1"
PLAN_KIND = "UpgradePlan"
PLAN_PATH = ".istio-canary/plan.yaml"
STAGE_KINDS = (
    "control-plane",
    "gateways",
    "namespaces",
    "cleanup",
    "tags-drop",
    "tags-take",
    "tags-return",
    "default-revision",
    "strategy",
    "cni",
)
# The kinds every flavour knows (the Banzai flavour's whole list, in its plan order)...
StageKind = Literal["control-plane", "gateways", "namespaces", "cleanup"]
# ...and the ones only the Helm flavour plans (revision tags and the default revision).
HelmStageKind = Literal["tags-drop", "tags-take", "tags-return", "default-revision"]
# ...and the ones only the Sail flavour plans (the updateStrategy switch, IstioCNI in place).
SailStageKind = Literal["strategy", "cni"]
AnyStageKind = StageKind | HelmStageKind | SailStageKind
# How the mesh is installed; a plan file without `flavour` was written for Banzai.
FLAVOURS = ("banzai", "helm", "sail")
Flavour = Literal["banzai", "helm", "sail"]
# The stage kinds each flavour may plan (the loader refuses the others).
_FLAVOUR_KINDS: dict[str, tuple[str, ...]] = {
    "banzai": typing.get_args(StageKind),
    "helm": typing.get_args(StageKind) + typing.get_args(HelmStageKind),
    "sail": typing.get_args(StageKind) + typing.get_args(SailStageKind),
}
OperatorForm = Literal["argocd-application", "helmrelease", "plain"]
GitOpsEngine = Literal["argocd", "flux", "none"]


def revision_of(cr_name: str, cr_namespace: str) -> str:
    """The `istio.io/rev` value of an `Istio` CR: its name with dots dashed, then its namespace."""
    return f"{cr_name.replace('.', '-')}.{cr_namespace}"


@dataclass(frozen=True)
class OperatorRelease:
    """An istio-operator release: Helm release name, namespace, image tag, and how the repo holds it."""

    name: str
    namespace: str
    version: str
    form: OperatorForm
    file: str = ""

    @property
    def minor(self) -> str:
        """Istio minor this operator reconciles: 0.6.x -> 1.6, 0.7.x -> 1.7."""
        key = minor_key(self.version)
        return f"1.{key[1]}" if key else ""


@dataclass(frozen=True)
class ControlPlane:
    """An `Istio` CR (istio.banzaicloud.io/v1beta1) and the operator release that reconciles it."""

    name: str
    namespace: str
    version: str
    operator: OperatorRelease
    file: str = ""
    global_: bool = True
    # The revision when it is not derived from the CR's name (Helm: the istiod release's
    # `revision` value, `default` for a non-revisioned install).
    rev: str = ""

    @property
    def revision(self) -> str:
        """The `istio.io/rev` label value that selects this control plane."""
        return self.rev or revision_of(self.name, self.namespace)

    @property
    def minor(self) -> str:
        """`1.7` for `1.7.7`."""
        key = minor_key(self.version)
        return f"{key[0]}.{key[1]}" if key else ""

    @property
    def istiod(self) -> str:
        """Name of the istiod Deployment: plain for a global CP, suffixed for a revisioned one."""
        if self.rev:
            return "istiod" if self.rev == DEFAULT_REVISION else f"istiod-{self.rev}"
        return "istiod" if self.global_ else f"istiod-{self.name.replace('.', '-')}"


@dataclass(frozen=True)
class WorkloadRef:
    """A Deployment, StatefulSet or DaemonSet found in the repo."""

    kind: str
    name: str
    file: str = ""


@dataclass(frozen=True)
class ServiceRef:
    """A Service found in the repo, with the first port connectivity checks should call."""

    name: str
    port: int


@dataclass(frozen=True)
class MeshNamespace:
    """A namespace the old control plane injects, with what the repo runs there."""

    name: str
    workloads: tuple[WorkloadRef, ...] = ()
    services: tuple[ServiceRef, ...] = ()
    file: str = ""
    # How the old control plane selected it: any of istio-injection, istio.io/rev,
    # autoInjectionNamespaces (rollback restores exactly these).
    meshed_by: tuple[str, ...] = ()
    # Helm: the `istio.io/rev` value it had (a revision or a revision tag), "" for none.
    rev_label: str = ""


@dataclass(frozen=True)
class GatewayRef:
    """A MeshGateway bound to the old control plane; `in_repo` is false for operator-made ones."""

    name: str
    namespace: str
    in_repo: bool
    file: str = ""


@dataclass(frozen=True)
class GitOpsObject:
    """An Argo CD Application or Flux Kustomization/HelmRelease that applies part of the repo."""

    kind: str
    name: str
    namespace: str
    path: str = ""


@dataclass(frozen=True)
class ConnectivityCheck:
    """One probe: exec `curl` in a pod of `source` and expect 200 (with mTLS evidence) from `url`."""

    source_namespace: str
    source_selector: str
    source_container: str
    target_namespace: str
    target_service: str
    port: int

    @property
    def url(self) -> str:
        """The fully qualified Service URL the probe calls."""
        return (
            f"http://{self.target_service}.{self.target_namespace}.svc.cluster.local:{self.port}/"
        )

    @property
    def label(self) -> str:
        """A short human name: `demo-a -> app-b.demo-b`."""
        return f"{self.source_namespace} -> {self.target_service}.{self.target_namespace}"


@dataclass(frozen=True)
class Stage:
    """One commit of the upgrade; `index` counts from 1 in plan order (0 is the starting state)."""

    index: int
    name: str
    kind: AnyStageKind
    namespaces: tuple[str, ...] = ()
    gateways: tuple[str, ...] = ()
    checks: tuple[ConnectivityCheck, ...] = ()
    applied: bool = False
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The whole upgrade: from/to control planes, what is meshed, the stages and their state."""

    source: ControlPlane
    target: ControlPlane
    stages: tuple[Stage, ...]
    namespaces: tuple[MeshNamespace, ...] = ()
    gateways: tuple[GatewayRef, ...] = ()
    gitops_engine: GitOpsEngine = "none"
    gitops_objects: tuple[GitOpsObject, ...] = ()
    rolled_back: tuple[str, ...] = ()
    baseline_checks: tuple[ConnectivityCheck, ...] = ()
    generator_version: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    flavour: Flavour = "banzai"
    helm: HelmMesh | None = None
    sail: SailMesh | None = None

    # ----- queries shared by generator and verifier -------------------------------------------

    @property
    def total(self) -> int:
        """Number of stages (the `n` of the `i/n` trailer)."""
        return len(self.stages)

    @property
    def applied_index(self) -> int:
        """Index of the newest applied stage, 0 when none is."""
        return max((s.index for s in self.stages if s.applied), default=0)

    @property
    def next_stage(self) -> Stage | None:
        """The first stage not yet applied, or None when the upgrade is complete."""
        return next((s for s in self.stages if not s.applied), None)

    @property
    def complete(self) -> bool:
        """True when every stage, cleanup included, is applied."""
        return all(s.applied for s in self.stages)

    def stage(self, index: int) -> Stage:
        """Stage by its 1-based index."""
        for s in self.stages:
            if s.index == index:
                return s
        raise PlanError(f"plan has no stage {index} (stages are 1..{self.total})")

    def migrated_namespaces(self, upto: int | None = None) -> tuple[str, ...]:
        """Namespaces moved to the new revision by stages 1..upto (default: the applied ones)."""
        limit = self.applied_index if upto is None else upto
        moved: list[str] = []
        for s in self.stages:
            if s.kind == "namespaces" and s.index <= limit:
                moved.extend(s.namespaces)
        if upto is None:
            moved = [ns for ns in moved if ns not in self.rolled_back]
        return tuple(moved)

    def expected_revision(self, namespace: str, upto: int | None = None) -> str:
        """Revision every meshed pod of `namespace` should be on after stage `upto`."""
        if namespace in self.migrated_namespaces(upto):
            return self.target.revision
        return self.source.revision

    def gateways_moved(self, upto: int | None = None) -> bool:
        """Whether the gateways stage is at or before `upto` (default: applied)."""
        limit = self.applied_index if upto is None else upto
        return any(s.kind == "gateways" and s.index <= limit for s in self.stages)

    def applied_by(self, kind: AnyStageKind, upto: int | None = None) -> bool:
        """Whether a stage of `kind` is at or before `upto` (default: applied)."""
        limit = self.applied_index if upto is None else upto
        return any(s.kind == kind and s.index <= limit for s in self.stages)

    def tag_revision(self, tag: str, upto: int | None = None) -> str:
        """The revision revision-tag `tag` points at after stage `upto` ("" = no such tag).

        Sail: a tag targeting the `Istio` follows its active revision; one targeting the old
        `IstioRevision` stays there until cleanup points it at the new revision. Helm:

        A stable tag points at the old revision until `tags-drop` removes it from the old istiod
        release, at nothing until `tags-take` adds it to the new one, then at the new revision;
        a tag kept as manifests moves at `tags-take`. The `default` tag moves at
        `default-revision` instead (with base's `defaultRevision`), and follows the default
        revision when nothing declares it. A canary tag points at the new revision from
        control-plane on.
        """
        if self.sail is not None:
            return self._sail_tag_revision(tag, upto)
        h = self.helm
        if h is None:
            return ""
        if any(t.canary == tag for t in h.tags):
            return self.target.revision if self.applied_by("control-plane", upto) else ""
        # `default` moves with the default revision, so the two never disagree at a gate;
        # other tags move at tags-take
        moved_by: AnyStageKind = "default-revision" if tag == DEFAULT_REVISION else "tags-take"
        if tag in h.manifest_tags:
            moved = self.applied_by(moved_by, upto)
            return self.target.revision if moved else self.source.revision
        if tag in h.istiod_from.tags:
            if self.applied_by(moved_by, upto):
                return self.target.revision
            return "" if self.applied_by("tags-drop", upto) else self.source.revision
        if tag in h.istiod_to.tags:
            return self.target.revision if self.applied_by("control-plane", upto) else ""
        if tag == DEFAULT_REVISION:
            return self.default_revision(upto)
        return ""

    def default_revision(self, upto: int | None = None) -> str:
        """Helm: the revision `base`'s `defaultRevision` names after stage `upto`."""
        h = self.helm
        if h is None:
            return ""
        if self.applied_by("default-revision", upto) and h.default_to:
            return h.default_to
        return h.default_from

    def expected_label(self, namespace: str, upto: int | None = None) -> str:
        """The `istio.io/rev` value namespace `namespace` carries after stage `upto` ("" for
        none: it is selected by `istio-injection=enabled`). Helm and Sail; see the tag rules."""
        ns = self.namespace(namespace)
        h = self.helm
        moved = namespace in self.migrated_namespaces(upto)
        if not moved:
            return ns.rev_label
        if self.sail is not None:
            return self._sail_moved_label(ns.rev_label, upto)
        canary = h.canary_of(ns.rev_label) if h is not None else ""
        if canary:
            return ns.rev_label if self.applied_by("tags-return", upto) else canary
        return self.target.revision

    # ----- Sail: IstioRevisions, tags, gateways, CNI ------------------------------------------

    @property
    def via_revision(self) -> str:
        """Sail: the IstioRevision the `strategy` stage makes at the old version ("" if none).

        Switching `InPlace` to `RevisionBased` renames the active revision at once, so the
        operator creates `<name>-v<old version>` beside the running one; nothing uses it, and it
        is pruned after the grace period once `control-plane` has made the target revision.
        """
        s = self.sail
        return "" if s is None else s.via_revision(self.source.version)

    def active_revision(self, upto: int | None = None) -> str:
        """Sail: the `Istio`'s `status.activeRevisionName` after stage `upto` ("" otherwise)."""
        s = self.sail
        if s is None:
            return ""
        if self.applied_by("control-plane", upto):
            return self.target.revision
        if s.switches_strategy and self.applied_by("strategy", upto):
            return self.via_revision
        return self.source.revision

    def expected_gateway_label(self, name: str, upto: int | None = None) -> str:
        """Sail: the `istio.io/rev` pod label gateway `name` carries after stage `upto`."""
        s = self.sail
        gw = next((g for g in s.gateways if g.name == name), None) if s else None
        if gw is None:
            raise PlanError(f"gateway {name!r} is not part of the plan")
        if not self.gateways_moved(upto):
            return gw.rev_label
        return self._sail_moved_label(gw.rev_label, upto)

    def cni_version(self, upto: int | None = None) -> str:
        """Sail: the IstioCNI's version after stage `upto` ("" when the plan has no IstioCNI)."""
        cni = self.sail.cni if self.sail is not None else None
        if cni is None:
            return ""
        return cni.version_to if self.applied_by("cni", upto) else cni.version_from

    def _sail_tag_revision(self, tag: str, upto: int | None) -> str:
        # A tag targeting the Istio follows its active revision; one targeting an IstioRevision
        # stays there until cleanup points it at the new revision (or the old one stays in use).
        assert self.sail is not None
        t = self.sail.tag(tag)
        if t is None:
            return ""
        if t.target_kind == "Istio":
            return self.active_revision(upto)
        if t.target_name == self.source.revision and self.applied_by("cleanup", upto):
            return self.target.revision
        return t.target_name

    def _sail_moved_label(self, label: str, upto: int | None) -> str:
        # A moved namespace (or gateway) keeps a tag that follows the Istio; one on a tag pinned
        # to the old IstioRevision is on the new revision by name until cleanup retargets the
        # tag and gives the label back; everything else names the new revision. No label
        # (`istio-injection=enabled`) is served by the tag named `default` when there is one.
        assert self.sail is not None
        t = self.sail.tag(label or DEFAULT_REVISION)
        if t is not None and t.target_kind == "Istio":
            return label
        if t is not None and self.applied_by("cleanup", upto):
            return label
        return self.target.revision

    def mark_applied(self, index: int) -> Plan:
        """A copy with stage `index` marked applied (stages apply strictly in order)."""
        stages = tuple(replace(s, applied=s.applied or s.index == index) for s in self.stages)
        return replace(self, stages=stages)

    def with_rolled_back(self, namespaces: Iterable[str]) -> Plan:
        """A copy recording that `namespaces` were moved back to the old control plane."""
        merged = tuple(sorted(set(self.rolled_back) | set(namespaces)))
        return replace(self, rolled_back=merged)

    def namespace(self, name: str) -> MeshNamespace:
        """The meshed namespace record for `name`."""
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        raise PlanError(f"namespace {name!r} is not part of the plan")

    # ----- (de)serialisation --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the plan file, keys in a stable, readable order."""
        return {
            "apiVersion": API_VERSION,
            "kind": PLAN_KIND,
            "generator": self.generator_version,
            **({} if self.flavour == "banzai" else {"flavour": self.flavour}),
            "from": _cp_to_dict(self.source),
            "to": _cp_to_dict(self.target),
            **({} if self.helm is None else {"helm": helm_to_dict(self.helm)}),
            **({} if self.sail is None else {"sail": sail_to_dict(self.sail)}),
            "gitops": {
                "engine": self.gitops_engine,
                "objects": [
                    _drop_empty(
                        {"kind": o.kind, "name": o.name, "namespace": o.namespace, "path": o.path}
                    )
                    for o in self.gitops_objects
                ],
            },
            "gateways": [
                _drop_empty(
                    {"name": g.name, "namespace": g.namespace, "inRepo": g.in_repo, "file": g.file}
                )
                for g in self.gateways
            ],
            "namespaces": [
                _drop_empty(
                    {
                        "name": n.name,
                        "file": n.file,
                        "workloads": [
                            _drop_empty({"kind": w.kind, "name": w.name, "file": w.file})
                            for w in n.workloads
                        ],
                        "services": [{"name": s.name, "port": s.port} for s in n.services],
                        "meshedBy": list(n.meshed_by),
                        "revLabel": n.rev_label,
                    }
                )
                for n in self.namespaces
            ],
            "baselineChecks": [_check_to_dict(c) for c in self.baseline_checks],
            "stages": [
                _drop_empty(
                    {
                        "index": s.index,
                        "name": s.name,
                        "kind": s.kind,
                        "namespaces": list(s.namespaces),
                        "gateways": list(s.gateways),
                        "tags": list(s.tags),
                        "checks": [_check_to_dict(c) for c in s.checks],
                    }
                )
                | {"applied": s.applied}
                for s in self.stages
            ],
            "rolledBack": list(self.rolled_back),
            **dict(self.extra),
        }

    @classmethod
    def from_dict(cls, raw: Any, where: str = PLAN_PATH) -> Plan:
        """Parse plan-file data, collecting every problem into one PlanError."""
        problems: list[str] = []
        r = _Reader(problems)
        if not isinstance(raw, Mapping):
            raise PlanError(f"{where}: not a mapping")
        if raw.get("apiVersion") != API_VERSION or raw.get("kind") != PLAN_KIND:
            problems.append(f"expected apiVersion {API_VERSION} kind {PLAN_KIND}")
        flavour = raw.get("flavour", "banzai")
        if flavour not in FLAVOURS:
            problems.append(f"flavour {flavour!r} is not one of {', '.join(FLAVOURS)}")
            flavour = "banzai"
        helm = helm_from_dict(raw.get("helm"), problems) if flavour == "helm" else None
        if flavour != "helm" and "helm" in raw:
            problems.append("helm is only allowed in a plan whose flavour is helm")
        sail = sail_from_dict(raw.get("sail"), problems) if flavour == "sail" else None
        if flavour != "sail" and "sail" in raw:
            problems.append("sail is only allowed in a plan whose flavour is sail")
        source = r.control_plane(raw.get("from"), "from", flavour)
        target = r.control_plane(raw.get("to"), "to", flavour)
        gitops = raw.get("gitops") or {}
        objects = tuple(
            GitOpsObject(
                r.s(o, "kind", "gitops.objects"),
                r.s(o, "name", "gitops.objects"),
                r.s(o, "namespace", "gitops.objects", ""),
                r.s(o, "path", "gitops.objects", ""),
            )
            for o in r.seq(gitops, "objects", "gitops")
        )
        gateways = tuple(
            GatewayRef(
                r.s(g, "name", "gateways"),
                r.s(g, "namespace", "gateways"),
                bool(g.get("inRepo", False)) if isinstance(g, Mapping) else False,
                r.s(g, "file", "gateways", ""),
            )
            for g in r.seq(raw, "gateways", "")
        )
        namespaces = tuple(
            MeshNamespace(
                r.s(n, "name", "namespaces"),
                tuple(
                    WorkloadRef(
                        r.s(w, "kind", "workloads"),
                        r.s(w, "name", "workloads"),
                        r.s(w, "file", "workloads", ""),
                    )
                    for w in r.seq(n, "workloads", "namespaces")
                ),
                tuple(
                    ServiceRef(r.s(s, "name", "services"), r.i(s, "port", "services"))
                    for s in r.seq(n, "services", "namespaces")
                ),
                r.s(n, "file", "namespaces", ""),
                tuple(str(x) for x in r.seq(n, "meshedBy", "namespaces")),
                r.s(n, "revLabel", "namespaces", ""),
            )
            for n in r.seq(raw, "namespaces", "")
        )
        stages: list[Stage] = []
        for pos, st in enumerate(r.seq(raw, "stages", ""), start=1):
            kind = r.s(st, "kind", f"stages[{pos}]")
            if kind not in STAGE_KINDS:
                problems.append(
                    f"stages[{pos}].kind {kind!r} is not one of {', '.join(STAGE_KINDS)}"
                )
            elif kind not in _FLAVOUR_KINDS[flavour]:
                problems.append(
                    f"stages[{pos}].kind {kind!r} is not a kind of the {flavour} flavour"
                )
            index = r.i(st, "index", f"stages[{pos}]")
            if index != pos:
                problems.append(f"stages[{pos}].index is {index}, expected {pos}")
            stages.append(
                Stage(
                    index=index,
                    name=r.s(st, "name", f"stages[{pos}]"),
                    kind=kind,  # type: ignore[arg-type]
                    namespaces=tuple(str(x) for x in r.seq(st, "namespaces", "", required=False)),
                    gateways=tuple(str(x) for x in r.seq(st, "gateways", "", required=False)),
                    checks=tuple(r.check(c) for c in r.seq(st, "checks", "", required=False)),
                    applied=r.b(st, "applied", f"stages[{pos}]", False),
                    tags=tuple(str(x) for x in r.seq(st, "tags", "", required=False)),
                )
            )
        if not stages:
            problems.append("plan has no stages")
        applied = [s.applied for s in stages]
        if any(later and not earlier for earlier, later in itertools.pairwise(applied)):
            problems.append("stages are marked applied out of order")
        known = {
            "apiVersion",
            "kind",
            "generator",
            "from",
            "to",
            "gitops",
            "gateways",
            "namespaces",
            "baselineChecks",
            "stages",
            "rolledBack",
            "flavour",
            "helm",
            "sail",
        }
        engine = gitops.get("engine", "none") if isinstance(gitops, Mapping) else "none"
        if engine not in ("argocd", "flux", "none"):
            problems.append(f"gitops.engine {engine!r} is not argocd, flux or none")
        if sail is not None and source is not None and target is not None:
            problems.extend(_sail_revision_problems(sail, source, target))
        if problems:
            raise PlanError(f"{where}: " + "; ".join(problems))
        assert source is not None and target is not None
        return cls(
            source=source,
            target=target,
            stages=tuple(stages),
            namespaces=namespaces,
            gateways=gateways,
            gitops_engine=engine,  # type: ignore[arg-type]
            gitops_objects=objects,
            rolled_back=tuple(str(x) for x in raw.get("rolledBack") or ()),
            baseline_checks=tuple(
                r.check(c) for c in r.seq(raw, "baselineChecks", "", required=False)
            ),
            generator_version=str(raw.get("generator", "")),
            extra={k: v for k, v in raw.items() if k not in known},
            flavour=flavour,
            helm=helm,
            sail=sail,
        )


# ----- helpers -------------------------------------------------------------------------------


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in ("", [], None)}


def _sail_revision_problems(
    sail: SailMesh, source: ControlPlane, target: ControlPlane
) -> list[str]:
    """The revisions the plan records must be the ones the operator will name (derived)."""
    problems = []
    old = sail.old_revision(source.version)
    new = sail.new_revision(target.version)
    if source.rev != old:
        problems.append(
            f"from.controlPlane.revision {source.rev!r} is not {old!r}, the revision the Sail "
            f"operator runs for Istio {sail.istio.name} ({sail.istio.strategy}, v{source.version})"
        )
    if target.rev != new:
        problems.append(
            f"to.controlPlane.revision {target.rev!r} is not {new!r}, the revision the Sail "
            f"operator makes for Istio {sail.istio.name} (RevisionBased, v{target.version})"
        )
    return problems


def _cp_to_dict(cp: ControlPlane) -> dict[str, Any]:
    op = cp.operator
    if not op.name:
        # Helm: no operator; the control plane is an istiod release with its own revision.
        return {
            "controlPlane": _drop_empty(
                {
                    "name": cp.name,
                    "namespace": cp.namespace,
                    "version": cp.version,
                    "revision": cp.revision,
                    "global": cp.global_,
                    "file": cp.file,
                }
            )
        }
    return _drop_empty(
        {
            "controlPlane": _drop_empty(
                {
                    "name": cp.name,
                    "namespace": cp.namespace,
                    "version": cp.version,
                    "revision": cp.revision,
                    "global": cp.global_,
                    "file": cp.file,
                }
            ),
            "operator": _drop_empty(
                {
                    "name": op.name,
                    "namespace": op.namespace,
                    "version": op.version,
                    "form": op.form,
                    "file": op.file,
                }
            ),
        }
    )


def _check_to_dict(c: ConnectivityCheck) -> dict[str, Any]:
    return {
        "from": {
            "namespace": c.source_namespace,
            "selector": c.source_selector,
            "container": c.source_container,
        },
        "to": {"namespace": c.target_namespace, "service": c.target_service, "port": c.port},
    }


_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+].*)?$")


class _Reader:
    """Typed field access that records problems instead of raising on the first one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def s(self, m: Any, key: str, where: str, default: str | None = None) -> str:
        value = m.get(key) if isinstance(m, Mapping) else None
        if value is None:
            if default is None:
                self.problems.append(f"{where}.{key} is missing".lstrip("."))
                return ""
            return default
        return str(value)

    def b(self, m: Any, key: str, where: str, default: bool) -> bool:
        """A strict boolean: `applied: maybe` must not read as applied."""
        value = m.get(key, default) if isinstance(m, Mapping) else default
        if not isinstance(value, bool):
            self.problems.append(f"{where}.{key} must be true or false, not {value!r}")
            return default
        return value

    def i(self, m: Any, key: str, where: str) -> int:
        value = m.get(key) if isinstance(m, Mapping) else None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.append(f"{where}.{key} must be an integer".lstrip("."))
            return 0
        return value

    def seq(self, m: Any, key: str, where: str, required: bool = False) -> list[Any]:
        value = m.get(key) if isinstance(m, Mapping) else None
        if value is None:
            if required:
                self.problems.append(f"{where}.{key} is missing".lstrip("."))
            return []
        if not isinstance(value, list):
            self.problems.append(f"{where}.{key} must be a list".lstrip("."))
            return []
        return value

    def control_plane(self, m: Any, where: str, flavour: str = "banzai") -> ControlPlane | None:
        if not isinstance(m, Mapping):
            self.problems.append(f"{where} is missing")
            return None
        cp = m.get("controlPlane")
        op = m.get("operator")
        w = f"{where}.controlPlane"
        if flavour in ("helm", "sail"):
            if op is not None:
                self.problems.append(f"{where}.operator is not part of a {flavour} plan")
            version = self.s(cp, "version", w)
            if version and not _VERSION.match(version):
                self.problems.append(f"{w}.version {version!r} is not a version like 1.28.2")
            return ControlPlane(
                name=self.s(cp, "name", w),
                namespace=self.s(cp, "namespace", w),
                version=version,
                operator=OperatorRelease("", "", "", "plain"),
                file=self.s(cp, "file", w, ""),
                global_=self.b(cp, "global", w, True),
                rev=self.s(cp, "revision", w),
            )
        operator = OperatorRelease(
            name=self.s(op, "name", f"{where}.operator"),
            namespace=self.s(op, "namespace", f"{where}.operator"),
            version=self.s(op, "version", f"{where}.operator"),
            form=self.s(op, "form", f"{where}.operator", "plain"),  # type: ignore[arg-type]
            file=self.s(op, "file", f"{where}.operator", ""),
        )
        version = self.s(cp, "version", w)
        if version and not _VERSION.match(version):
            self.problems.append(f"{w}.version {version!r} is not a version like 1.7.7")
        return ControlPlane(
            name=self.s(cp, "name", w),
            namespace=self.s(cp, "namespace", w),
            version=version,
            operator=operator,
            file=self.s(cp, "file", w, ""),
            global_=self.b(cp, "global", w, True),
        )

    def check(self, m: Any) -> ConnectivityCheck:
        src = m.get("from") if isinstance(m, Mapping) else None
        dst = m.get("to") if isinstance(m, Mapping) else None
        return ConnectivityCheck(
            source_namespace=self.s(src, "namespace", "checks.from"),
            source_selector=self.s(src, "selector", "checks.from"),
            source_container=self.s(src, "container", "checks.from", ""),
            target_namespace=self.s(dst, "namespace", "checks.to"),
            target_service=self.s(dst, "service", "checks.to"),
            port=self.i(dst, "port", "checks.to"),
        )


def read_plan_file(path: Path, where: str = PLAN_PATH) -> Plan:
    """Read and parse a plan file; unreadable or non-UTF-8 bytes are a PlanError naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PlanError(f"{where}: no plan; run `istio-canary init` first") from None
    except OSError as e:
        raise PlanError(f"{where}: cannot read ({e.strerror or e})") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise PlanError(f"{where}:{line}: not UTF-8 (byte 0x{raw[e.start]:02x})") from e
    return load_plan(text, where)


def load_plan(text: str, where: str = PLAN_PATH) -> Plan:
    """Parse the plan file's text; any YAML or schema problem is a PlanError naming `where`."""
    try:
        raw = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise PlanError(f"{where}{line}: invalid YAML ({getattr(e, 'problem', e)})") from e
    return Plan.from_dict(raw, where)


def dump_plan(plan: Plan) -> str:
    """The plan file's text: block style, keys in model order, a header saying what it is."""
    header = (
        "# istio-canary upgrade plan: written by `istio-canary init`, updated by each stage.\n"
        "# The repo is the only state; edit with care (the generator checks it against the repo).\n"
    )
    data = plan.to_dict()
    try:
        return header + _block(data)
    except _Unusual:
        body = yaml.dump(
            data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000
        )
        return header + body


# ----- writing the plan ------------------------------------------------------------------------
#
# Every stage rewrites the plan, and for a big mesh it is ~1 MB: PyYAML's representer (pure
# Python, one node per value) costs as much as parsing the whole repo. Plan data is a narrow
# subset of YAML (mappings with fixed keys, lists, names, paths, versions, ints, booleans), so it
# is written here directly, byte for byte what PyYAML's libyaml dumper writes for it (the tests
# compare the two); anything outside that subset makes the whole plan go through PyYAML.


class _Unusual(Exception):
    """A value outside the subset written directly."""


# Text that libyaml may write plain in block context: no indicator at the start, no space, quote,
# colon or `#`, nothing beyond ASCII (a comma only matters in flow context). Whether it then stays
# plain depends on how it would read back.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./=,-]*\Z")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


@functools.lru_cache(maxsize=8192)
def _text(value: str) -> str:
    """A string as libyaml writes it in block context (names recur: memoised), or _Unusual."""
    if not value:
        return "''"
    if len(value) < 128 and _PLAIN.match(value):
        tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
        # Text that would read back as another type (1.7, true, 0x10) is single-quoted.
        return value if tag == _STR_TAG else f"'{value}'"
    raise _Unusual


def _scalar(value: Any) -> str:
    """One scalar as libyaml writes it in block context, or _Unusual."""
    kind = type(value)
    if kind is str:
        return _text(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    raise _Unusual


def _flow(value: Any) -> str:
    if type(value) is dict and not value:
        return "{}"
    if type(value) is list and not value:
        return "[]"
    return _scalar(value)


def _block(data: dict[str, Any]) -> str:
    out: list[str] = []
    _mapping(data, 0, None, out)
    return "".join(out)


def _mapping(data: dict[str, Any], indent: int, first: str | None, out: list[str]) -> None:
    """Block mapping at `indent`; `first` is the `- ` lead when it starts a list item."""
    pad = " " * indent
    for key, value in data.items():
        lead = pad if first is None else first
        first = None
        kind = type(value)
        if kind is dict and value:
            out.append(f"{lead}{_scalar(key)}:\n")
            _mapping(value, indent + 2, None, out)
        elif kind is list and value:
            out.append(f"{lead}{_scalar(key)}:\n")
            _sequence(value, indent, out)
        else:
            out.append(f"{lead}{_scalar(key)}: {_flow(value)}\n")


def _sequence(items: list[Any], indent: int, out: list[str]) -> None:
    """Block sequence at `indent` (libyaml does not indent a list below its key)."""
    lead = " " * indent + "- "
    for item in items:
        kind = type(item)
        if kind is dict and item:
            _mapping(item, indent + 2, lead, out)
        elif kind is list and item:
            raise _Unusual
        else:
            out.append(f"{lead}{_flow(item)}\n")
