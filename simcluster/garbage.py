"""Garbage collection: which objects go, or lose an owner reference, when their owner is deleted.

Kubernetes links a dependent to its owners by ``metadata.ownerReferences`` (owner uids). When
an owner goes, a dependent whose other owners are all gone is deleted too (Background or
Foreground propagation); one with a surviving owner only loses the reference; Orphan
propagation strips the reference and keeps every dependent. The Banzai operator relies on this
for the objects it renders for an Istio CR (docs/banzai-operator.md).

``OwnerIndex`` keeps the uid -> dependents map as the store changes. ``collect`` and ``orphan``
decide, one dependent at a time, and yield the decision for the store to apply: they are
generators so that each decision reads the store as the previous ones left it (deleting one
dependent can remove the last owner of the next).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from simcluster.apiobject import Obj
from simcluster.kinds import Kind

__all__ = ["Delete", "Lookup", "OwnerIndex", "Release", "collect", "orphan"]

ObjectKey = tuple[str, str, str]  # (kind, namespace or "", name)


@dataclass(frozen=True)
class Release:
    """Keep the dependent with these ownerReferences (None: drop the field)."""

    key: ObjectKey
    owner_references: list[Obj] | None


@dataclass(frozen=True)
class Delete:
    """Delete the dependent (its own dependents follow by the same propagation)."""

    key: ObjectKey


class Lookup(Protocol):
    """The store as garbage collection reads it: the stored object for a key, or None."""

    def stored(self, key: ObjectKey) -> Obj | None: ...


class OwnerIndex:
    """Dependents by owner uid, and which uids exist, updated on every store change."""

    def __init__(self) -> None:
        self._dependents: dict[str, set[ObjectKey]] = {}
        self._uids: set[str] = set()

    def track(self, kind: Kind, new: Obj | None, old: Obj | None) -> None:
        """Record a change: ``old`` replaced by ``new`` (None for a create or a removal)."""
        for obj, add in ((old, False), (new, True)):
            if obj is None:
                continue
            meta = obj["metadata"]
            key = (kind.name, meta.get("namespace", "") if kind.namespaced else "", meta["name"])
            for ref in meta.get("ownerReferences") or []:
                uid = ref.get("uid")
                if not uid:
                    continue
                if add:
                    self._dependents.setdefault(uid, set()).add(key)
                elif uid in self._dependents:
                    self._dependents[uid].discard(key)
                    if not self._dependents[uid]:
                        del self._dependents[uid]
        if new is not None:
            self._uids.add(new["metadata"]["uid"])
        elif old is not None:
            self._uids.discard(old["metadata"]["uid"])

    def dependents(self, owner_uid: str) -> list[ObjectKey]:
        """Keys of the objects naming ``owner_uid`` as an owner, in key order."""
        return sorted(self._dependents.get(owner_uid, ()))

    def exists(self, uid: str) -> bool:
        return uid in self._uids


def collect(owner_uid: str, index: OwnerIndex, objects: Lookup) -> Iterator[Release | Delete]:
    """What happens to each dependent of a deleted owner (all its owners must be gone)."""
    for key in index.dependents(owner_uid):
        stored = objects.stored(key)
        if stored is None:
            continue
        owners = [
            r for r in stored["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
        ]
        if any(index.exists(r.get("uid", "")) for r in owners):
            yield Release(key, owners)
        else:
            yield Delete(key)


def orphan(owner_uid: str, index: OwnerIndex, objects: Lookup) -> Iterator[Release]:
    """Orphan propagation: every dependent stays and loses its reference to the owner."""
    for key in index.dependents(owner_uid):
        stored = objects.stored(key)
        if stored is None:
            continue
        refs = [
            r for r in stored["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
        ]
        yield Release(key, refs or None)
