"""Data plane: every meshed pod on the control plane the plan expects, rollouts complete, skew OK.

For each namespace of the plan the expectation names the control plane its pods must be on; each
pod with an `istio-proxy` (container or native-sidecar init container) must carry that revision and
that proxy version. A workload with pods of two template generations, terminating or not-ready pods
is still rolling out (pending). Pods that no workload in the repo owns cannot be restarted by a
commit; they are listed separately. Skew policy (Istio's supported data-plane skew): a proxy is
never newer than its control plane and at most one minor older; a violation will not heal by
waiting, so it fails.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from core.plan import ControlPlane
from core.versions import minor_key
from verifier import pods as P
from verifier.checks.base import Phase
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

NAME = "data-plane"
_MAX_LISTED = 8


class DataPlane:
    """Judged at every stage: each namespace of the plan is on the control plane it expects."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return True

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    evidence: list[dict[str, Any]] = []
    pending: list[str] = []
    failed: list[str] = []
    unmanaged: list[str] = []
    checked = 0
    for ns, cp in sorted(expect.namespaces.items()):
        if cp is expect.plan.target and snap.legacy_injection and ns in snap.legacy_injection:
            pending.append(
                f"namespace {ns} still has istio-injection=enabled, so the old control plane "
                f"injects its new pods (drop the label; remove {ns} from "
                f"{expect.plan.source.name}'s autoInjectionNamespaces)"
            )
        repo_workloads = {(w.kind, w.name) for w in _workloads(expect, ns)}
        generations: dict[tuple[str, str], set[str]] = defaultdict(set)
        for pod in snap.pods_in(ns):
            if P.is_finished(pod):
                continue
            name = f"{ns}/{(pod.get('metadata') or {}).get('name', '?')}"
            own = P.owner(pod)
            if own.kind:
                generations[(own.kind, own.name)].add(own.template)
            bad = P.bad_waiting_reason(pod)
            if bad:
                failed.append(f"{name} {bad}")
            managed = (own.kind, own.name) in repo_workloads
            if not managed:
                unmanaged.append(name)
            proxy = P.proxy_container(pod)
            if proxy is None:
                if _injection_disabled(pod):
                    continue
                pending.append(f"{name} has no istio-proxy")
                evidence.append({"pod": name, "proxy": None, "expectedRevision": cp.revision})
                continue
            checked += 1
            rev, disagreement = P.decide_revision(pod, expect.istiods)
            version = P.proxy_version(pod)
            if disagreement:
                failed.append(f"{name} {disagreement}")
            evidence.append(
                {
                    "pod": name,
                    "revision": rev,
                    "image": str(proxy.get("image", "")),
                    "version": version,
                    "expectedRevision": cp.revision,
                    "expectedVersion": cp.version,
                    "ready": P.is_ready(pod),
                    "managedByRepo": managed,
                }
            )
            skew = _skew(version, rev, expect)
            if skew:
                failed.append(f"{name}: {skew}")
            if rev != cp.revision or version != cp.version:
                where = (
                    "" if managed else " (not managed by the repo: cannot be restarted by a commit)"
                )
                pending.append(
                    f"{name} on {rev or 'unknown revision'} proxy {version or '?'}, "
                    f"expected {cp.revision} proxy {cp.version}{where}"
                )
            elif P.is_terminating(pod):
                pending.append(f"{name} is terminating (rollout in progress)")
            elif not P.is_ready(pod):
                pending.append(f"{name} is not Ready")
        for (kind, wname), hashes in sorted(generations.items()):
            paused = paused_rollout(
                snap.workloads.get((ns, wname)) if kind == "Deployment" else None
            )
            if paused:
                failed.append(f"{kind} {ns}/{wname} {paused}")
            elif len(hashes) > 1:
                pending.append(
                    f"{kind} {ns}/{wname} rollout incomplete: pods of {len(hashes)} generations"
                )
        for w in _workloads(expect, ns):
            if (w.kind, w.name) in generations:
                continue
            paused = paused_rollout(
                snap.workloads.get((ns, w.name)) if w.kind == "Deployment" else None
            )
            if paused:
                failed.append(f"{w.kind} {ns}/{w.name} {paused}")
            elif w.kind in ("Deployment", "StatefulSet"):
                pending.append(f"{w.kind} {ns}/{w.name} has no pods")
    if unmanaged:
        evidence.append({"cannotBeRestartedByACommit": sorted(unmanaged)})
    scope = _scope(expect)
    if failed:
        return CheckResult.failed(NAME, _join(failed), evidence)
    if pending:
        return CheckResult.pending(NAME, _join(pending), evidence)
    if checked == 0 and expect.namespaces:
        return CheckResult.pending(NAME, f"no meshed pods found in {scope}", evidence)
    extra = f"; {len(unmanaged)} pod(s) not managed by the repo" if unmanaged else ""
    return CheckResult.passed(
        NAME, f"{checked} proxies on their expected revision in {scope}{extra}", evidence
    )


