"""A demanding user's bad inputs to istio-canary-verify: one line, the contract's exit code, and
no work done that a bad flag would throw away. (test_cli.py holds the basic usage errors.)"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.errors import ClusterUnreachable
from simcluster.harness import SimCluster
from tests.verifier.simseed import seed_cluster
from tests.verifier.test_cli import _closed_port, _kubeconfig, _repo
from verifier.cli import main
from verifier.cluster import Cluster


def _verify(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _one_line_error(res: Result, code: int, reason: str) -> None:
    assert res.exit_code == code, (res.exit_code, res.output, res.exception)
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)
    line = res.stderr.strip()
    assert "\n" not in line and line.startswith("istio-canary-verify: error: "), line
    assert reason in line, line


def test_report_into_a_missing_directory_is_refused_before_polling(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    kc = _kubeconfig(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    report = tmp_path / "no" / "such" / "dir" / "r.json"
    started = time.monotonic()
    res = _verify(
        "stage",
        "1",
        "--repo",
        str(repo),
        "--kubeconfig",
        str(kc),
        "--timeout",
        "20",
        "--report",
        str(report),
    )
    _one_line_error(res, 2, f"--report {report}: directory {report.parent} does not exist")
    assert time.monotonic() - started < 10, "it polled the cluster before refusing the flag"


def test_baseline_that_is_json_but_not_a_report_is_an_input_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    kc = _kubeconfig(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    for body in ([1, 2], {"checks": [1, "x"]}, {"checks": [{"name": "gateways", "evidence": [3]}]}):
        baseline = tmp_path / "baseline.json"
        baseline.write_text(json.dumps(body))
        res = _verify(
            "stage", "1", "--repo", str(repo), "--kubeconfig", str(kc), "--baseline", str(baseline)
        )
        _one_line_error(res, 2, f"--baseline {baseline}: the report records no gateway Service")


def test_kubeconfig_that_is_a_yaml_list_says_so(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    kc = tmp_path / "kc"
    kc.write_text("- a\n- b\n")
    res = _verify("stage", "1", "--repo", str(repo), "--kubeconfig", str(kc))
    _one_line_error(
        res, 2, f"cannot use kubeconfig {kc}: not a kubeconfig (a YAML list, not a mapping)"
    )


@pytest.mark.slow
def test_a_hanging_api_cannot_hold_the_gate_past_its_deadline(tmp_path: Path) -> None:
    # api-flaky's "hang" on every request: the 30 s read timeout must not outlast --timeout 3.
    with seed_cluster(tmp_path) as seed:
        seed.sim.faults.flaky_share = 1.0
        seed.sim.faults.flaky_actions = ("hang",)
        seed.sim.set_fault("api-flaky", True)
        started = time.monotonic()
        verdict = seed.verify("stage", "0", timeout=3)
        took = time.monotonic() - started
        seed.sim.set_fault("api-flaky", False)
    assert verdict.exit_code == 3, verdict.output
    assert verdict.data["outcome"] == "unverifiable"
    assert took < 3 + 5, f"the gate ran {took:.1f}s with --timeout 3"


def test_a_closed_port_is_named_plainly(tmp_path: Path) -> None:
    port = _closed_port()
    kc = _kubeconfig(tmp_path, f"http://127.0.0.1:{port}")
    res = _verify(
        "stage",
        "1",
        "--repo",
        str(_repo(tmp_path)),
        "--kubeconfig",
        str(kc),
        "--timeout",
        "1",
        "--interval",
        "0.2",
    )
    assert res.exit_code == 3, res.output
    verdict = res.stdout.strip().splitlines()[-1]
    assert f"cannot connect to 127.0.0.1:{port} (connection refused)" in verdict, verdict
    assert "MaxRetryError" not in verdict and "HTTPConnection(" not in verdict, verdict


def test_an_https_server_behind_an_http_kubeconfig_is_named(tmp_path: Path) -> None:
    with SimCluster(workdir=tmp_path / "sim", tls=True, controllers=False) as sim:
        assert sim.url.startswith("https://")
        kc = _kubeconfig(tmp_path, sim.url.replace("https://", "http://"))
        res = _verify(
            "stage",
            "1",
            "--repo",
            str(_repo(tmp_path)),
            "--kubeconfig",
            str(kc),
            "--timeout",
            "1",
            "--interval",
            "0.2",
        )
    assert res.exit_code == 3, res.output
    verdict = res.stdout.strip().splitlines()[-1]
    assert "closed the connection without an HTTP response (an https server?)" in verdict, verdict


@pytest.mark.slow
def test_a_hanging_exec_is_cut_at_the_gate_deadline(tmp_path: Path) -> None:
    # A probe's exec (handshake + max-time + retries) could hold the gate ~45 s past --timeout.
    with SimCluster(workdir=tmp_path / "sim", controllers=False) as sim:
        sim.faults.flaky_share = 1.0
        sim.faults.flaky_actions = ("hang",)
        sim.set_fault("api-flaky", True)
        with Cluster(sim.kubeconfig) as cluster:
            started = time.monotonic()
            cluster.end_by(started + 2)
            with pytest.raises(ClusterUnreachable):
                cluster.exec("default", "p", "c", ["true"], timeout=20)
            took = time.monotonic() - started
        sim.set_fault("api-flaky", False)
    assert took < 2 + 3, f"exec ran {took:.1f}s past a 2 s deadline"
