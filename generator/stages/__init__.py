"""Stage kinds, one module each with the same small shape, registered in :data:`STAGES`.

Every module has ``KIND`` (the plan's stage kind) and ``plan(ctx) -> dict`` which queues its edits
on ``ctx.editor`` and returns extra context for its commit-message template
(``templates/commit-<kind>.txt.j2``). Stages read the repo only through ``ctx`` and never write.
"""

from __future__ import annotations

from types import ModuleType

from generator.stages import cleanup, control_plane, gateways, namespaces
from generator.stages.context import StageContext

__all__ = ["STAGES", "StageContext"]

STAGES: dict[str, ModuleType] = {m.KIND: m for m in (control_plane, gateways, namespaces, cleanup)}
