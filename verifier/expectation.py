"""What the cluster must look like after stage N: the checks' single input besides the snapshot.

Pure: derived from the plan, so `stage N` means the same thing on every run. Stage 0 is the plan's
starting state; a `gate` adds the next stage's preconditions (for cleanup: nothing may still use
the old revision and no gateway may be owned by the old CR), and the run may add what the plan
cannot know: the commit the GitOps engine must have applied (:class:`SyncTarget`, known only from
the checkout) and a baseline of gateway Services from an earlier report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import UsageError
from core.helmplan import DEFAULT_REVISION, ChartRelease, adds_default_tag
from core.plan import ConnectivityCheck, ControlPlane, GatewayRef, Plan

if TYPE_CHECKING:  # the review runs git and the generator; expectations only carry its result
    from verifier.review import Review

__all__ = [
    "Baseline",
    "Expectation",
    "HelmExpectation",
    "SyncTarget",
    "expect_stage",
    "known_tags",
    "replaced_objects",
]

# "namespace/name" of a gateway Service -> its recorded {"uid": ..., "address": ...}
Baseline = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class SyncTarget:
    """The commit the cluster must have applied; `contains[rev]` answers "rev contains commit?"."""

    commit: str
    label: str
    contains: Mapping[str, bool | None] = field(default_factory=dict)


@dataclass(frozen=True)
class HelmExpectation:
    """The Helm flavour's part of stage N, answered by the plan's queries (`core.plan`).

    `tags` maps every revision tag the plan knows to the revision its webhook must point at after
    stage N ("" = no webhook of that tag may exist); `default_revision` is what base's
    `defaultRevision` names (the revision `istiod-default-validator` calls); `labels` the
    `istio.io/rev` value each planned namespace carries ("" = `istio-injection=enabled`);
    `gateways` each gateway release or Deployment with the control plane its pods must be on.
    """

    tags: Mapping[str, str]
    default_revision: str
    labels: Mapping[str, str]
    gateways: tuple[tuple[ChartRelease, ControlPlane], ...]


@dataclass(frozen=True)
class Expectation:
    """The postconditions of stage `index` (plus the preconditions of the stage after it)."""

    plan: Plan
    index: int
    present: tuple[ControlPlane, ...]
    absent: tuple[ControlPlane, ...]
    namespaces: Mapping[str, ControlPlane]
    moving: tuple[str, ...]
    gateways: tuple[tuple[GatewayRef, ControlPlane], ...]
    probes: tuple[ConnectivityCheck, ...]
    cleanup_safety: bool
    sync: SyncTarget | None = None  # set by a gate once the stage commits are known
    baseline: Baseline | None = None  # gateway Services as an earlier run recorded them
    allow_no_probes: bool = False  # a stage without connectivity checks may pass (an opt-in)
    review: Review | None = None  # a gate: the PR compared with the stage recomputed from base
    helm: HelmExpectation | None = None  # the Helm flavour's tags, default revision, labels

    @property
    def label(self) -> str:
        """`3/5 namespaces-1`, or `0/5 plan (starting state)`."""
        if self.index == 0:
            return f"0/{self.plan.total} plan (starting state)"
        return f"{self.index}/{self.plan.total} {self.plan.stage(self.index).name}"

    @property
    def gateway_routes(self) -> bool:
        """Whether the routes through the planned gateways are probed: from the gateways stage
        on, when a gateway on the new control plane fronts apps that may still be on the old."""
        return any(cp == self.plan.target for _, cp in self.gateways)

    @property
    def kind(self) -> str:
        return "plan" if self.index == 0 else self.plan.stage(self.index).kind

    @property
    def istiods(self) -> dict[str, str]:
        """`<istiod>.<namespace>` -> revision, for both control planes of the plan: how a
        proxy's configured discovery/CA address maps to the revision that injected it."""
        return {
            f"{cp.istiod}.{cp.namespace}": cp.revision
            for cp in (self.plan.source, self.plan.target)
        }

    def control_plane(self, revision: str) -> ControlPlane | None:
        """The plan's control plane with this `istio.io/rev` value."""
        for cp in (self.plan.source, self.plan.target):
            if cp.revision == revision:
                return cp
        return None


