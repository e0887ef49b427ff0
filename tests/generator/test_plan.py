"""The plan model: round trip, validation that reports every problem, and shared queries."""

from __future__ import annotations

import pytest

from core.errors import PlanError
from core.plan import (
    ConnectivityCheck,
    ControlPlane,
    OperatorRelease,
    Plan,
    Stage,
    dump_plan,
    load_plan,
)


def _plan() -> Plan:
    old = ControlPlane(
        "istio-sample",
        "istio-system",
        "1.6.14",
        OperatorRelease("istio-operator-v16x", "istio-system", "0.6.12", "argocd-application"),
    )
    new = ControlPlane(
        "istio-sample-v17x",
        "istio-system",
        "1.7.7",
        OperatorRelease("istio-operator-v17x", "istio-system", "0.7.14", "argocd-application"),
        global_=False,
    )
    check = ConnectivityCheck("demo-a", "k8s-app=app-a", "echo-service", "demo-b", "app-b", 80)
    return Plan(
        source=old,
        target=new,
        stages=(
            Stage(1, "control-plane", "control-plane", applied=True),
            Stage(2, "gateways", "gateways", gateways=("istio-ingressgateway",), applied=True),
            Stage(3, "namespaces-1", "namespaces", namespaces=("demo-a",), checks=(check,)),
            Stage(4, "namespaces-2", "namespaces", namespaces=("demo-b",)),
            Stage(5, "cleanup", "cleanup"),
        ),
    )


def test_round_trip_is_lossless() -> None:
    plan = _plan()
    assert load_plan(dump_plan(plan)) == plan


def test_revisions_follow_banzai_naming() -> None:
    plan = _plan()
    assert plan.source.revision == "istio-sample.istio-system"
    assert plan.target.revision == "istio-sample-v17x.istio-system"
    assert plan.source.istiod == "istiod"
    assert plan.target.istiod == "istiod-istio-sample-v17x"
    assert plan.target.operator.minor == "1.7"


def test_expected_revision_moves_with_stages_and_rollbacks() -> None:
    plan = _plan()
    assert plan.applied_index == 2
    assert plan.expected_revision("demo-a") == plan.source.revision
    assert plan.expected_revision("demo-a", upto=3) == plan.target.revision
    moved = plan.mark_applied(3)
    assert moved.expected_revision("demo-a") == plan.target.revision
    assert moved.with_rolled_back(["demo-a"]).expected_revision("demo-a") == plan.source.revision
    assert moved.next_stage is not None and moved.next_stage.name == "namespaces-2"


def test_invalid_plan_reports_every_problem_at_once() -> None:
    raw = _plan().to_dict()
    raw["stages"][0]["kind"] = "bogus"
    raw["stages"][1]["index"] = 7
    del raw["to"]["controlPlane"]["version"]
    with pytest.raises(PlanError) as err:
        Plan.from_dict(raw)
    text = str(err.value)
    assert "bogus" in text and "index is 7" in text and "to.controlPlane.version" in text


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(PlanError, match=r"plan.yaml:4: invalid YAML"):
        load_plan("apiVersion: x\nkind: y\nstages: [\n  - {index: 1\n")
