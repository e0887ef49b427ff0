"""Helm gateways: pods on the expected revision, rollout finished, Service and address kept.

A gateway of the `gateway` chart is a Deployment and a Service named after the release (pods
injected with the `gateway` template, selected by `revision` as their `istio.io/rev` label); a
gateway kept as a plain Deployment has the same shape with a Service from the repo. Moving it
changes the pod template only, so the Deployment rolls in place and the Service (its UID, its
load-balancer address) must stay. The Service's baseline is `--baseline REPORT.json` (the
same `gateways` evidence the Banzai check records), else evidence inside the cluster: every
planned gateway existed before the upgrade began, so a Service younger than the new istiod's
Deployment was recreated. A recreated Service fails at once; the rest is pending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.helmplan import ChartRelease
from verifier import pods as P
from verifier.checks.base import Phase
from verifier.checks.dataplane import rollout_unfinished
from verifier.checks.gateways import NAME, _stamp, _time, _uid, service_address
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

Obj = Mapping[str, Any]


def gateway_pods(snap: Snapshot, g: ChartRelease) -> list[Obj]:
    """The live pods of gateway `g`: those its Deployment's selector selects."""
    dep = snap.workloads.get((g.namespace, g.name))
    selector = ((dep or {}).get("spec") or {}).get("selector") or {}
    match = selector.get("matchLabels") or {}
    if not match:
        return []
    return [
        p
        for p in snap.pods_in(g.namespace)
        if not P.is_finished(p) and all(P.labels(p).get(k) == v for k, v in match.items())
    ]


def gateway_service(snap: Snapshot, g: ChartRelease, pods: list[Obj]) -> Obj | None:
    """The chart's Service of the release's name, else a Service of the namespace selecting its pods."""
    view = snap.helm
    if view is None:
        return None
    named = view.service(g.namespace, g.name)
    if named is not None:
        return named
    for (ns, _), svc in sorted(view.services.items()):
        sel = (svc.get("spec") or {}).get("selector") or {}
        if (
            ns == g.namespace
            and sel
            and pods
            and all(P.labels(pods[0]).get(k) == v for k, v in sel.items())
        ):
            return svc
    return None


class HelmGateways:
    """Judged at every stage of a Helm plan."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.helm is not None

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    helm = expect.helm
    if helm is None or not helm.gateways:
        return CheckResult.passed(NAME, "the plan has no gateways")
    evidence: list[dict[str, Any]] = []
    pending: list[str] = []
    failed: list[str] = []
    canary = snap.deployments.get((expect.plan.target.namespace, expect.plan.target.istiod))
    for g, cp in helm.gateways:
        key = f"{g.namespace}/{g.name}"
        dep = snap.workloads.get((g.namespace, g.name))
        pods = gateway_pods(snap, g)
        svc = gateway_service(snap, g, pods)
        record: dict[str, Any] = {
            "gateway": key,
            "form": g.form,
            "expectedRevision": cp.revision,
            "service": {"uid": _uid(svc), "address": service_address(svc)},
        }
        evidence.append(record)
        if dep is None:
            pending.append(f"gateway Deployment {key} not found")
            continue
        why = rollout_unfinished(dep)
        if why:
            pending.append(f"gateway Deployment {key} rollout unfinished: {why}")
        record["pods"] = []
        if not pods:
            pending.append(f"no pods of gateway {key}")
        for p in pods:
            name = f"{g.namespace}/{P.meta(p).get('name')}"
            rev, disagreement = P.decide_revision(p, expect.istiods)
            version = P.proxy_version(p)
            record["pods"].append({"pod": name, "revision": rev, "version": version})
            if bad := P.bad_waiting_reason(p):
                failed.append(f"gateway pod {name} {bad}")
            elif disagreement:
                failed.append(f"gateway pod {name} {disagreement}")
            elif rev != cp.revision or version != cp.version:
                pending.append(
                    f"gateway pod {name} on {rev or '?'} proxy {version or '?'}, expected "
                    f"{cp.revision} proxy {cp.version}"
                )
            elif not P.is_ready(p):
                pending.append(f"gateway pod {name} is not Ready")
        if svc is None:
            pending.append(f"Service of gateway {key} not found")
            continue
        recreated = _recreated(key, svc, expect, canary)
        if recreated:
            failed.append(recreated)
        elif (svc.get("spec") or {}).get("type") == "LoadBalancer" and not service_address(svc):
            pending.append(f"Service {key} has no external address yet")
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    names = ", ".join(f"{g.namespace}/{g.name} -> {cp.revision}" for g, cp in helm.gateways)
    return CheckResult.passed(NAME, f"on the expected revision, Service kept: {names}", evidence)


def _recreated(key: str, svc: Obj, expect: Expectation, canary: Obj | None) -> str:
    uid, address = _uid(svc), service_address(svc)
    name = str(P.meta(svc).get("name"))
    before = (expect.baseline or {}).get(key)
    if before:
        if before.get("uid") and before["uid"] != uid:
            return (
                f"Service {expect_ns(key)}/{name} of gateway {key} was recreated: uid "
                f"{before['uid']} -> {uid} (its LoadBalancer was replaced)"
            )
        if before.get("address") and address and before["address"] != address:
            return f"Service of gateway {key} changed its address: {before['address']} -> {address}"
        return ""
    created, started = _time(svc), _time(canary) if canary else None
    if created and started and created > started:
        return (
            f"Service {expect_ns(key)}/{name} of gateway {key} was recreated during the upgrade: "
            f"created {_stamp(created)}, after the new istiod ({_stamp(started)}), so its "
            "LoadBalancer and address were replaced"
        )
    return ""


def expect_ns(key: str) -> str:
    return key.split("/", 1)[0]
