"""GitOps sync: the engine *applied* a commit that contains the stage's commit, and is healthy now.

Argo CD: `status.operationState.syncResult.revision` (not `sync.revision`, which is
only what the last comparison saw), the operation finished and Succeeded, no new operation
requested, `reconciledAt >= finishedAt` (health re-assessed after the sync), health `Healthy`.
Flux: `status.lastAppliedRevision` (`main@sha1:<sha>` or the older `main/<sha>`),
`observedGeneration == metadata.generation`, condition `Ready=True`. "Contains" is git ancestry in
the checkout (`git merge-base --is-ancestor`), answered before the check runs and passed in.
Helm-chart sources have no commit; for them only the operation and health are judged. A Flux
HelmRelease is gated like its parent Kustomization minus the commit: `observedGeneration`
current, `Ready=True`, not `Stalled`, `Released` not False, and the newest `history` entry
`deployed`; its evidence is the chart version (v2 `history[0].chartVersion`, v2beta1
`lastAppliedRevision`).

An Argo CD Application OutOfSync only because istiod rewrote its own webhooks' `caBundle` and
validators' `failurePolicy` (a repo without the `ignoreDifferences` the control-plane stage
adds) is not held against the stage: `verifier/webhookdrift.py` decides that from Argo CD's
per-resource status and the live objects, and the evidence names the configurations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from verifier.checks.base import Phase
from verifier.expectation import Expectation, SyncTarget
from verifier.result import CheckResult
from verifier.snapshot import GitOpsRef, Snapshot
from verifier.webhookdrift import istiod_drift

__all__ = ["NAME", "GitOpsSync", "SyncTarget", "applied_revision", "check", "is_commit"]

NAME = "gitops-sync"
_SHA = re.compile(r"^[0-9a-f]{40}$")


class GitOpsSync:
    """Judged by a gate, once it knows which commit the engine must have applied."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.sync is not None

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        if expect.sync is None:
            return CheckResult.pending(NAME, "no stage commit to compare the applied one with")
        return check(snap, expect.sync)


def applied_revision(ref: GitOpsRef, obj: Mapping[str, Any]) -> str:
    """The commit an Application/Kustomization applied ("" when none or not a commit)."""
    status = obj.get("status") or {}
    if ref.kind == "HelmRelease":
        history = status.get("history") or [{}]
        return str(history[0].get("chartVersion") or status.get("lastAppliedRevision") or "")
    if ref.kind == "Application":
        result = (status.get("operationState") or {}).get("syncResult") or {}
        rev = result.get("revision") or next(iter(result.get("revisions") or ()), "")
        return str(rev or "")
    raw = str(status.get("lastAppliedRevision") or "")
    if "@" in raw:
        raw = raw.rsplit("@", 1)[1]
        raw = raw.split(":", 1)[1] if ":" in raw else raw
    elif "/" in raw:
        raw = raw.rsplit("/", 1)[1]
    return raw


def is_commit(revision: str) -> bool:
    return bool(_SHA.match(revision))


def check(snap: Snapshot, target: SyncTarget) -> CheckResult:
    if not snap.gitops:
        return CheckResult.pending(
            NAME,
            "no Argo CD Application or Flux Kustomization/HelmRelease found: cannot confirm the stage was applied",
        )
    evidence: list[dict[str, Any]] = []
    pending: list[str] = []
    failed: list[str] = []
    webhooks = _live_webhooks(snap)
    for ref, obj in sorted(
        snap.gitops.items(), key=lambda kv: (kv[0].kind, kv[0].namespace, kv[0].name)
    ):
        who = f"{ref.kind} {ref.namespace}/{ref.name}"
        if obj is None:
            pending.append(f"{who} not found")
            evidence.append({"object": who, "found": False})
            continue
        rev = applied_revision(ref, obj)
        problems = (
            _argo(obj, webhooks)
            if ref.kind == "Application"
            else _helm_release(obj)
            if ref.kind == "HelmRelease"
            else _flux(obj)
        )
        status = obj.get("status") or {}
        record: dict[str, Any] = {
            "object": who,
            "appliedRevision": rev,
            "operation": ((status.get("operationState") or {}).get("phase", "")),
            "health": ((status.get("health") or {}).get("status", "")),
            "syncStatus": ((status.get("sync") or {}).get("status", "")),
            "problems": problems,
        }
        if ref.kind == "Application" and record["syncStatus"] != "Synced" and webhooks is not None:
            accepted = istiod_drift(obj, webhooks).accepted
            if accepted:
                record["istiodWebhookDrift"] = list(accepted)
        if ref.kind == "HelmRelease":
            record["chartVersion"] = rev
            if not rev:
                problems.append("has released no chart yet")
        elif is_commit(rev):
            contained = target.contains.get(rev)
            record["containsStageCommit"] = contained
            if contained is None:
                problems.append(
                    f"applied {rev[:12]}, which is not in this checkout (fetch the branch it follows)"
                )
            elif not contained:
                problems.append(
                    f"applied {rev[:12]}, which does not contain {target.label} ({target.commit[:12]})"
                )
        elif _chart_source(obj) and rev:
            record["chartVersion"] = rev
        else:
            problems.append(f"has applied no commit yet ({rev or 'no revision'})")
        evidence.append(record)
        pending.extend(f"{who} {p}" for p in problems)
        if ref.kind != "Application" and (why := _stalled(obj)):
            failed.append(f"{who} {why}")
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    return CheckResult.passed(
        NAME,
        f"{len(snap.gitops)} object(s) applied a commit containing {target.label} ({target.commit[:12]}) and are healthy",
        evidence,
    )


