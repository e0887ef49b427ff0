"""Helm data plane: every meshed pod on the revision the plan expects, as its injector recorded it.

The seed flavour's data-plane rules hold unchanged (`checks/dataplane.py`: the istiod the proxy
is configured for decides the revision; proxy version, rollouts finished, skew, pods no commit
can restart), judged without the gateways' pods, which the `gateways` check judges against the
gateway stage. On top, what upstream Istio's injector writes on the pod
(`injection-template.yaml`, `pkg/kube/inject`): the annotation `istio.io/rev` and the
`revision` in `sidecar.istio.io/status` must name the same revision as the proxy's istiod; a
disagreement was made by hand or by two injectors and fails at once. Pods of a moved namespace
still on the old revision are named as not restarted since their namespace moved.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from verifier import pods as P
from verifier.checks import dataplane
from verifier.checks.base import Phase
from verifier.checks.helm_gateways import gateway_pods
from verifier.expectation import Expectation
from verifier.result import CheckResult, Status
from verifier.snapshot import Snapshot

NAME = dataplane.NAME
_MAX = 8


def recorded(pod: P.Pod) -> tuple[str, str]:
    """(the `istio.io/rev` annotation, the `revision` of `sidecar.istio.io/status`)."""
    ann = P.annotations_of(pod)
    status: Any = None
    try:
        status = json.loads(ann.get("sidecar.istio.io/status") or "null")
    except ValueError:
        status = None
    in_status = str(status.get("revision") or "") if isinstance(status, dict) else ""
    return str(ann.get("istio.io/rev") or ""), in_status


class HelmDataPlane:
    """Judged at every stage of a Helm plan."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.helm is not None

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    helm = expect.helm
    gateway_uids = {
        str(P.meta(p).get("uid") or P.meta(p).get("name"))
        for g, _ in (helm.gateways if helm else ())
        for p in gateway_pods(snap, g)
    }
    pods = [
        p
        for p in snap.pods
        if str(P.meta(p).get("uid") or P.meta(p).get("name")) not in gateway_uids
    ]
    base = dataplane.check(replace(snap, pods=pods, _by_ns={}), expect)
    failed: list[str] = []
    stale: list[str] = []
    moved = set(expect.plan.migrated_namespaces(expect.index)) - set(expect.plan.rolled_back)
    old = expect.plan.source.revision
    for ns in sorted(expect.namespaces):
        for pod in snap.pods_in(ns):
            uid = str(P.meta(pod).get("uid") or P.meta(pod).get("name"))
            if uid in gateway_uids or P.is_finished(pod) or P.proxy_container(pod) is None:
                continue
            name = f"{ns}/{P.meta(pod).get('name')}"
            annotation, status = recorded(pod)
            actual, _ = P.decide_revision(pod, expect.istiods)
            said = {r for r in (annotation, status) if r}
            if len(said) > 1 or (actual and said and said != {actual}):
                failed.append(
                    f"{name}: the injector recorded istio.io/rev={annotation or '-'} and "
                    f"sidecar.istio.io/status revision {status or '-'}, but its proxy talks to "
                    f"revision {actual or '?'}; restart it so one injector injects it"
                )
            if ns in moved and actual == old and not P.is_terminating(pod):
                stale.append(name)
    evidence = list(base.evidence)
    if stale:
        evidence.append({"notRestartedSinceTheirNamespaceMoved": stale})
    messages = []
    if failed:
        messages.append("; ".join(failed[:_MAX]))
    if stale:
        messages.append(
            f"{len(stale)} pod(s) not restarted since their namespace moved to "
            f"{expect.plan.target.revision}: {', '.join(stale[:_MAX])}"
        )
    if base.status is not Status.PASSED or not messages:
        messages.append(base.message)
    message = "; ".join(messages)
    if failed or base.status is Status.FAILED:
        return CheckResult.failed(NAME, message, evidence)
    if stale or base.status is Status.PENDING:
        return CheckResult.pending(NAME, message, evidence, base.unverifiable)
    return CheckResult.passed(NAME, message, evidence)
