"""The plan's record of the node agents (`helm.cni`, `helm.ztunnel`): round trip and the strict
loader's refusals."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from core.errors import PlanError
from core.helmplan import ChartRelease
from core.plan import PLAN_PATH, dump_plan, load_plan
from tests.generator.helm.cnirepo import cni_example
from tests.generator.helpers import run


@pytest.fixture(scope="module")
def plan_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    repo = cni_example(tmp_path_factory.mktemp("cni") / "repo")
    assert run("init", "--repo", str(repo), "--to-version", "1.27.9").exit_code == 0
    return (repo / PLAN_PATH).read_text()


def test_round_trip_keeps_the_node_agents(plan_text: str) -> None:
    plan = load_plan(plan_text)
    assert plan.helm is not None
    assert plan.helm.cni == (
        ChartRelease(
            "istio-cni", "istio-system", "cni", "1.26.4", "argocd-application",
            "argocd/istio-cni.yaml",
        ),
    )  # fmt: skip
    assert [(z.name, z.chart, z.version, z.revision) for z in plan.helm.ztunnel] == [
        ("ztunnel", "ztunnel", "1.26.4", "default")
    ]
    assert load_plan(dump_plan(plan)) == plan
    assert [s.kind for s in plan.stages][-3:] == ["default-revision", "cni", "cleanup"]


def test_a_plan_without_node_agents_writes_no_key(plan_text: str) -> None:
    plan = load_plan(plan_text)
    assert plan.helm is not None
    bare = replace(plan, helm=replace(plan.helm, cni=(), ztunnel=()))
    assert "cni:" not in dump_plan(bare).split("stages:")[0]
    assert load_plan(dump_plan(bare)) == bare


def _edited(text: str, key: str, record: object) -> str:
    raw = yaml.safe_load(text)
    raw["helm"][key] = record
    return yaml.safe_dump(raw, sort_keys=False)


@pytest.mark.parametrize(
    "key,change,why",
    [
        ("cni", {"chart": "ztunnel"}, "helm.cni[1].chart must be cni, not ztunnel"),
        ("cni", {"form": "deployment"}, "helm.cni[1].form must be argocd-application or helmrelease"),
        ("ztunnel", {"colour": "red"}, "helm.ztunnel[1] has unknown field(s) colour"),
        ("ztunnel", {"version": None}, "helm.ztunnel[1].version is missing"),
    ],
)  # fmt: skip
def test_strict_loader_refuses_a_bad_record(
    plan_text: str, key: str, change: dict[str, object], why: str
) -> None:
    record = {**yaml.safe_load(plan_text)["helm"][key][0], **change}
    record = {k: v for k, v in record.items() if v is not None}
    with pytest.raises(PlanError, match=re.escape(why)):
        load_plan(_edited(plan_text, key, [record]))


def test_strict_loader_refuses_a_non_list(plan_text: str) -> None:
    with pytest.raises(PlanError, match=re.escape("helm.cni must be a list")):
        load_plan(_edited(plan_text, "cni", "istio-cni"))


def test_the_cni_kind_is_refused_in_a_banzai_plan(tmp_path: Path) -> None:
    from tests.generator.helpers import example_repo

    repo = example_repo(tmp_path / "seed")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    text = (repo / PLAN_PATH).read_text().replace("kind: cleanup", "kind: cni")
    with pytest.raises(
        PlanError, match=re.escape("kind 'cni' is not a kind of the banzai flavour")
    ):
        load_plan(text)