def _chart_source(obj: Mapping[str, Any]) -> bool:
    spec = obj.get("spec") or {}
    sources = [spec.get("source") or {}, *(spec.get("sources") or ())]
    return any(s.get("chart") for s in sources)


def _live_webhooks(snap: Snapshot) -> dict[tuple[str, str], Mapping[str, Any]] | None:
    """The live webhook configurations by (kind, name); None when this plan did not read them."""
    if snap.helm is None:
        return None
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for kind, objs in (
        ("MutatingWebhookConfiguration", snap.helm.mutating),
        ("ValidatingWebhookConfiguration", snap.helm.validating),
    ):
        for obj in objs:
            out[(kind, str((obj.get("metadata") or {}).get("name", "")))] = obj
    return out


def _argo(
    app: Mapping[str, Any], webhooks: Mapping[tuple[str, str], Mapping[str, Any]] | None
) -> list[str]:
    problems: list[str] = []
    status = app.get("status") or {}
    op = status.get("operationState") or {}
    if app.get("operation"):
        problems.append("has a sync operation requested")
    phase = op.get("phase", "")
    if not op:
        problems.append("has not synced yet")
    elif phase != "Succeeded" or not op.get("finishedAt"):
        problems.append(
            f"operation {phase or 'unknown'}{': ' + op['message'] if op.get('message') else ''}"
        )
    finished, reconciled = _time(op.get("finishedAt")), _time(status.get("reconciledAt"))
    if finished and (reconciled is None or reconciled < finished):
        problems.append(
            "health not re-assessed since the sync finished (reconciledAt < finishedAt)"
        )
    for cond in status.get("conditions") or ():
        if cond.get("type") in ("ComparisonError", "InvalidSpecError"):
            problems.append(f"{cond['type']}: {cond.get('message', '')}")
    sync = (status.get("sync") or {}).get("status", "")
    if sync != "Synced":  # the live objects differ from git (drift, or sync turned off)
        drift = (
            istiod_drift(app, webhooks) if sync == "OutOfSync" and webhooks is not None else None
        )
        if drift is None or not drift.accepted:
            why = f" ({drift.why})" if drift is not None and drift.why else ""
            problems.append(f"sync status {sync or 'unknown'}, not Synced{why}")
    health = (status.get("health") or {}).get("status", "")
    if health != "Healthy":
        problems.append(f"health {health or 'unknown'}")
    return problems


def _flux(ks: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    status = ks.get("status") or {}
    generation = (ks.get("metadata") or {}).get("generation")
    if generation is not None and status.get("observedGeneration") != generation:
        observed = status.get("observedGeneration")
        problems.append(
            f"observedGeneration {'unset' if observed is None else observed} != generation {generation}"
        )
    attempted, applied = status.get("lastAttemptedRevision"), status.get("lastAppliedRevision")
    if attempted and applied and attempted != applied:  # Ready must be about the applied commit
        problems.append(f"last attempted {attempted} but last applied {applied}")
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    if not ready or ready.get("status") != "True":
        reason = (
            f"{ready.get('reason', '')}: {ready.get('message', '')}"
            if ready
            else "no Ready condition"
        )
        problems.append(f"not Ready ({reason})")
    return problems


def _helm_release(hr: Mapping[str, Any]) -> list[str]:
    """helm-controller's verdict: a HelmRelease records no commit, its parent Kustomization does."""
    problems = _flux(hr)
    status = hr.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or ()}
    for ctype, bad in (("Released", "False"),):
        cond = conditions.get(ctype)
        if cond and cond.get("status") == bad:
            problems.append(f"{ctype}={bad} ({cond.get('reason', '')}: {cond.get('message', '')})")
    newest = (status.get("history") or [{}])[0]
    if newest and newest.get("status") not in (None, "deployed"):
        problems.append(
            f"release {newest.get('name', '')} v{newest.get('version', '?')} is {newest['status']}"
        )
    return problems


def _stalled(obj: Mapping[str, Any]) -> str:
    """Flux's own "retrying cannot help" (Stalled=True, e.g. RetriesExceeded), or ""."""
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Stalled" and cond.get("status") == "True":
            return f"is Stalled ({cond.get('reason', '')}: {cond.get('message', '')})"
    return ""


def _time(raw: Any) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
