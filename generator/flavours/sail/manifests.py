"""Finding, in the repo, the objects the plan's Sail records name (for the stage kinds)."""

from __future__ import annotations

from typing import Any

from core.errors import PlanError
from core.plan import Plan
from generator.discovery import find_doc
from generator.flavours.helm.manifests import INJECTION, REV, label_ops
from generator.flavours.sail.objects import SAIL_GROUP
from generator.index import Document, RepoIndex

__all__ = [
    "INJECTION",
    "POD_ANNOTATIONS",
    "POD_LABELS",
    "REV",
    "find_deployment",
    "find_sail",
    "label_ops",
    "labels_of",
    "require_sail",
    "sail_version",
    "wanted_labels",
]

POD_LABELS = ("spec", "template", "metadata", "labels")
POD_ANNOTATIONS = ("spec", "template", "metadata", "annotations")


def find_sail(index: RepoIndex, kind: str, name: str) -> Document | None:
    """The cluster-scoped Sail object `kind`/`name` (sailoperator.io), or None."""
    return find_doc(index, kind, name, None, SAIL_GROUP)


def require_sail(index: RepoIndex, kind: str, name: str) -> Document:
    """The object, or a PlanError saying the plan no longer matches the repo."""
    doc = find_sail(index, kind, name)
    if doc is None:
        raise PlanError(
            f"plan does not match the repo: {kind} {name} (sailoperator.io) is gone "
            "(re-run init on a clean plan, or restore it)"
        )
    return doc


def find_deployment(index: RepoIndex, name: str, file: str) -> Document | None:
    """A Deployment by name in the file the plan recorded."""
    return next(
        (d for d in index.files.get(file, []) if d.kind == "Deployment" and d.name == name), None
    )


def sail_version(plan: Plan, doc: Document) -> str:
    """The object's `spec.version` as the plan writes versions (no `v`)."""
    return str(doc.get("spec", "version", default="")).removeprefix("v")


def wanted_labels(label: str) -> dict[str, str]:
    """The injection labels a namespace carries for an expected `istio.io/rev` value."""
    return {REV: label} if label else {INJECTION: "enabled"}


def labels_of(labels: dict[str, Any]) -> dict[str, str]:
    """The injection labels among `labels`, as strings."""
    return {k: str(labels[k]) for k in (INJECTION, REV) if k in labels}
