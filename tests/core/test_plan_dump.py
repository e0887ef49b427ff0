"""The plan file is written byte for byte as PyYAML's libyaml dumper would write it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from core.plan import (
    ConnectivityCheck,
    ControlPlane,
    GatewayRef,
    GitOpsObject,
    MeshNamespace,
    OperatorRelease,
    Plan,
    ServiceRef,
    Stage,
    WorkloadRef,
    dump_plan,
    load_plan,
)

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _pyyaml(plan: Plan) -> str:
    body = yaml.dump(
        plan.to_dict(), Dumper=_DUMPER, sort_keys=False, default_flow_style=False, width=1000
    )
    header = "".join(line for line in dump_plan(plan).splitlines(True) if line.startswith("#"))
    return header + body


def _plan(name: str = "demo-a", selector: str = "app=a", extra: Any = None) -> Plan:
    old = ControlPlane(
        "istio-sample",
        "istio-system",
        "1.6.14",
        OperatorRelease("istio-operator-v16x", "istio-system", "0.6.12", "argocd-application"),
        file="istio-system/istio.yaml",
    )
    new = ControlPlane(
        "istio-sample-v17x",
        "istio-system",
        "1.7.7",
        OperatorRelease("istio-operator-v17x", "istio-system", "0.7.14", "helmrelease", "op.yaml"),
        global_=False,
    )
    check = ConnectivityCheck(name, selector, "", "demo-b", "app-b", 8080)
    ns = MeshNamespace(
        name,
        (WorkloadRef("Deployment", f"{name}-api", f"apps/{name}/app.yaml"),),
        (ServiceRef(f"{name}-api", 80),),
        f"apps/{name}/namespace.yaml",
        ("istio-injection", "istio.io/rev"),
    )
    return Plan(
        source=old,
        target=new,
        stages=(
            Stage(1, "control-plane", "control-plane", applied=True),
            Stage(2, "gateways", "gateways", gateways=("istio-ingressgateway",)),
            Stage(3, "namespaces-1", "namespaces", namespaces=(name,), checks=(check,)),
            Stage(4, "cleanup", "cleanup"),
        ),
        namespaces=(ns, MeshNamespace("empty")),
        gateways=(GatewayRef("istio-ingressgateway", "istio-system", False),),
        gitops_engine="argocd",
        gitops_objects=(GitOpsObject("Application", "apps", "argocd", "apps"),),
        rolled_back=(name,),
        baseline_checks=(check,),
        extra={} if extra is None else {"x-note": extra},
    )


# Names that stay plain, names YAML would retype (quoted), and text outside the fast subset.
NAMES = [
    "demo-a",
    "1.7",
    "1.10",
    "true",
    "yes",
    "null",
    "0x10",
    "1e3",
    "2026-01-01",
    "12",
    "a.b_c/d=e,f",
    "with space",
    "colon:inside",
    "hash#inside",
    "-dash-first",
    "quote'inside",
    "naïve",
    "x" * 200,
]


@pytest.mark.parametrize("name", NAMES)
def test_plan_text_is_what_pyyaml_writes(name: str) -> None:
    plan = _plan(name, selector=f"app={name},version=1.10")
    text = dump_plan(plan)
    assert text == _pyyaml(plan)
    assert load_plan(text) == plan


@pytest.mark.parametrize("extra", [{"a": [1, 2]}, [[1, 2]], 1.5, None, "note"])
def test_unknown_plan_keys_are_kept_as_pyyaml_writes_them(extra: Any) -> None:
    plan = _plan(extra=extra)
    assert dump_plan(plan) == _pyyaml(plan)
