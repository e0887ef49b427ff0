"""Helm node agents: the cni and ztunnel DaemonSets run the version the plan allows, everywhere.

The agents serve every revision and work only with control planes of their own minor and the
next, so before the `cni` stage they must still run the version the plan recorded (an agent
bumped early is ahead of the old istiod, which waiting does not fix: failed), and after it the
target version on every node the DaemonSet wants, with the rollout finished. A ztunnel the plan
moves to the new revision must talk to the new istiod after the stage. A DaemonSet the plan
names but the cluster lacks is never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.helmplan import DEFAULT_REVISION, agent_daemonset
from core.versions import image_version
from verifier import pods as P
from verifier.checks.base import Phase
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

__all__ = ["NAME", "HelmNodeAgents", "check", "rollout_unfinished"]

NAME = "node-agents"
Obj = Mapping[str, Any]
# the container that runs each agent (istio/istio charts)
CONTAINER = {"cni": "install-cni", "ztunnel": "istio-proxy"}


class HelmNodeAgents:
    """Judged at every stage of a Helm plan that names cni or ztunnel releases."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        h = expect.plan.helm
        return h is not None and bool(h.node_agents)

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def rollout_unfinished(ds: Obj) -> str:
    """Why a DaemonSet's rollout has not finished ("" when it has): the controller saw the newest
    spec, and every desired node runs an updated, available pod."""
    status = ds.get("status") or {}
    generation = int((ds.get("metadata") or {}).get("generation", 0) or 0)
    if int(status.get("observedGeneration", 0) or 0) < generation:
        return "rollout not observed yet"
    desired = int(status.get("desiredNumberScheduled", 0) or 0)
    updated = int(status.get("updatedNumberScheduled", 0) or 0)
    available = int(status.get("numberAvailable", 0) or 0)
    if desired < 1:
        return "no node is scheduled to run it"
    if updated < desired or available < desired:
        return f"{updated}/{desired} updated, {available}/{desired} available"
    return ""


def _istiod_service(revision: str) -> str:
    return "istiod" if revision in ("", DEFAULT_REVISION) else f"istiod-{revision}"


def _container(obj: Obj, name: str) -> Obj | None:
    spec = obj.get("spec") or {}
    spec = (spec.get("template") or {}).get("spec") or spec
    return next((c for c in spec.get("containers") or () if c.get("name") == name), None)


def _env(container: Obj | None, key: str) -> str:
    for e in (container or {}).get("env") or ():
        if e.get("name") == key:
            return str(e.get("value") or "")
    return ""


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    plan, view = expect.plan, snap.helm
    h = plan.helm
    if h is None or view is None:
        return CheckResult.pending(NAME, "the Helm objects were not read")
    moved = plan.applied_by("cni", expect.index)
    evidence: list[dict[str, Any]] = []
    pending: list[str] = []
    failed: list[str] = []
    for r in h.node_agents:
        want = plan.target.version if moved else r.version
        name = agent_daemonset(r)
        key = f"{r.namespace}/{name}"
        record: dict[str, Any] = {"release": r.name, "daemonSet": key, "expectedVersion": want}
        evidence.append(record)
        ds = view.daemonsets.get((r.namespace, name))
        if ds is None:
            pending.append(f"DaemonSet {key} of {r.chart} release {r.name} not found")
            continue
        container = _container(ds, CONTAINER[r.chart])
        have = image_version(str((container or {}).get("image", "")))
        record["templateVersion"] = have
        if have != want:
            msg = f"DaemonSet {key} template runs {have or '?'}, expected {want}"
            if not moved and have:
                failed.append(
                    f"{msg}: the plan moves {r.chart} at its cni stage, once the old istiod "
                    "serves no pod (an agent works with control planes of its minor and the next)"
                )
            else:
                pending.append(msg)
            continue
        if r.chart == "ztunnel" and r.revision == plan.source.revision:
            istiod = _istiod_service(plan.target.revision if moved else r.revision)
            address = _env(container, "CA_ADDRESS")
            record["caAddress"] = address
            if address and not address.startswith(f"{istiod}."):
                pending.append(f"DaemonSet {key} talks to {address}, expected {istiod}")
        if why := rollout_unfinished(ds):
            pending.append(f"DaemonSet {key} rollout unfinished: {why}")
        match = ((ds.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        pods = [
            p
            for p in snap.pods_in(r.namespace)
            if match
            and not P.is_finished(p)
            and all(P.labels(p).get(k) == v for k, v in match.items())
        ]
        desired = int((ds.get("status") or {}).get("desiredNumberScheduled", 0) or 0)
        current = 0
        record["pods"] = []
        for p in pods:
            pod = f"{r.namespace}/{P.meta(p).get('name')}"
            version = image_version(str((_container(p, CONTAINER[r.chart]) or {}).get("image", "")))
            record["pods"].append({"pod": pod, "version": version, "ready": P.is_ready(p)})
            if bad := P.bad_waiting_reason(p):
                failed.append(f"{r.chart} pod {pod} {bad}")
            elif version == want and P.is_ready(p):
                current += 1
        if current < max(desired, 1):
            pending.append(f"{current}/{max(desired, 1)} {r.chart} pod(s) of {key} Ready on {want}")
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    done = ", ".join(f"{r.chart} {r.name}" for r in h.node_agents)
    at = plan.target.version if moved else "their recorded version"
    return CheckResult.passed(NAME, f"{done} on {at} on every node, rollout finished", evidence)
