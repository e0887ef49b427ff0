"""Finding, in the repo, the manifests the plan's Helm records name (for the stage kinds)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import PlanError
from core.helmplan import ChartRelease
from generator.flavours.helm.charts import ChartDoc, read_chart
from generator.index import Document, RepoIndex
from generator.yamledit import Op, delete_key, rename_key, set_value

__all__ = ["INJECTION", "REV", "find_deployment", "find_release", "label_ops", "require_release"]

INJECTION = "istio-injection"
REV = "istio.io/rev"


def find_release(index: RepoIndex, rel: ChartRelease) -> ChartDoc | None:
    """The chart release the plan records as `rel`, by its GitOps object and release name."""
    for d in index.files.get(rel.file, []):
        if d.name != rel.object_name:
            continue
        found = read_chart(index, d)
        if found is not None and found.name == rel.name and found.chart == rel.chart:
            return found
    return None


def require_release(index: RepoIndex, rel: ChartRelease) -> ChartDoc:
    found = find_release(index, rel)
    if found is None:
        raise PlanError(
            f"plan does not match the repo: the {rel.chart} release {rel.name} is not in "
            f"{rel.file} (re-run init on a clean plan, or restore it)"
        )
    return found


def find_deployment(index: RepoIndex, name: str, file: str) -> Document | None:
    return next(
        (d for d in index.files.get(file, []) if d.kind == "Deployment" and d.name == name), None
    )


def label_ops(
    pos: int, labels: dict[str, Any], want: dict[str, str], base: Sequence[str | int]
) -> list[Op]:
    """Edits turning `labels` (at path `base`) into ones with exactly `want` among
    istio-injection / istio.io/rev; a dropped label is renamed in place when one is added."""
    ops: list[Op] = []
    have = {k: labels.get(k) for k in (INJECTION, REV) if k in labels}
    drop = [k for k in have if k not in want]
    for key, value in want.items():
        if have.get(key) == value:
            continue
        if key in have:
            ops.append(set_value(pos, (*base, key), value))
        elif drop:
            ops.append(rename_key(pos, (*base, drop.pop(0)), key, value))
        else:
            ops.append(set_value(pos, (*base, key), value))
    ops.extend(delete_key(pos, (*base, k)) for k in drop)
    return ops
