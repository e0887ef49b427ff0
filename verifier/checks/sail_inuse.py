"""Sail `InUse`: each revision's and tag's condition agrees with what the cluster says names it.

The operator deletes an inactive revision once its `InUse` is False for the grace period, and
never while it is True or Unknown. So `InUse` is the one status the whole canary hangs on: False
while a pod still runs the revision's proxy would take its istiod away from that pod; True when
nothing names it keeps the old control plane for ever. The gate recomputes the operator's rule
from the objects it read (`verifier.sailview.references`: tags, namespace labels, the injector's
`istio.io/rev` pod annotation, pod labels in unlabelled namespaces) and compares.

A disagreement is pending, naming the revision and what names it: the operator updates the
condition on the next pod or namespace event, so a fresh one heals; one that stays is an operator
that stopped reconciling, and the deadline names it.
"""

from __future__ import annotations

from typing import Any

from verifier.checks.base import Phase
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.sailview import SailView, condition, references
from verifier.snapshot import Snapshot

NAME = "revision-in-use"
_MAX = 5


def _shown(items: list[str]) -> str:
    more = f" (+{len(items) - _MAX} more)" if len(items) > _MAX else ""
    return ", ".join(items[:_MAX]) + more


class SailInUse:
    """Judged at every stage of a Sail plan."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return True

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap)


def _judge(kind: str, name: str, obj: Any, refs: list[str], pending: list[str]) -> dict[str, Any]:
    in_use = condition(obj, "InUse")
    where = f"{kind} {name}"
    if in_use.status == "True" and not refs:
        pending.append(
            f"{where} says {in_use} but no tag, namespace or pod names it: the operator has not "
            "caught up (if this stays, check that the sail-operator is running)"
        )
    elif in_use.status == "False" and refs:
        pending.append(
            f"{where} says {in_use} but {_shown(refs)} name(s) it: the operator would delete a "
            "revision still in use once its grace period passes (check that the sail-operator "
            "is running)"
        )
    elif in_use.status not in ("True", "False"):
        pending.append(
            f"{where} has {in_use}: the operator cannot tell whether it is in use"
            + (f" ({_shown(refs)} name(s) it)" if refs else "")
        )
    return {"object": where, "inUse": str(in_use), "namedBy": refs[: _MAX * 4]}


def check(snap: Snapshot) -> CheckResult:
    view: SailView | None = snap.sail
    if view is None:
        return CheckResult.pending(NAME, "Sail objects not read", unverifiable=True)
    refs = references(view, snap.pods, snap.meshed_namespaces)
    pending: list[str] = []
    evidence = [
        _judge("IstioRevision", name, obj, refs.get(name, []), pending)
        for name, obj in sorted(view.revisions.items())
    ]
    for name, obj in sorted(view.tags.items()):
        # a tag is in use through namespaces and pods, never through another tag
        named = [r for r in refs.get(name, []) if not r.startswith("IstioRevisionTag ")]
        evidence.append(_judge("IstioRevisionTag", name, obj, named, pending))
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    shown = ", ".join(
        f"{e['object'].split(' ', 1)[1]}: {e['inUse'].split(' ', 1)[0]}" for e in evidence
    )
    return CheckResult.passed(
        NAME,
        f"InUse agrees with the tags, namespaces and pods: {shown or 'no revisions'}",
        evidence,
    )
