"""The stage kinds, in plan order: the one registry the planner and the commands read.

Each kind is a module here holding an object that satisfies :class:`~generator.stages.kind.
StageKind` (see that module for the seam). Adding a kind is its module plus one line in
:data:`KINDS`; the plan file's list of kind names (``core.plan.StageKind``) must know the name.
Kinds read the repo only through a :class:`StageContext` and never write.
"""

from __future__ import annotations

from generator.stages import cleanup, control_plane, gateways, namespaces
from generator.stages.context import StageContext
from generator.stages.kind import Outline, StageKind

__all__ = ["KINDS", "Outline", "StageContext", "StageKind", "kind_of"]

KINDS: tuple[StageKind, ...] = (
    control_plane.KIND,
    gateways.KIND,
    namespaces.KIND,
    cleanup.KIND,
)


def kind_of(name: str) -> StageKind:
    """The registered kind called `name` (the plan loader has already refused unknown kinds)."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)
