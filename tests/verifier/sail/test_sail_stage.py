"""What a Sail plan expects of the operator's objects after each stage, from plan files.

The revisions come from the plan's queries; when the operator may delete one follows from its
rule (nothing names it): the old revision is needed while a planned namespace or gateway is on
it, may go once all moved, must be gone after cleanup; the via revision of an InPlace ->
RevisionBased switch is active until the version bump and then unused.
"""

from __future__ import annotations

from core.plan import Plan, load_plan
from verifier.checks import checks_for
from verifier.checks.sail_plan import stage_of
from verifier.checks.sail_stage import RevisionExpectation
from verifier.expectation import expect_stage

PLAN = """\
apiVersion: istio-canary.io/v1alpha1
kind: UpgradePlan
flavour: sail
from: {controlPlane: {name: default, namespace: istio-system, version: 1.27.9, revision: %(old)s}}
to: {controlPlane: {name: default, namespace: istio-system, version: 1.28.6,
                    revision: default-v1-28-6}}
sail:
  istio: {name: default, namespace: istio-system, file: infra/istio.yaml,
          updateStrategy: %(strategy)s, inactiveRevisionDeletionGracePeriodSeconds: 5}
  operator: {form: argocd-application, name: sail-operator, namespace: argocd, version: 1.29.2}
  tags:
  - {name: prod, targetKind: Istio, targetName: default}
  - {name: pinned, targetKind: IstioRevision, targetName: %(old)s}
  cni: {name: default, namespace: istio-cni, from: 1.27.9, to: 1.28.6}
  gateways:
  - {name: ingress, namespace: istio-ingress, file: apps/gw.yaml, revLabel: prod}
gitops: {engine: argocd}
namespaces:
- {name: a, workloads: [{kind: Deployment, name: app-a}], meshedBy: [istio-injection]}
- {name: b, meshedBy: [istio.io/rev], revLabel: pinned}
stages:
%(strategy_stage)s- {index: %(i1)d, name: control-plane, kind: control-plane}
- {index: %(i2)d, name: namespaces-1, kind: namespaces, namespaces: [a, b]}
- {index: %(i3)d, name: gateways, kind: gateways}
- {index: %(i4)d, name: cleanup, kind: cleanup}
- {index: %(i5)d, name: cni, kind: cni}
"""


def plan(strategy: str) -> Plan:
    switch = strategy == "InPlace"
    first = 2 if switch else 1
    return load_plan(
        PLAN
        % {
            "old": "default" if switch else "default-v1-27-9",
            "strategy": strategy,
            "strategy_stage": "- {index: 1, name: strategy, kind: strategy}\n" if switch else "",
            **{f"i{k}": first + k - 1 for k in range(1, 6)},
        }
    )


def names(revs: tuple[RevisionExpectation, ...]) -> list[str]:
    return [r.name for r in revs]


def test_an_in_place_istio_goes_through_a_via_revision_and_both_old_ones_go_at_cleanup() -> None:
    p = plan("InPlace")
    rows = []
    for i in range(p.total + 1):
        s = stage_of(expect_stage(p, i))
        rows.append(
            (i, s.active.name, names(s.ready), names(s.optional), names(s.gone), dict(s.tags),
             s.cni.version if s.cni else "")
        )  # fmt: skip
    old, via, new = "default", "default-v1-27-9", "default-v1-28-6"
    assert rows == [
        (0, old, [old], [], [], {"prod": old, "pinned": old}, "1.27.9"),
        # strategy: the active revision is renamed at once; the tag on the Istio follows it
        (1, via, [via, old], [], [], {"prod": via, "pinned": old}, "1.27.9"),
        (2, new, [new, old], [via], [], {"prod": new, "pinned": old}, "1.27.9"),
        # every namespace moved, but the gateway still runs on the old revision
        (3, new, [new, old], [via], [], {"prod": new, "pinned": old}, "1.27.9"),
        (4, new, [new], [old, via], [], {"prod": new, "pinned": old}, "1.27.9"),
        (5, new, [new], [], [old, via], {"prod": new, "pinned": new}, "1.27.9"),
        (6, new, [new], [], [old, via], {"prod": new, "pinned": new}, "1.28.6"),
    ]


def test_a_revision_based_istio_has_no_via_revision_and_the_old_one_is_the_only_to_go() -> None:
    p = plan("RevisionBased")
    old, new = "default-v1-27-9", "default-v1-28-6"
    at_gate = stage_of(expect_stage(p, 3, with_next_preconditions=True))  # gateways, cleanup next
    assert (at_gate.active.name, names(at_gate.ready), names(at_gate.optional)) == (
        new,
        [new],
        [old],
    )
    assert at_gate.cleanup and at_gate.old == old
    # the tag pinned to the old IstioRevision still names it at the gate: cleanup retargets it
    assert at_gate.retargeted == ("pinned",)
    assert not stage_of(expect_stage(p, 3)).cleanup
    after = stage_of(expect_stage(p, 4))
    assert names(after.gone) == [old] and after.tags == {"prod": new, "pinned": new}
    assert after.retargeted == ()


def test_a_sail_plan_is_judged_by_the_sail_checks_and_the_shared_ones_only() -> None:
    p = plan("RevisionBased")
    before_cleanup = [c.name for c in checks_for(expect_stage(p, 3))]
    assert before_cleanup == [
        "control-planes",
        "revision-in-use",
        "revision-tags",
        "istio-cni",
        "data-plane",
        "namespace-labels",
        "gateways",
        "connectivity",
    ]
    at_cleanup = [c.name for c in checks_for(expect_stage(p, 4))]
    assert "cleanup-safety" in at_cleanup