def _first_index(plan: Plan, kind: str) -> int:
    return next((s.index for s in plan.stages if s.kind == kind), plan.total + 1)


def expect_stage(plan: Plan, index: int, *, with_next_preconditions: bool = False) -> Expectation:
    """Expectation for stage `index` (0..total); a bad index is a usage error."""
    if not 0 <= index <= plan.total:
        raise UsageError(f"stage {index} does not exist: the plan has stages 0..{plan.total}")
    cp_at = _first_index(plan, "control-plane")
    cleanup_at = _first_index(plan, "cleanup")
    present: list[ControlPlane] = []
    absent: list[ControlPlane] = []
    (present if index < cleanup_at else absent).append(plan.source)
    if index >= cp_at:
        present.append(plan.target)
    moved = set(plan.migrated_namespaces(upto=index)) - set(plan.rolled_back)
    namespaces = {
        ns.name: plan.target if ns.name in moved else plan.source for ns in plan.namespaces
    }
    gw_cp = plan.target if plan.gateways_moved(upto=index) else plan.source
    stage = plan.stage(index) if index else None
    probes = stage.checks if stage and stage.checks else plan.baseline_checks
    next_is_cleanup = with_next_preconditions and index + 1 == cleanup_at
    return Expectation(
        plan=plan,
        index=index,
        present=tuple(present),
        absent=tuple(absent),
        namespaces=namespaces,
        moving=stage.namespaces if stage and stage.kind == "namespaces" else (),
        gateways=tuple((g, gw_cp) for g in plan.gateways),
        probes=tuple(probes),
        cleanup_safety=index >= cleanup_at or next_is_cleanup,
        helm=_helm(plan, index, moved),
    )


def replaced_objects(plan: Plan) -> tuple[str, str]:
    """The GitOps objects (by name) of the old and the new control plane: the operator
    releases (Banzai), or the istiod releases' Application/HelmRelease (Helm). The new one
    exists from control-plane on, the old one until cleanup."""
    if plan.helm is not None:
        return plan.helm.istiod_from.object_name, plan.helm.istiod_to.object_name
    return plan.source.operator.name, plan.target.operator.name


def known_tags(plan: Plan) -> tuple[str, ...]:
    """Every revision tag the plan declares, stable and canary, in a stable order."""
    h = plan.helm
    if h is None:
        return ()
    names = [*h.istiod_from.tags, *h.istiod_to.tags, *h.manifest_tags]
    names += [n for t in h.tags for n in (t.name, t.canary)]
    if adds_default_tag(plan.helm):
        names.append(DEFAULT_REVISION)
    return tuple(dict.fromkeys(n for n in names if n))


def _helm(plan: Plan, index: int, moved: set[str]) -> HelmExpectation | None:
    h = plan.helm
    if h is None:
        return None
    tags = {}
    for tag in known_tags(plan):
        if tag == DEFAULT_REVISION and adds_default_tag(plan.helm):
            # undeclared until cleanup hands it to the new release
            tags[tag] = plan.target.revision if plan.applied_by("cleanup", index) else ""
        else:
            tags[tag] = plan.tag_revision(tag, index)
    labels = {
        ns.name: plan.expected_label(ns.name, index) if ns.name in moved else ns.rev_label
        for ns in plan.namespaces
    }
    gw_cp = plan.target if plan.gateways_moved(upto=index) else plan.source
    return HelmExpectation(
        tags=tags,
        default_revision=plan.default_revision(index),
        labels=labels,
        gateways=tuple((g, gw_cp) for g in h.gateways),
    )
