"""The seam every stage kind implements: :class:`StageKind`, checked by mypy.

A kind is one module under ``generator/stages/`` holding one object that satisfies this Protocol,
plus one line in the registry (``generator/stages/__init__.py``, whose order is the plan's stage
order). A kind answers four questions, each from plain inputs:

- ``stages(outline)``: which stages of this kind the plan has, from what discovery found;
- ``problems(index, plan)``: what in the repo contradicts the plan's record of this kind's stages
  (a hand edit, another branch), so ``next`` and ``rollback`` refuse before editing anything;
- ``edit(ctx)``: queue this stage's edits on ``ctx.editor`` (never write) and return the extra
  context its commit-message template ``templates/commit-<kind>.txt.j2`` needs;
- ``subjects(plan, stage)``: candidate commit subjects, most informative first (the first that
  fits :data:`generator.headline.SUBJECT_MAX` is used).

docs/stages.md describes the stage model these implement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.plan import ConnectivityCheck, GatewayRef, Plan, Stage
from core.plan import StageKind as KindName
from generator.index import RepoIndex
from generator.stages.context import StageContext

__all__ = ["KindName", "Outline", "Probes", "StageKind", "applied"]

Probes = Callable[[Sequence[str], Sequence[str], Sequence[str]], tuple[ConnectivityCheck, ...]]
"""(left, right, anchor) namespaces -> the connectivity checks probing between them."""


@dataclass(frozen=True)
class Outline:
    """What kinds plan their stages from: the meshed namespaces in waves, the gateways to move,
    and how to probe connectivity between groups of namespaces."""

    namespaces: Sequence[str]
    waves: Sequence[Sequence[str]]
    gateways: tuple[GatewayRef, ...]
    probes: Probes


class StageKind(Protocol):
    """One kind of stage: how it is planned, checked against the repo, applied and described."""

    @property
    def name(self) -> KindName:
        """The kind as the plan file records it (`Stage.kind`)."""
        ...

    def stages(self, outline: Outline) -> list[Stage]:
        """This kind's stages in plan order; their `index` is set by the planner."""
        ...

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        """Where the repo contradicts what the plan says about this kind's stages."""
        ...

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        """Queue the stage's edits on `ctx.editor`; return extra commit-message context."""
        ...

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        """Commit subject candidates, most informative first."""
        ...


def applied(plan: Plan, kind: KindName) -> bool:
    """Whether any stage of `kind` is applied (for single-stage kinds: whether it is)."""
    return any(s.kind == kind and s.applied for s in plan.stages)
