"""The checkout side (real git in tmp_path) and the report formats."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from core.errors import InputError, PlanError, UsageError
from core.plan import dump_plan
from tests.verifier import builders as B
from verifier.gate import Request, Result, load_baseline
from verifier.gitrepo import Checkout
from verifier.report import render, to_data
from verifier.result import CheckResult
from verifier.runner import Evaluation, Outcome, Verdict


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _commit(repo: Path, message: str) -> str:
    (repo / "f.txt").write_text(message)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def test_stage_commits_come_from_trailers_and_ancestry_from_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    base = _commit(repo, "seed")
    plan_c = _commit(repo, "Plan the upgrade\n\nIstio-Canary-Stage: 0/5 plan")
    cp_c = _commit(
        repo, "Add the 1.7 control plane\n\nWhy: canary.\n\nIstio-Canary-Stage: 1/5 control-plane"
    )
    co = Checkout(repo)
    assert co.stage_commits() == {0: plan_c, 1: cp_c}
    assert co.contains(cp_c, plan_c) is True
    assert co.contains(base, plan_c) is False
    assert co.contains("f" * 40, plan_c) is None  # not in this checkout
    with pytest.raises(PlanError, match="Istio-Canary-Stage: 2/"):
        co.stage_commit(2)
    with pytest.raises(PlanError, match="no plan"):
        co.plan()
    (repo / ".istio-canary").mkdir()
    (repo / ".istio-canary/plan.yaml").write_text(dump_plan(B.plan(applied=1)))
    assert co.plan().applied_index == 1


def test_not_a_checkout_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a git checkout"):
        Checkout(tmp_path)


def _result(outcome: Outcome = Outcome.FAILED) -> Result:
    probe = {
        "source": "demo-a (k8s-app=app-a)",
        "target": "app-b.demo-b:80",
        "status": "passed",
        "httpCode": "200",
        "mtls": True,
    }
    bad = {
        **probe,
        "source": "demo-b (k8s-app=app-b)",
        "target": "app-a.demo-a:80",
        "status": "pending",
        "httpCode": "503",
        "mtls": None,
    }
    results = [
        CheckResult.passed("control-planes", "Available"),
        CheckResult.pending("connectivity", "demo-b -> app-a.demo-a: HTTP 503 | x", [probe, bad]),
        CheckResult.passed(
            "gateways",
            "kept",
            [
                {
                    "gateway": "istio-system/istio-ingressgateway",
                    "service": {"uid": "u-1", "address": "192.0.2.1"},
                }
            ],
        ),
    ]
    now = datetime.now(UTC)
    verdict = Verdict(
        outcome, "never passed before the deadline", Evaluation(results), 3, 0, now, now
    )
    return Result(
        Request("gate", Path(".")),
        B.plan(applied=3),
        verdict,
        "stage 2/5 gateways + preconditions of stage 3",
    )


def test_json_report_is_stable_and_carries_evidence() -> None:
    data = json.loads(render(_result(), "json"))
    assert data["schemaVersion"] == 1 and data["outcome"] == "failed" and data["exitCode"] == 1
    assert [c["name"] for c in data["checks"]] == ["control-planes", "connectivity", "gateways"]
    assert data["checks"][1]["evidence"][1]["httpCode"] == "503"
    result = _result()
    assert json.loads(render(result, "json")) == to_data(result)


def test_junit_marks_non_passing_checks_as_failures() -> None:
    root = ET.fromstring(render(_result(), "junit").split("?>", 1)[1])
    assert root.get("tests") == "3" and root.get("failures") == "1"
    failed = [tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert failed == ["connectivity"]


def test_markdown_has_a_connectivity_matrix_and_escapes_pipes() -> None:
    md = render(_result(), "markdown")
    assert "| from \\ to | app-a.demo-a:80 | app-b.demo-b:80 |" in md
    assert "| demo-a (k8s-app=app-a) |  | ✅ 200 mTLS |" in md
    assert "| demo-b (k8s-app=app-b) | ❌ 503 |  |" in md
    assert "HTTP 503 \\| x" in md


def test_text_view_ends_with_the_verdict() -> None:
    text = render(_result(Outcome.FAILED), "text")
    assert (
        text.splitlines()[0]
        == "istio-canary-verify gate: stage 2/5 gateways + preconditions of stage 3"
    )
    assert text.rstrip().endswith("FAILED (exit 1): never passed before the deadline")


def test_baseline_is_read_from_an_earlier_json_report(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(render(_result(), "json"))
    assert load_baseline(path) == {
        "istio-system/istio-ingressgateway": {"uid": "u-1", "address": "192.0.2.1"}
    }
    path.write_text("{}")
    with pytest.raises(InputError, match="records no gateway Service"):
        load_baseline(path)
