"""Control planes: each expected `Istio` CR Available with its istiod ready; removed ones gone.

Banzai operator facts (docs/banzai-operator.md): status keys are capitalised (`status.Status`,
`status.ErrorMessage`); an operator reconciles only CRs whose `spec.version` matches its minor
(0.6.x -> 1.6, 0.7.x -> 1.7) and otherwise leaves the CR untouched, so a CR stuck short of
Available with no running operator for its minor is reported as exactly that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.plan import ControlPlane
from core.versions import minor_key
from verifier import pods as P
from verifier.checks.base import Phase
from verifier.checks.dataplane import paused_rollout, rollout_unfinished
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

NAME = "control-planes"


class ControlPlanes:
    """Judged at every stage: which control planes exist is part of every stage."""

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
    operators = running_operators(snap)
    failed.extend(crashing_operators(snap))
    for cp in expect.present:
        cr = snap.istios.get((cp.namespace, cp.name))
        dep = snap.deployments.get((cp.namespace, cp.istiod))
        state, error = _cr_state(cr)
        ready, why = _deployment_ready(dep, snap, cp)
        evidence.append(
            {
                "istio": f"{cp.namespace}/{cp.name}",
                "revision": cp.revision,
                "version": str(((cr or {}).get("spec") or {}).get("version", "")),
                "status": state,
                "error": error,
                "istiod": f"{cp.namespace}/{cp.istiod}",
                "istiodReady": ready,
            }
        )
        if cr is None:
            pending.append(f"Istio {cp.namespace}/{cp.name} not found")
            continue
        if state == "ReconcileFailed" and "pending" not in error.lower():
            failed.append(
                f"Istio {cp.namespace}/{cp.name} is ReconcileFailed: {error or 'no message'}"
            )
        elif state != "Available":
            hint = _operator_hint(cp, cr, operators)
            pending.append(
                f"Istio {cp.namespace}/{cp.name} is {state or 'not reconciled yet'}{hint}"
            )
        if not ready:
            stuck = _stuck_istiod_pods(snap, cp)
            paused = paused_rollout(dep)
            if stuck:
                failed.append(f"istiod {cp.namespace}/{cp.istiod} cannot start: {stuck}")
            elif paused:
                failed.append(f"istiod {cp.namespace}/{cp.istiod} {paused}")
            else:
                pending.append(f"istiod {cp.namespace}/{cp.istiod} {why}")
    for cp in expect.absent:
        if (cp.namespace, cp.name) in snap.istios:
            pending.append(f"Istio {cp.namespace}/{cp.name} still exists (cleanup not applied yet)")
        if snap.deployments.get((cp.namespace, cp.istiod)) is not None:
            pending.append(f"istiod {cp.namespace}/{cp.istiod} still exists")
        evidence.append({"istio": f"{cp.namespace}/{cp.name}", "expected": "absent"})
    evidence.append({"operators": [f"{n} {v}" for n, v in sorted(operators.items())]})
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    names = ", ".join(f"{cp.name} ({cp.version})" for cp in expect.present)
    gone = "; removed: " + ", ".join(cp.name for cp in expect.absent) if expect.absent else ""
    return CheckResult.passed(NAME, f"Available with istiod ready: {names}{gone}", evidence)


def running_operators(snap: Snapshot) -> dict[str, str]:
    """Running istio-operator pods by name -> image tag (their version)."""
    found: dict[str, str] = {}
    for pod in snap.pods:
        if not P.is_ready(pod):
            continue
        for c in (pod.get("spec") or {}).get("containers") or ():
            image = str(c.get("image", ""))
            repo = (
                image.split("@", 1)[0].rsplit(":", 1)[0]
                if ":" in image.rsplit("/", 1)[-1]
                else image
            )
            if repo.rsplit("/", 1)[-1] == "istio-operator":
                found[(pod.get("metadata") or {}).get("name", "?")] = P.image_version(image)
    return found


def _is_operator_image(image: str) -> bool:
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[0] == "istio-operator"


def crashing_operators(snap: Snapshot) -> list[str]:
    """Operator pods that will not start, each with its waiting reason and, where the runtime
    kept it, the container's last termination message (a manager given a flag it does not know
    exits saying `flag provided but not defined: -webhook-service-address`)."""
    found: list[str] = []
    for pod in snap.pods:
        spec = pod.get("spec") or {}
        if P.is_ready(pod) or not any(
            _is_operator_image(str(c.get("image", ""))) for c in spec.get("containers") or ()
        ):
            continue
        meta = P.meta(pod)
        name = f"{meta.get('namespace', '')}/{meta.get('name', '?')}"
        for cs in (pod.get("status") or {}).get("containerStatuses") or ():
            reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason", "")
            if reason not in P.NEVER_HEALS:
                continue
            last = ((cs.get("lastState") or {}).get("terminated") or {}).get("message", "")
            said = f", last exit: {str(last).strip()}" if str(last).strip() else ""
            found.append(f"operator pod {name} container {cs.get('name', '?')}: {reason}{said}")
    return found


def _operator_hint(cp: ControlPlane, cr: Mapping[str, Any], operators: Mapping[str, str]) -> str:
    version = str((cr.get("spec") or {}).get("version", cp.version))
    want = minor_key(version)
    minors = {n: minor_key(v) for n, v in operators.items()}
    # Operator 0.x.y reconciles Istio 1.x.
    if want and any(m and (1, m[1]) == want for m in minors.values()):
        return ""
    running = ", ".join(f"{n} {v}" for n, v in sorted(operators.items())) or "none"
    return f" (no running operator supports Istio {version}; running: {running})"


def _stuck_istiod_pods(snap: Snapshot, cp: ControlPlane) -> str:
    """istiod pods that will not heal by waiting (e.g. the CR names a pilot image never released)."""
    stuck = []
    for pod in snap.pods_in(cp.namespace):
        name = str(P.meta(pod).get("name", ""))
        if name.startswith(f"{cp.istiod}-") and (bad := P.bad_waiting_reason(pod)):
            stuck.append(f"{cp.namespace}/{name} {bad}")
    return "; ".join(sorted(stuck))


def _cr_state(cr: Mapping[str, Any] | None) -> tuple[str, str]:
    status = (cr or {}).get("status") or {}
    return str(status.get("Status") or ""), str(status.get("ErrorMessage") or "")


def _deployment_ready(
    dep: Mapping[str, Any] | None, snap: Snapshot, cp: ControlPlane
) -> tuple[bool, str]:
    """Ready means the rollout finished, not that some pod answers: the controller observed the
    newest spec, updated = ready = desired replicas, and no pod of an older template is left (an
    old pod staying Ready while the new one cannot pull its image is a stuck rollout)."""
    if dep is None:
        return False, "not found"
    want = int((dep.get("spec") or {}).get("replicas", 1) or 0)
    if want < 1:
        return False, "scaled to 0"
    why = rollout_unfinished(dep)
    if why:
        return False, why
    templates = {
        P.owner(pod).template
        for pod in snap.pods_in(cp.namespace)
        if str(P.meta(pod).get("name", "")).startswith(f"{cp.istiod}-")
        and P.owner(pod).name == cp.istiod
        and not P.is_finished(pod)
    }
    if len(templates) > 1:
        return False, f"rollout incomplete: pods of {len(templates)} generations"
    return True, "ready"
