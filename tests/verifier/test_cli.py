"""The click layer: arguments, output formats and exit codes (2 usage, 3 could not verify)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.plan import dump_plan
from tests.verifier import builders as B
from verifier.cli import main


def _repo(tmp_path: Path, applied: int = 2) -> Path:
    repo = tmp_path / "repo"
    (repo / ".istio-canary").mkdir(parents=True)
    (repo / ".istio-canary/plan.yaml").write_text(dump_plan(B.plan(applied=applied)))
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    for i, name in enumerate(["plan", "control-plane", "gateways"][: applied + 1]):
        subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                f"{name}\n\nIstio-Canary-Stage: {i}/5 {name}",
            ],
            check=True,
        )
    return repo


def _kubeconfig(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "sim", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "sim",
            }
        )
    )
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_stage_out_of_range_is_usage_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    kc = _kubeconfig(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    res = CliRunner().invoke(main, ["stage", "9", "--repo", str(repo), "--kubeconfig", str(kc)])
    assert res.exit_code == 2
    assert "stage 9 does not exist: the plan has stages 0..5" in res.output


def test_not_a_checkout_and_bad_kubeconfig_are_usage_errors(tmp_path: Path) -> None:
    kc = _kubeconfig(tmp_path, "http://127.0.0.1:1")
    res = CliRunner().invoke(main, ["gate", "--repo", str(tmp_path), "--kubeconfig", str(kc)])
    assert res.exit_code == 2 and "not a git checkout" in res.output
    bad = tmp_path / "bad"
    bad.write_text("{not yaml")
    res = CliRunner().invoke(
        main, ["gate", "--repo", str(_repo(tmp_path)), "--kubeconfig", str(bad)]
    )
    assert res.exit_code == 2 and "cannot use kubeconfig" in res.output
    res = CliRunner().invoke(main, ["stage", "-1"])
    assert res.exit_code == 2


@pytest.mark.parametrize("fmt", ["json", "junit", "markdown"])
def test_api_down_is_exit_3_within_the_deadline_and_still_reports(tmp_path: Path, fmt: str) -> None:
    repo = _repo(tmp_path)
    kc = _kubeconfig(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    report = tmp_path / f"report.{fmt}"
    started = time.monotonic()
    res = CliRunner().invoke(
        main,
        [
            "gate",
            "--repo",
            str(repo),
            "--kubeconfig",
            str(kc),
            "--timeout",
            "1",
            "--interval",
            "0.2",
            "--request-timeout",
            "0.5",
            "--output",
            fmt,
            "--report",
            str(report),
        ],
    )
    assert res.exit_code == 3, res.output
    assert time.monotonic() - started < 40
    assert "UNVERIFIABLE (exit 3)" in res.output  # the terminal shows the text view
    text = report.read_text()
    if fmt == "json":
        data = json.loads(text)
        assert data["outcome"] == "unverifiable" and data["checks"] == []
        assert "connection refused" in data["error"].lower()
    else:
        assert "unverifiable" in text.lower()


def test_rbac_command_prints_the_shipped_cluster_role() -> None:
    import yaml

    res = CliRunner().invoke(main, ["rbac"])
    assert res.exit_code == 0
    role = yaml.safe_load(res.output)
    assert role["kind"] == "ClusterRole"
    exec_rule = next(r for r in role["rules"] if r["resources"] == ["pods/exec"])
    assert sorted(exec_rule["verbs"]) == ["create", "get"]
    writes = {"create", "update", "patch", "delete", "deletecollection"}
    assert all(
        not (set(r["verbs"]) & writes)
        for r in role["rules"]
        if r["resources"] not in (["pods/exec"], ["selfsubjectaccessreviews"])
    )


@pytest.mark.parametrize(
    "option", ["--timeout", "--interval", "--probe-timeout", "--request-timeout"]
)
@pytest.mark.parametrize("value", ["nan", "NaN", "inf"])
def test_seconds_that_are_not_finite_are_a_one_line_usage_error(
    tmp_path: Path, option: str, value: str
) -> None:
    res = CliRunner().invoke(main, ["stage", "1", "--repo", str(tmp_path), option, value])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "finite" in lines[0] and option in lines[0]
