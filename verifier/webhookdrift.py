"""istiod's own edits to its webhook configurations, told apart from real drift by live facts.

istiod writes its CA bundle into every webhook of the configurations labelled with its revision
(istio `pkg/webhooks/webhookpatch.go`) and, in its validators, also sets `failurePolicy: Fail`
where the charts render `Ignore` (`pkg/webhooks/validation/controller`). An Argo CD
Application rendering them without an `ignoreDifferences` for those fields is OutOfSync for
ever, and the stage that adds the `ignoreDifferences` cannot merge while its gate wants Synced.

So an OutOfSync Application is accepted as "Synced but for istiod" only when every resource
Argo CD itself reports OutOfSync (`status.resources[]`) is such a configuration, and the live
object differs from what Argo CD last applied to it (`kubectl.kubernetes.io/last-applied-
configuration`, which its client-side apply writes) in nothing but those fields. That
comparison is only meaningful when the comparison that found the drift looked at the revision
that was applied (`sync.revision(s)` = `syncResult.revision(s)`). Anything else, a missing
annotation (server-side apply) or resource list included, is not accepted: fail-closed. Nothing
here reads the PR under review.

A bundle that keeps changing is another matter (`churned`): the gate compares each evaluation's
bundles with the previous one's and names a webhook whose set bundle changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LAST_APPLIED", "WEBHOOK_GROUP", "Drift", "ca_bundles", "churned", "istiod_drift"]

Obj = Mapping[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
WEBHOOK_GROUP = "admissionregistration.k8s.io"
MUTATING = "MutatingWebhookConfiguration"
VALIDATING = "ValidatingWebhookConfiguration"


@dataclass(frozen=True)
class Drift:
    """The verdict: `accepted` names each configuration, or `why` says why it is not."""

    accepted: tuple[str, ...] = ()
    why: str = ""


def istiod_drift(app: Obj, live: Mapping[tuple[str, str], Obj]) -> Drift:
    """Is every OutOfSync resource of `app` only istiod's rewrite of its webhooks?

    `live` maps (kind, name) to the live webhook configurations.
    """
    status = app.get("status") or {}
    sync = status.get("sync") or {}
    result = (status.get("operationState") or {}).get("syncResult") or {}
    compared = sync.get("revisions") or sync.get("revision")
    applied = result.get("revisions") or result.get("revision")
    if not compared or compared != applied:
        return Drift(why="the last comparison was not of the applied revision")
    out_of_sync = [r for r in status.get("resources") or () if r.get("status") == "OutOfSync"]
    if not out_of_sync:
        return Drift(why="Argo CD lists no OutOfSync resource")
    accepted: list[str] = []
    for res in out_of_sync:
        kind, name = str(res.get("kind", "")), str(res.get("name", ""))
        who = f"{kind} {name}"
        if res.get("group") != WEBHOOK_GROUP or kind not in (MUTATING, VALIDATING):
            return Drift(why=f"{who} is OutOfSync")
        if res.get("requiresPruning"):
            return Drift(why=f"{who} is no longer in Git (requires pruning)")
        obj = live.get((kind, name))
        if obj is None:
            return Drift(why=f"{who} is OutOfSync and not found live")
        why = _only_istiod_fields(kind, obj)
        if why:
            return Drift(why=f"{who} {why}")
        accepted.append(who)
    return Drift(accepted=tuple(accepted))


def _only_istiod_fields(kind: str, obj: Obj) -> str:
    """ "" when `obj` differs from its last applied configuration only where istiod writes."""
    meta = obj.get("metadata") or {}
    if not (meta.get("labels") or {}).get("istio.io/rev"):
        return "has no istio.io/rev label, so no istiod patches it"
    raw = (meta.get("annotations") or {}).get(LAST_APPLIED)
    try:
        applied = json.loads(raw) if raw else None
    except ValueError:
        applied = None
    if not isinstance(applied, dict):
        return f"has no readable {LAST_APPLIED} to compare with"
    for key, value in applied.items():
        if key in ("apiVersion", "kind", "metadata", "status", "webhooks"):
            continue
        if not _covers(value, obj.get(key)):
            return f"differs in {key}"
    for key in ("labels", "annotations"):
        for k, v in ((applied.get("metadata") or {}).get(key) or {}).items():
            if ((meta.get(key) or {}).get(k)) != v:
                return f"differs in metadata.{key}.{k}"
    want = {str(h.get("name")): h for h in applied.get("webhooks") or () if isinstance(h, dict)}
    have = {str(h.get("name")): h for h in obj.get("webhooks") or () if isinstance(h, dict)}
    if set(want) != set(have):
        return "has other webhooks than Argo CD applied"
    for name, hook in want.items():
        for key, value in hook.items():
            if key == "failurePolicy" and kind == VALIDATING and have[name].get(key) == "Fail":
                continue
            if key == "clientConfig" and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k != "caBundle"}
                live_client = {
                    k: v for k, v in (have[name].get(key) or {}).items() if k != "caBundle"
                }
                if not _covers(value, live_client):
                    return f"differs in webhook {name} clientConfig"
                continue
            if not _covers(value, have[name].get(key)):
                return f"differs in webhook {name} {key}"
    return ""


def _covers(applied: Any, live: Any) -> bool:
    """Does `live` hold every field `applied` sets, with the same value (defaults may add)?"""
    if isinstance(applied, dict):
        return isinstance(live, dict) and all(_covers(v, live.get(k)) for k, v in applied.items())
    if isinstance(applied, list):
        return (
            isinstance(live, list)
            and len(applied) == len(live)
            and all(_covers(a, b) for a, b in zip(applied, live, strict=True))
        )
    return bool(applied == live)


def ca_bundles(mutating: Iterable[Obj], validating: Iterable[Obj]) -> dict[str, str]:
    """The `caBundle` of each webhook of every configuration istiod patches (labelled
    `istio.io/rev`), by `Kind name/webhook`; "" where none is set yet."""
    out: dict[str, str] = {}
    for kind, configs in ((MUTATING, mutating), (VALIDATING, validating)):
        for cfg in configs:
            meta = cfg.get("metadata") or {}
            if not (meta.get("labels") or {}).get("istio.io/rev"):
                continue
            for hook in cfg.get("webhooks") or ():
                bundle = (hook.get("clientConfig") or {}).get("caBundle") or ""
                out[f"{kind} {meta.get('name', '')}/{hook.get('name', '')}"] = str(bundle)
    return out


def churned(earlier: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """Webhooks whose CA bundle went from one value to another between two reads.

    istiod writes its root once (empty -> set), and a canary's revisions share one root, so a
    set bundle that changes means something keeps rewriting it: istiods of different roots, a
    CA being replaced, or a sync fighting istiod. While it churns, the API server's calls to
    istiod fail TLS verification whenever its bundle and istiod's certificate disagree.
    """
    return sorted(k for k, v in now.items() if v and earlier.get(k) and earlier[k] != v)
