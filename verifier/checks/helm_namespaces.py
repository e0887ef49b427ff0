"""Helm namespace labels: each planned namespace carries, live, the label the plan expects.

After stage N a namespace carries `istio.io/rev=<revision or tag>` (`Plan.expected_label`: the
new revision, or its canary tag, or back on its stable tag after tags-return) and no
`istio-injection`, which would win over it; or, not moved, the labels it started with
(`istio-injection=enabled` for a namespace of the default revision). Which revision a tag names
is the `revision-tags` check's business. A namespace outside the plan that the old revision
injects (by its revision, one of its tags, or `istio-injection=enabled` on a non-revisioned
install) was added after `init`: no stage moves it, so that fails at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verifier.checks.base import Phase
from verifier.checks.namespaces import INJECTION, NAME, REV, describe
from verifier.expectation import Expectation, known_tags
from verifier.result import CheckResult
from verifier.snapshot import Snapshot


def _labels(ns: Mapping[str, Any] | None) -> Mapping[str, str]:
    return ((ns or {}).get("metadata") or {}).get("labels") or {}


def wanted(label: str) -> str:
    return f"{INJECTION}=enabled" if not label else f"{REV}={label} and no {INJECTION} label"


def has(labels: Mapping[str, str], label: str) -> bool:
    if not label:
        return labels.get(INJECTION) == "enabled"
    return labels.get(REV) == label and INJECTION not in labels


def old_selectors(expect: Expectation) -> set[str]:
    """`istio.io/rev` values that select the old revision when the plan was made."""
    plan = expect.plan
    h = plan.helm
    values = {plan.source.revision}
    if h is not None:
        values.update(
            t for t in known_tags(plan) if plan.tag_revision(t, 0) == plan.source.revision
        )
    return values


class HelmNamespaceLabels:
    """Judged at every stage of a Helm plan."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.helm is not None

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    helm = expect.helm
    assert helm is not None
    evidence: list[dict[str, Any]] = []
    pending: list[str] = []
    for ns, label in sorted(helm.labels.items()):
        labels = _labels(snap.meshed_namespaces.get(ns))
        evidence.append({"namespace": ns, "labels": describe(labels), "expected": wanted(label)})
        if not has(labels, label):
            pending.append(f"namespace {ns} has {describe(labels)}, expected {wanted(label)}")
    old = old_selectors(expect)
    serves_default = expect.plan.source.revision == "default"
    unplanned = sorted(
        f"{ns} ({describe(_labels(obj))})"
        for ns, obj in snap.meshed_namespaces.items()
        if ns not in helm.labels
        and (
            (_labels(obj).get(INJECTION) == "enabled" and serves_default)
            or (INJECTION not in _labels(obj) and _labels(obj).get(REV) in old)
        )
    )
    if unplanned:
        evidence.append({"meshedNamespacesNotInThePlan": unplanned})
        return CheckResult.failed(
            NAME,
            "; ".join(
                [
                    f"meshed namespace(s) not in the plan: {', '.join(unplanned)}; they were added "
                    "after `istio-canary init` and the old revision injects them, so no stage "
                    "moves them: with them in the repo, `istio-canary next` takes them into the "
                    "next wave (re-create this stage's PR from the current base)",
                    *pending,
                ]
            ),
            evidence,
        )
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    return CheckResult.passed(
        NAME, f"{len(helm.labels)} namespace(s) labelled as the plan expects", evidence
    )
