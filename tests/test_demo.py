"""`istio-canary demo`: the whole rehearsal, run through the real CLI, both ways."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.pullrequest import parse_marker
from rehearsal.cli import main

pytestmark = pytest.mark.slow
NEW, OLD = "istio-sample-v17x.istio-system", "istio-sample.istio-system"


def demo(*args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    result = CliRunner().invoke(main, ["demo", *args])
    return result.exit_code, result.output, time.monotonic() - started


def table(output: str) -> dict[str, tuple[str, str, str]]:
    """`namespace/name` -> (status, revision, proxy) from the final kubectl-like table."""
    lines = output[output.index("NAMESPACE   ") :].splitlines()[1:]
    rows = {}
    for line in lines:
        cells = line.split()
        if len(cells) != 6:
            break
        rows[f"{cells[0]}/{cells[1]}"] = (cells[3], cells[4], cells[5])
    return rows


def stage_trailers(repo: Path) -> list[str]:
    """The `Istio-Canary-Stage` trailers on main, oldest first (what Argo CD has been given)."""
    out = subprocess.run(
        [
            "git",
            "log",
            "--reverse",
            "--topo-order",
            "--format=%(trailers:key=Istio-Canary-Stage,valueonly)",
            "main",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_demo_walks_every_stage_and_hands_over_the_gateway(tmp_path: Path) -> None:
    code, out, seconds = demo("--workdir", str(tmp_path / "run"))

    assert code == 0, out
    assert seconds < 60
    for name in ("control-plane", "gateways", "namespaces-1", "namespaces-2", "cleanup"):
        assert re.search(rf"^\[\s*\d+\] verify +✔ passed: stage \d/5 {name}", out, re.M), name
    # The cleanup gate stops on the operator-made gateway, the demo runs the step it names, and
    # the same gate passes.
    stop = re.search(
        r"^\[\s*(\d+)\] gate +✘ cleanup-safety: MeshGateway istio-system/istio-ingressgateway is owned by Istio istio-system/istio-sample",
        out,
        re.M,
    )
    assert stop is not None
    manual = re.search(
        r"^\[\s*(\d+)\] manual +✔ MeshGateway istio-system/istio-ingressgateway", out, re.M
    )
    again = re.search(
        r"^\[\s*(\d+)\] gate +✔ passed: stage 4/5 namespaces-2 \+ preconditions of stage 5",
        out,
        re.M,
    )
    assert manual is not None and again is not None
    assert int(stop.group(1)) < int(manual.group(1)) < int(again.group(1))

    pods = table(out)
    meshed = {k: v for k, v in pods.items() if v[2] != "-"}
    assert set(meshed) >= {k for k in pods if k.startswith(("demo-a/", "demo-b/"))}
    assert any(k.startswith("istio-system/istio-ingressgateway-") for k in meshed)
    assert all(v == ("Running", NEW, "1.7.7") for v in meshed.values()), meshed
    assert not any(re.match(r"istio-system/istiod-[a-z0-9]+-[a-z0-9]+$", k) for k in pods)
    assert "istio-system/istio-operator-v16x-0" not in pods

    run = tmp_path / "run"
    assert stage_trailers(run / "origin") == [
        "0/5 plan",
        "1/5 control-plane",
        "2/5 gateways",
        "3/5 namespaces-1",
        "4/5 namespaces-2",
        "5/5 cleanup",
    ]
    bodies = sorted((run / "prs").glob("*.md"))
    assert [b.name for b in bodies] == [
        "1-control-plane.md",
        "2-gateways.md",
        "3-namespaces-1.md",
        "4-namespaces-2.md",
        "5-cleanup.md",
    ]
    markers = [parse_marker(b.read_text()) for b in bodies]
    assert [m["stage"] for m in markers if m] == [1, 2, 3, 4, 5]


def test_demo_with_split_trust_stops_at_the_first_namespace_wave(tmp_path: Path) -> None:
    code, out, seconds = demo("--workdir", str(tmp_path / "run"), "--fault", "split-trust")

    assert code == 1, out
    assert seconds < 90  # two 20 s deadlines: the wave's verification, then the next gate
    assert (
        "stopped at the gate of stage 4/5 namespaces-2 (stage 3/5 namespaces-1 is merged but unhealthy)"
        in out
    )
    reason = out[out.index("stopped at the gate") :].splitlines()[1]
    assert reason.strip().startswith("connectivity: demo-a -> app-b.demo-b: HTTP 503")
    assert "injected fault split-trust" in out
    pods = table(out)
    demo_b = [v for k, v in pods.items() if k.startswith("demo-b/")]
    assert demo_b and all(v[1:] == (OLD, "1.6.14") for v in demo_b)
    assert stage_trailers(tmp_path / "run" / "origin")[-1] == "3/5 namespaces-1"


def test_demo_refuses_a_workdir_in_use(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")

    code, out, _ = demo("--workdir", str(tmp_path))

    assert code == 2 and "is not empty" in out
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_demo_rejects_an_unknown_fault() -> None:
    code, out, _ = demo("--fault", "meteor")
    assert code == 2 and "'meteor' is not one of" in out
