"""What a stage may look at: the index, the plan, its stage, and the editor it queues edits on."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import PlanError
from core.plan import Plan, Stage
from generator.discovery import find_doc
from generator.edits import Editor
from generator.index import Document, RepoIndex

__all__ = ["StageContext"]


@dataclass
class StageContext:
    """Inputs of one stage's planning."""

    index: RepoIndex
    plan: Plan
    stage: Stage
    editor: Editor

    def find(
        self, kind: str, name: str, namespace: str | None, group: str | None = None
    ) -> Document | None:
        return find_doc(self.index, kind, name, namespace, group)

    def require(
        self, kind: str, name: str, namespace: str | None, group: str | None = None
    ) -> Document:
        """The document, or a PlanError saying the plan no longer matches the repo."""
        doc = self.find(kind, name, namespace, group)
        if doc is None:
            where = f" in {namespace}" if namespace else ""
            raise PlanError(
                f"plan does not match the repo: {kind} {name}{where} is gone "
                "(re-run init on a clean plan, or restore it)"
            )
        return doc

    def old_cr(self) -> Document:
        src = self.plan.source
        return self.require("Istio", src.name, src.namespace, "istio.banzaicloud.io")
