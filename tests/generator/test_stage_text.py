"""What stages say about themselves stays short at any mesh size: subjects, titles, PR bodies.

These build big plans in memory (no repo, no git), so the limits are checked in milliseconds;
test_big_mesh.py drives the same through real git and the fake forges.
"""

from __future__ import annotations

import typing

import pytest

from core.plan import ControlPlane, MeshNamespace, OperatorRelease, Plan, Stage, StageKind
from generator.headline import SUBJECT_MAX, fit, names, span
from generator.pullrequest import render_body, render_title
from generator.pullrequest.body import BODY_MAX
from generator.pullrequest.title import TITLE_MAX
from generator.render import render
from generator.stages import KINDS, kind_of
from generator.stages.namespaces import move_subjects


def big_plan(namespaces: int, wave: int, name_length: int = 8) -> Plan:
    """A plan over `namespaces` meshed namespaces in waves of `wave`, nothing applied."""
    names_ = [f"ns-{i:05d}".ljust(name_length, "x") for i in range(namespaces)]
    old = OperatorRelease("istio-operator-v16x", "istio-system", "0.6.12", "argocd-application")
    new = OperatorRelease("istio-operator-v17x", "istio-system", "0.7.14", "argocd-application")
    waves = [names_[i : i + wave] for i in range(0, namespaces, wave)]
    stages = [Stage(1, "control-plane", "control-plane")]
    stages += [
        Stage(i + 2, f"namespaces-{i + 1}", "namespaces", namespaces=tuple(w))
        for i, w in enumerate(waves)
    ]
    stages.append(Stage(len(stages) + 1, "cleanup", "cleanup"))
    return Plan(
        source=ControlPlane("istio-fleet", "istio-system", "1.6.14", old),
        target=ControlPlane("istio-fleet-v17x", "istio-system", "1.7.7", new, global_=False),
        stages=tuple(stages),
        namespaces=tuple(MeshNamespace(n) for n in names_),
    )


# ----- headlines ---------------------------------------------------------------------------------


def test_fit_takes_the_first_candidate_that_fits() -> None:
    assert fit(["a" * 10, "b" * 5, "c"], 6) == "bbbbb"


def test_fit_cuts_the_last_candidate_when_none_fits() -> None:
    assert fit(["a" * 10, "b" * 9], 6) == "bbbbb…"


def test_names_lists_then_spans_then_counts() -> None:
    few, many = ["b", "a"], [f"app-{i:04d}" for i in range(500, 750)]
    assert names(few, "namespaces", 20) == "b, a"
    assert names(many, "namespaces", 60) == "250 namespaces (app-0500 … app-0749)"
    assert names(many, "namespaces", 20) == "250 namespaces"
    assert span(["only"], "namespaces") == "only"


# ----- commit subjects ---------------------------------------------------------------------------


@pytest.mark.parametrize("name_length", [8, 63])
def test_every_commit_subject_fits_72_characters(name_length: int) -> None:
    plan = big_plan(2_500, 250, name_length)
    for stage in plan.stages:
        subject = fit(kind_of(stage.kind).subjects(plan, stage), SUBJECT_MAX)
        assert len(subject) <= SUBJECT_MAX, subject
        assert subject.startswith(f"istio-canary {stage.index}/{plan.total}: ")
    wave = plan.stage(2)
    assert fit(kind_of("namespaces").subjects(plan, wave), SUBJECT_MAX) == (
        "istio-canary 2/12: move 250 namespaces to istio-fleet-v17x"
    )
    rollback = move_subjects("istio-canary", "roll back", wave.namespaces, "istio-fleet")
    assert len(fit(rollback, SUBJECT_MAX)) <= SUBJECT_MAX


def test_a_small_wave_subject_names_its_namespaces() -> None:
    plan = big_plan(4, 2)
    assert fit(kind_of("namespaces").subjects(plan, plan.stage(2)), SUBJECT_MAX) == (
        "istio-canary 2/4: move ns-00000, ns-00001 to istio-fleet-v17x"
    )


# ----- PR titles and bodies ----------------------------------------------------------------------


@pytest.mark.parametrize("name_length", [8, 63])
def test_a_wave_title_names_the_count_and_the_range(name_length: int) -> None:
    plan = big_plan(2_500, 250, name_length)
    title = render_title(plan, plan.stage(4))
    assert len(title) <= TITLE_MAX
    assert title.startswith("istio-canary 4/12 namespaces-3: move 250 namespaces")
    if name_length == 8:
        assert "250 namespaces (ns-00500 … ns-00749) to istio-fleet-v17x (Istio 1.7.7)" in title


@pytest.mark.parametrize(("namespaces", "wave"), [(2_500, 250), (10_000, 10_000), (60, 60)])
def test_every_body_fits_the_smallest_forge_limit(namespaces: int, wave: int) -> None:
    plan = big_plan(namespaces, wave)
    for stage in plan.stages:
        body = render_body(plan, stage, [], "b" * 40, "h" * 40)
        assert len(body) <= BODY_MAX, (stage.name, len(body))
        assert body.rstrip().endswith('"v": 1} -->')


@pytest.mark.parametrize("index", [1, 1_000, 2_502])
def test_a_plan_of_thousands_of_stages_draws_its_timeline_around_the_current_one(
    index: int,
) -> None:
    plan = big_plan(2_500, 1)
    body = render_body(plan, plan.stage(index), [])
    timeline = body.split("```mermaid")[1].split("```")[0]
    assert len(body) <= BODY_MAX and timeline.count("\n") < 40
    assert f"  class s{index} current" in timeline and " stages …" in timeline


def test_a_wave_body_lists_its_namespaces_and_counts_the_rest() -> None:
    plan = big_plan(2_500, 250)
    body = render_body(plan, plan.stage(3), [])
    section = body.split("### Namespaces")[1].split("### Gate")[0]
    assert all(f"| ns-{i:05d} |" in section for i in range(250, 500))
    assert "ns-00249" not in section and "ns-00500" not in section
    assert "<details><summary>250 namespaces</summary>" in section
    assert "- 250 more namespaces stay on `istio-fleet-v17x.istio-system`" in section
    assert "- 2,000 more namespaces stay on `istio-fleet.istio-system`" in section


def test_a_huge_wave_body_names_its_namespaces_instead_of_tabling_them() -> None:
    plan = big_plan(10_000, 10_000)
    body = render_body(plan, plan.stage(2), [])
    assert "| ns-00000 |" not in body
    assert "ns-00000, ns-00001" in body and "more (see the plan file)" in body


# ----- the registry ------------------------------------------------------------------------------


def test_the_registry_has_one_kind_per_plan_kind_in_plan_order() -> None:
    assert [k.name for k in KINDS] == list(typing.get_args(StageKind))


def test_the_plan_commit_shows_a_long_wave_as_its_count_and_range() -> None:
    plan = big_plan(2_500, 250)
    message = render(
        "commit-plan.txt.j2",
        subject="s",
        source=plan.source,
        target=plan.target,
        stages=plan.stages,
        n=plan.total,
        baseline=0,
    )
    assert "  2. namespaces-1: 250 namespaces (ns-00000 … ns-00249)\n" in message
    assert len(message) < 2_000
