"""Helpers the controllers share: ownership references, apply what they render, delete."""

from __future__ import annotations

from typing import Any

from simcluster.apierrors import StoreError
from simcluster.apiobject import deep_copy
from simcluster.store import Store

__all__ = [
    "apply_object",
    "controlled_by",
    "controller_of",
    "delete_quietly",
    "owner_ref",
    "terminating",
]

Obj = dict[str, Any]


def apply_object(store: Store, desired: Obj) -> Obj:
    """Create, or update the fields the operator renders (status and allocated fields stay)."""
    meta = desired["metadata"]
    live = store.get(desired["kind"], meta.get("namespace"), meta["name"])
    if live is None:
        return store.create(desired)
    merged = deep_copy(live)
    merged["metadata"]["labels"] = {
        **(live["metadata"].get("labels") or {}),
        **(meta.get("labels") or {}),
    }
    if meta.get("annotations"):
        merged["metadata"]["annotations"] = {
            **(live["metadata"].get("annotations") or {}),
            **meta["annotations"],
        }
    if "ownerReferences" in meta:
        merged["metadata"]["ownerReferences"] = meta["ownerReferences"]
    for key, value in desired.items():
        if key in ("metadata", "status", "apiVersion", "kind"):
            continue
        if key == "spec" and desired["kind"] == "Service":
            spec = dict(live.get("spec") or {})
            spec.update(value)
            merged["spec"] = spec
        else:
            merged[key] = value
    if merged == live:
        return live
    return store.update(merged)


def delete_quietly(store: Store, obj: Obj) -> None:
    meta = obj["metadata"]
    try:
        store.delete(obj["kind"], meta.get("namespace"), meta["name"])
    except StoreError:
        pass


def owner_ref(owner: Obj, *, controller: bool = True) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controlled_by(obj: Obj, owner_uid: str) -> bool:
    return any(
        r.get("uid") == owner_uid and r.get("controller")
        for r in obj["metadata"].get("ownerReferences") or []
    )


def controller_of(obj: Obj) -> Obj | None:
    return next(
        (r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")), None
    )


def terminating(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))