def rollout_unfinished(dep: Mapping[str, Any]) -> str:
    """Why a Deployment's rollout has not finished ("" when it has): the controller has seen the
    newest spec, and updated = ready = desired replicas with no pod of an older ReplicaSet left."""
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    generation = int((dep.get("metadata") or {}).get("generation", 0) or 0)
    observed = int(status.get("observedGeneration", 0) or 0)
    updated = int(status.get("updatedReplicas", 0) or 0)
    ready = int(status.get("readyReplicas", 0) or 0)
    total = int(status.get("replicas", updated) or 0)
    if observed < generation:
        return "rollout not observed yet"
    if updated < want or ready < want:
        return f"{ready}/{want} ready, {updated}/{want} updated"
    if total > want:
        return f"{total - updated} pod(s) of an older ReplicaSet still running"
    return ""


def paused_rollout(dep: Mapping[str, Any] | None) -> str:
    """A paused Deployment whose rollout has not finished never finishes by waiting."""
    if not dep or not (dep.get("spec") or {}).get("paused"):
        return ""
    why = rollout_unfinished(dep)
    if not why:
        return ""
    meta = dep.get("metadata") or {}
    return (
        f"rollout is paused ({why}); resume it with: kubectl rollout resume deployment/"
        f"{meta.get('name', '?')} -n {meta.get('namespace', '?')}"
    )


def _workloads(expect: Expectation, ns: str) -> tuple[Any, ...]:
    for mesh_ns in expect.plan.namespaces:
        if mesh_ns.name == ns:
            return mesh_ns.workloads
    return ()


def _injection_disabled(pod: Mapping[str, Any]) -> bool:
    value = P.annotations_of(pod).get("sidecar.istio.io/inject") or P.labels(pod).get(
        "sidecar.istio.io/inject"
    )
    return str(value).lower() == "false"


def _skew(version: str, revision: str, expect: Expectation) -> str:
    cp: ControlPlane | None = expect.control_plane(revision)
    proxy, plane = minor_key(version), minor_key(cp.version) if cp else None
    if proxy is None or plane is None:
        return ""
    if proxy > plane:
        return f"skew: proxy {version} is newer than its control plane {cp.name if cp else ''} {cp.version if cp else ''}"
    if plane[0] == proxy[0] and plane[1] - proxy[1] > 1:
        return f"skew: proxy {version} is more than one minor older than its control plane {cp.version if cp else ''}"
    return ""


def _scope(expect: Expectation) -> str:
    n = len(expect.namespaces)
    if expect.moving:
        return f"{n} namespace(s), moved now: {', '.join(expect.moving)}"
    return f"{n} namespace(s)"


def _join(items: list[str]) -> str:
    shown = items[:_MAX_LISTED]
    more = f" (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
    return "; ".join(shown) + more
