"""The plan model's Helm part: it round-trips, old Banzai plans load unchanged, the strict loader
refuses what does not belong, and the queries both sides ask answer per stage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.errors import PlanError
from core.plan import PLAN_PATH, dump_plan, load_plan
from tests.generator.helmrepos import helm_repo
from tests.generator.helpers import example_repo, run


def _plan_text(tmp_path: Path, start: str = "tagged", engine: str = "flux") -> str:
    repo = helm_repo(tmp_path, engine, start)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    return (repo / PLAN_PATH).read_text()


def test_a_helm_plan_round_trips(tmp_path: Path) -> None:
    plan = load_plan(_plan_text(tmp_path))
    assert load_plan(dump_plan(plan)) == plan
    assert plan.helm is not None
    assert plan.helm.tags[0].name == "prod-stable" and plan.helm.tags[0].canary == "prod-canary"


def test_a_banzai_plan_has_no_flavour_key_and_loads_as_banzai(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    text = (repo / PLAN_PATH).read_text()
    assert "flavour" not in yaml.safe_load(text)
    plan = load_plan(text)
    assert plan.flavour == "banzai" and plan.helm is None


@pytest.mark.parametrize(
    "edit,problem",
    [
        (lambda raw: raw["helm"].update(extra=1), "helm has unknown field(s) extra"),
        (lambda raw: raw["helm"]["base"].update(colour="red"), "helm.base has unknown field(s)"),
        (lambda raw: raw["helm"]["istiod"]["to"].pop("name"), "helm.istiod.to.name is missing"),
        (lambda raw: raw.pop("helm"), "helm is missing"),
        (lambda raw: raw["from"].update(operator={"name": "x"}), "from.operator is not part"),
        (
            lambda raw: raw.update(flavour="linkerd"),
            "flavour 'linkerd' is not one of banzai, helm, sail",
        ),
    ],
)
def test_the_loader_refuses_what_does_not_belong(
    tmp_path: Path, edit: Callable[[dict[str, Any]], object], problem: str
) -> None:
    raw = yaml.safe_load(_plan_text(tmp_path))
    edit(raw)
    with pytest.raises(PlanError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        load_plan(yaml.safe_dump(raw))


def test_a_banzai_plan_cannot_hold_helm_parts(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    raw = yaml.safe_load((repo / PLAN_PATH).read_text())
    raw["stages"][0]["kind"] = "tags-drop"
    raw["helm"] = {}
    with pytest.raises(PlanError) as err:
        load_plan(yaml.safe_dump(raw))
    assert "not a kind of the banzai flavour" in str(err.value)
    assert "helm is only allowed in a plan whose flavour is helm" in str(err.value)


def test_tags_point_where_the_stages_say(tmp_path: Path) -> None:
    plan = load_plan(_plan_text(tmp_path))
    index = {s.kind: s.index for s in plan.stages}
    before, drop, take = index["control-plane"] - 1, index["tags-drop"], index["tags-take"]
    assert plan.tag_revision("prod-stable", before) == "1-26-4"
    assert plan.tag_revision("prod-canary", before) == ""
    assert plan.tag_revision("prod-canary", index["control-plane"]) == "1-28-2"
    assert plan.tag_revision("prod-stable", drop - 1) == "1-26-4"
    assert plan.tag_revision("prod-stable", drop) == ""
    assert plan.tag_revision("prod-stable", take) == "1-28-2"
    assert plan.tag_revision("nope", take) == ""


def test_namespace_labels_and_the_default_revision_per_stage(tmp_path: Path) -> None:
    plan = load_plan(_plan_text(tmp_path))
    index = {s.name: s.index for s in plan.stages}
    wave = index["namespaces-1"]
    assert plan.stage(wave).namespaces == ("demo-a",)
    assert plan.expected_label("demo-a", wave - 1) == "prod-stable"
    assert plan.expected_label("demo-a", wave) == "prod-canary"
    assert plan.expected_revision("demo-a", wave) == "1-28-2"
    assert plan.expected_label("demo-a", index["tags-return"]) == "prod-stable"
    assert plan.expected_revision("demo-a", index["tags-return"]) == "1-28-2"
    assert plan.default_revision(index["default-revision"] - 1) == "1-26-4"
    assert plan.default_revision(index["default-revision"]) == "1-28-2"


def test_a_plain_install_moves_namespaces_straight_to_the_revision(tmp_path: Path) -> None:
    plan = load_plan(_plan_text(tmp_path, "plain", "argocd"))
    assert plan.source.revision == "default" and plan.source.istiod == "istiod"
    assert plan.target.istiod == "istiod-1-28-2"
    assert plan.expected_label("demo-a", 0) == ""
    assert plan.expected_label("demo-a", plan.total) == "1-28-2"
    assert plan.tag_revision("default", 0) == "default"


def test_a_tag_kept_as_manifests_moves_at_tags_take(tmp_path: Path) -> None:
    plan = load_plan(_plan_text(tmp_path, "tag-manifests", "argocd"))
    index = {s.kind: s.index for s in plan.stages}
    assert "tags-drop" not in index
    assert plan.tag_revision("prod-stable", index["tags-take"] - 1) == "1-26-4"
    assert plan.tag_revision("prod-stable", index["tags-take"]) == "1-28-2"
    assert load_plan(dump_plan(plan)) == plan


@pytest.mark.parametrize("start", ["plain", "tagged", "tag-manifests"])
def test_a_helm_plan_is_written_as_pyyaml_would_write_it(tmp_path: Path, start: str) -> None:
    plan = load_plan(_plan_text(tmp_path, start))
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump(
        plan.to_dict(), Dumper=dumper, sort_keys=False, default_flow_style=False, width=1000
    )
    text = dump_plan(plan)
    assert text.split("\n", 2)[2] == body
