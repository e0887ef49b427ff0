"""What a stage changes, object by object: the semantic diff shown in a stage's PR body.

A reviewer wants "Namespace demo-a: label istio-injection removed, istio.io/rev added", not a
text diff of YAML. Pure text in, dataclasses out: both sides of each changed file are parsed as
YAML documents, matched by (kind, namespace, name), and compared field by field with deepdiff.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from core.errors import InputError
from core.plan import PLAN_PATH

__all__ = ["ChangedFile", "FieldChange", "ObjectChange", "semantic_diff"]

# libyaml's parser when pyyaml has it: a wave's diff parses hundreds of files.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MAX_FIELDS = 40


@dataclass(frozen=True)
class ChangedFile:
    """One file of the stage commit; None means the file does not exist on that side."""

    path: str
    before: str | None
    after: str | None

    @property
    def action(self) -> Literal["create", "modify", "delete"]:
        """The generator's edit vocabulary."""
        if self.before is None:
            return "create"
        return "delete" if self.after is None else "modify"


@dataclass(frozen=True)
class FieldChange:
    """One field of one object: `before`/`after` are short renderings, '' when absent."""

    path: str
    before: str
    after: str


@dataclass(frozen=True)
class ObjectChange:
    """A Kubernetes object the stage adds, removes or modifies, and where it lives."""

    file: str
    kind: str
    namespace: str
    name: str
    action: Literal["added", "removed", "modified"]
    fields: tuple[FieldChange, ...] = ()
    more: int = 0

    @property
    def ref(self) -> str:
        """`Kind namespace/name` (or `Kind name` for cluster-scoped objects)."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}".strip()


def semantic_diff(files: Iterable[ChangedFile]) -> tuple[ObjectChange, ...]:
    """Objects and fields changed, from the YAML documents on both sides of each file."""
    changes: list[ObjectChange] = []
    for f in files:
        if f.path == PLAN_PATH or not f.path.endswith((".yaml", ".yml")):
            continue
        before, after = _objects(f.before, f.path), _objects(f.after, f.path)
        for key in sorted(before.keys() | after.keys()):
            kind, namespace, name = key
            if key not in before:
                changes.append(ObjectChange(f.path, kind, namespace, name, "added"))
            elif key not in after:
                changes.append(ObjectChange(f.path, kind, namespace, name, "removed"))
            else:
                fields = _fields(before[key], after[key])
                if fields:
                    changes.append(
                        ObjectChange(
                            f.path,
                            kind,
                            namespace,
                            name,
                            "modified",
                            tuple(fields[:_MAX_FIELDS]),
                            max(0, len(fields) - _MAX_FIELDS),
                        )
                    )
    return tuple(changes)


def _objects(text: str | None, path: str) -> dict[tuple[str, str, str], Any]:
    if text is None:
        return {}
    try:
        docs = list(yaml.load_all(text, Loader=_LOADER))
    except yaml.YAMLError as e:
        raise InputError(f"{path}: cannot be read as YAML for the PR diff ({e})") from None
    found: dict[tuple[str, str, str], Any] = {}
    for doc in docs:
        if isinstance(doc, Mapping) and doc.get("kind"):
            meta = doc.get("metadata") or {}
            key = (str(doc["kind"]), str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            found[key] = doc
    return found


def _fields(before: Any, after: Any) -> list[FieldChange]:
    from deepdiff import DeepDiff  # ~0.1 s to import (pydantic): only when a PR is rendered

    diff = DeepDiff(before, after, view="tree", threshold_to_diff_deeper=0)
    out: list[FieldChange] = []
    for levels in diff.values():
        for level in levels:
            out.append(
                FieldChange(
                    _dotted(level.path(output_format="list")),
                    _short(level.t1),
                    _short(level.t2),
                )
            )
    return sorted(out, key=lambda c: c.path)


def _dotted(parts: list[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(part)):
            out += ("." if out else "") + str(part)
        else:
            out += f'["{part}"]'
    return out


def _short(value: Any) -> str:
    if type(value).__name__ == "NotPresent":
        return ""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 70 else text[:67] + "..."
