"""Gateways: each MeshGateway bound to the expected CP, its pods on that proxy, its Service kept.

The hand-over must not recreate the gateway's Service (that would replace the LoadBalancer and its
address; see docs/banzai-operator.md on ownerReferences). Where the baseline comes from, in order:

1. `--baseline REPORT.json`: a JSON report of an earlier run (e.g. the gate before the gateways
   stage) records each gateway Service's UID and address; any change fails.
2. Otherwise, evidence inside the cluster, all on the API server's own clock: the Service must be
   owned by the *current* MeshGateway (ownerReference UID) when it has an owner; must not have
   been created more than `RECREATE_SLACK` seconds after that MeshGateway (the operator creates
   both in one reconcile); and, once the new control plane's `Istio` CR exists, must be older than
   that CR. The last rule catches the worst case, where the MeshGateway and its Service were
   garbage-collected and re-created *together* (deleting the old CR while it still owned the
   gateway): every gateway in the plan existed before the upgrade started, so its Service cannot
   legitimately be younger than the canary control plane.
A recreated Service fails at once (it will not heal); a missing address is pending.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from verifier import pods as P
from verifier.checks.base import Phase
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

NAME = "gateways"
RECREATE_SLACK = 30.0


class Gateways:
    """Judged at every stage, against the baseline report when the run was given one."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return True

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect, expect.baseline)


def check(
    snap: Snapshot, expect: Expectation, baseline: Mapping[str, Mapping[str, str]] | None = None
) -> CheckResult:
    if not expect.gateways:
        return CheckResult.passed(NAME, "the plan has no gateways")
    evidence: list[dict[str, Any]] = []
    pending: list[str] = []
    failed: list[str] = []
    for gw, cp in expect.gateways:
        key = f"{gw.namespace}/{gw.name}"
        mgw = snap.meshgateways.get((gw.namespace, gw.name))
        svc = snap.services.get((gw.namespace, gw.name))
        uid, address = _uid(svc), service_address(svc)
        record: dict[str, Any] = {"gateway": key, "expectedControlPlane": cp.name}
        record["service"] = {"uid": uid, "address": address}
        evidence.append(record)
        if mgw is None:
            pending.append(f"MeshGateway {key} not found")
            continue
        bound = str(((mgw.get("spec") or {}).get("istioControlPlane") or {}).get("name", ""))
        record["controlPlane"] = bound or "(unset: oldest Istio CR)"
        if bound != cp.name:
            pending.append(
                f"MeshGateway {key} is bound to {bound or 'the oldest Istio CR'}, expected {cp.name}"
            )
        status = mgw.get("status") or {}
        state, error = str(status.get("Status") or ""), str(status.get("ErrorMessage") or "")
        record["status"] = state
        if state == "ReconcileFailed" and "pending" not in error.lower():
            failed.append(f"MeshGateway {key} is ReconcileFailed: {error}")
        elif state != "Available":
            pending.append(f"MeshGateway {key} is {state or 'not reconciled yet'}")
        if svc is None:
            pending.append(f"Service {key} not found")
        else:
            canary = snap.istios.get((expect.plan.target.namespace, expect.plan.target.name))
            recreated = _recreated(key, svc, mgw, baseline, canary)
            if recreated:
                failed.append(recreated)
            elif not address:
                pending.append(f"Service {key} has no external address yet")
        pods = [p for p in snap.pods_in(gw.namespace) if P.labels(p).get("gateway-name") == gw.name]
        pods = [p for p in pods if not P.is_finished(p)]
        record["pods"] = [
            {
                "pod": (p.get("metadata") or {}).get("name"),
                "revision": P.revision(p),
                "version": P.proxy_version(p),
                "ready": P.is_ready(p),
            }
            for p in pods
        ]
        if not pods:
            pending.append(f"no pods of gateway {key}")
        for p in pods:
            name = f"{gw.namespace}/{(p.get('metadata') or {}).get('name')}"
            bad = P.bad_waiting_reason(p)
            if bad:
                failed.append(f"gateway pod {name} {bad}")
            rev, version = P.revision(p), P.proxy_version(p)
            if rev != cp.revision or version != cp.version:
                pending.append(
                    f"gateway pod {name} on {rev or '?'} proxy {version or '?'}, expected {cp.revision} proxy {cp.version}"
                )
            elif not P.is_ready(p):
                pending.append(f"gateway pod {name} is not Ready")
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    names = ", ".join(f"{g.namespace}/{g.name} -> {cp.name}" for g, cp in expect.gateways)
    return CheckResult.passed(NAME, f"on the expected proxy, Service kept: {names}", evidence)


def service_address(svc: Mapping[str, Any] | None) -> str:
    """The external address (LoadBalancer ingress IP or hostname), "" when none yet."""
    ingress = (((svc or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    return ",".join(str(i.get("ip") or i.get("hostname") or "") for i in ingress if i)


def _uid(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("uid", ""))


def _recreated(
    key: str,
    svc: Mapping[str, Any],
    mgw: Mapping[str, Any],
    baseline: Mapping[str, Mapping[str, str]] | None,
    canary: Mapping[str, Any] | None = None,
) -> str:
    uid, address = _uid(svc), service_address(svc)
    before = (baseline or {}).get(key)
    if before:
        if before.get("uid") and before["uid"] != uid:
            return f"Service {key} was recreated: uid {before['uid']} -> {uid} (its LoadBalancer was replaced)"
        if before.get("address") and address and before["address"] != address:
            return f"Service {key} changed its external address: {before['address']} -> {address}"
        return ""
    owners = [
        r
        for r in (svc.get("metadata") or {}).get("ownerReferences") or ()
        if r.get("kind") == "MeshGateway"
    ]
    if owners and all(r.get("uid") != _uid(mgw) for r in owners):
        return f"Service {key} is owned by a MeshGateway that no longer exists (uid {owners[0].get('uid')}): it was recreated"
    created, born = _time(svc), _time(mgw)
    if created and born and (created - born).total_seconds() > RECREATE_SLACK:
        gap = int((created - born).total_seconds())
        return f"Service {key} was recreated: created {gap}s after its MeshGateway (uid {uid})"
    started = _time(canary) if canary else None
    if created and started and created > started:
        name = (canary or {}).get("metadata", {}).get("name", "the new control plane")
        return (
            f"Service {key} was recreated during the upgrade: created {_stamp(created)}, after the "
            f"new control plane {name} ({_stamp(started)}), so its LoadBalancer and address were "
            "replaced"
        )
    return ""


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(obj: Mapping[str, Any]) -> datetime | None:
    raw = (obj.get("metadata") or {}).get("creationTimestamp")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
