"""Conditions, states, "in use" and pruning of Sail's objects, decided from plain objects.

What the Sail controllers write (istio-ecosystem/sail-operator ``api/v1``, ``controllers/``,
``pkg/revision``, ``pkg/reconciler``):

- A condition keeps its ``lastTransitionTime`` while its status stays the same; ``state`` is
  the reason of the first condition that is not True, or ``Healthy`` when all are.
- IstioRevision ``Ready``: its istiod Deployment exists, has replicas and all are ready
  (reason ``Ready``; else ``IstiodNotReady`` with "istiod Deployment not found", "... is scaled
  to zero replicas" or "not all istiod pods are ready").
- IstioRevision ``InUse``: an IstioRevisionTag whose ``status.istioRevision`` is the revision;
  a namespace whose injection label resolves to it (``istio-injection=enabled`` means the
  revision ``default``, else ``istio.io/rev``); a pod not ``Succeeded`` whose ``istio.io/rev``
  annotation (written by the injector) names it, or, in a namespace without such label, whose
  own ``istio.io/rev`` label (or ``sidecar.istio.io/inject=true`` for ``default``) does.
  Reasons ``ReferencedByWorkloads`` / ``NotReferencedByAnything``.
- IstioRevisionTag ``InUse``: a namespace label or, in unlabelled namespaces, a pod label names
  the tag (the tag's own revision annotation on pods names the revision, not the tag).
- Pruning: a revision that is not the active one and whose ``InUse`` is False for longer than
  the grace period (from the condition's ``lastTransitionTime``) is deleted; ``Unknown`` never.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

__all__ = [
    "DEFAULT_REVISION",
    "condition",
    "daemonset_ready",
    "derive_state",
    "get_condition",
    "istiod_ready",
    "namespace_revision",
    "pod_revision_label",
    "prune_due",
    "revision_in_use",
    "set_condition",
    "tag_in_use",
]

Obj = dict[str, Any]
DEFAULT_REVISION = "default"
HEALTHY = "Healthy"


def condition(ctype: str, status: bool | None, reason: str, message: str = "") -> Obj:
    """A condition as Sail writes it (``status`` None is ``Unknown``)."""
    text = "Unknown" if status is None else ("True" if status else "False")
    out: Obj = {"type": ctype, "status": text, "reason": reason}
    if message:
        out["message"] = message
    return out


def get_condition(obj: Obj | None, ctype: str) -> Obj:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return {"type": ctype, "status": "Unknown"}


def set_condition(conditions: list[Obj], new: Obj, now: str) -> list[Obj]:
    """``conditions`` with ``new`` in place, keeping the transition time while status holds."""
    out: list[Obj] = []
    placed = False
    for old in conditions:
        if old.get("type") != new["type"]:
            out.append(old)
            continue
        same = old.get("status") == new["status"] and old.get("lastTransitionTime")
        out.append({**new, "lastTransitionTime": old["lastTransitionTime"] if same else now})
        placed = True
    if not placed:
        out.append({**new, "lastTransitionTime": now})
    return out


def derive_state(conditions: Iterable[Obj], healthy: str = HEALTHY) -> str:
    for c in conditions:
        if c.get("status") != "True":
            return str(c.get("reason") or "")
    return healthy


def istiod_ready(deployment: Obj | None) -> Obj:
    """An IstioRevision's ``Ready`` condition from its istiod Deployment."""
    if deployment is None:
        return condition("Ready", False, "IstiodNotReady", "istiod Deployment not found")
    status = deployment.get("status") or {}
    replicas = int(status.get("replicas") or 0)
    if replicas == 0:
        return condition(
            "Ready", False, "IstiodNotReady", "istiod Deployment is scaled to zero replicas"
        )
    if int(status.get("readyReplicas") or 0) < replicas:
        return condition("Ready", False, "IstiodNotReady", "not all istiod pods are ready")
    return condition("Ready", True, "Ready")


def daemonset_ready(daemonset: Obj | None, component: str = "istio-cni-node") -> Obj:
    """An IstioCNI's ``Ready`` condition from its DaemonSet."""
    if daemonset is None:
        return condition("Ready", False, "DaemonSetNotReady", f"{component} DaemonSet not found")
    status = daemonset.get("status") or {}
    scheduled = int(status.get("currentNumberScheduled") or 0)
    if scheduled == 0:
        return condition(
            "Ready", False, "DaemonSetNotReady", f"no {component} pods are currently scheduled"
        )
    if int(status.get("numberReady") or 0) < scheduled:
        return condition("Ready", False, "DaemonSetNotReady", f"not all {component} pods are ready")
    return condition("Ready", True, "Ready")


def namespace_revision(labels: dict[str, str]) -> str:
    """The revision (or tag) a namespace's labels select; ``istio-injection`` wins."""
    if labels.get("istio-injection") == "enabled":
        return DEFAULT_REVISION
    return str(labels.get("istio.io/rev") or "")


def pod_revision_label(labels: dict[str, str]) -> str:
    """The revision (or tag) a pod's own labels ask for."""
    if labels.get("sidecar.istio.io/inject") == "false":
        return ""
    if labels.get("istio.io/rev"):
        return str(labels["istio.io/rev"])
    return DEFAULT_REVISION if labels.get("sidecar.istio.io/inject") == "true" else ""


def _labels(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _live_pods(pods: Iterable[Obj]) -> Iterable[Obj]:
    return (p for p in pods if (p.get("status") or {}).get("phase") != "Succeeded")


def revision_in_use(
    name: str, tags: Iterable[Obj], namespaces: Iterable[Obj], pods: Iterable[Obj]
) -> str:
    """Why revision ``name`` is in use (a description), or "" when nothing references it."""
    for tag in tags:
        if (tag.get("status") or {}).get("istioRevision") == name:
            return f"IstioRevisionTag {tag['metadata']['name']}"
    ns_rev: dict[str, str] = {}
    for ns in namespaces:
        ns_rev[ns["metadata"]["name"]] = rev = namespace_revision(_labels(ns))
        if rev == name:
            return f"Namespace {ns['metadata']['name']}"
    for pod in _live_pods(pods):
        meta = pod["metadata"]
        pod_ns = str(meta.get("namespace") or "")
        if pod_ns not in ns_rev:
            continue
        injected = (meta.get("annotations") or {}).get("istio.io/rev")
        if injected == name or (not ns_rev[pod_ns] and pod_revision_label(_labels(pod)) == name):
            return f"Pod {pod_ns}/{meta['name']}"
    return ""


def tag_in_use(tag: str, namespaces: Iterable[Obj], pods: Iterable[Obj]) -> bool:
    ns_rev: dict[str, str] = {}
    for ns in namespaces:
        ns_rev[ns["metadata"]["name"]] = rev = namespace_revision(_labels(ns))
        if rev == tag:
            return True
    return any(
        ns_rev.get(str(p["metadata"].get("namespace") or ""), "x") == ""
        and pod_revision_label(_labels(p)) == tag
        for p in _live_pods(pods)
    )


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def prune_due(
    revisions: Iterable[Obj], active: str, grace: float, now: dt.datetime
) -> tuple[list[str], float | None]:
    """Revisions to delete now, and the seconds until the next one falls due (None if none)."""
    delete: list[str] = []
    wait: float | None = None
    for rev in revisions:
        name = rev["metadata"]["name"]
        in_use = get_condition(rev, "InUse")
        if name == active or in_use.get("status") != "False":
            continue
        since = in_use.get("lastTransitionTime")
        if not since:
            continue
        left = (_parse(str(since)) + dt.timedelta(seconds=grace) - now).total_seconds()
        if left < 0:
            delete.append(name)
        else:
            wait = left if wait is None else min(wait, left)
    return delete, wait
