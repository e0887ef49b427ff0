"""The rehearsal's place in the layering, its composed command line, and its pure parts.

The end-to-end runs are in test_demo.py and the verifier's simulated-cluster tests.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rehearsal.faults import FAULTS
from rehearsal.pods import PodRow, pod_row, pod_table
from rehearsal.progress import Progress
from simcluster.faults import FAULT_NAMES

ROOT = Path(__file__).resolve().parent.parent
OURS = ("core", "generator", "verifier", "simcluster", "rehearsal")
# What each package may import of ours (docs/architecture.md): core is the floor, the three parts
# stand on it side by side, and only the rehearsal stands on all of them.
MAY_IMPORT = {
    "core": {"core"},
    "generator": {"core", "generator"},
    "verifier": {"core", "verifier"},
    "simcluster": {"core", "simcluster"},
    "rehearsal": set(OURS),
}


def imported_after(code: str) -> list[str]:
    """Top-level packages in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return list(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("package", OURS)
def test_importing_every_module_of_a_package_loads_only_what_it_may(package: str) -> None:
    every_module = (
        f"import pkgutil, importlib, {package}\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)"
    )
    loaded = {p for p in imported_after(every_module) if p in OURS}
    assert package in loaded  # the probe did import it
    assert loaded - MAY_IMPORT[package] == set()


def test_generator_source_never_names_rehearsal() -> None:
    """Not even lazily inside a function: the generator does not know the rehearsal exists."""
    named = []
    for path in sorted((ROOT / "generator").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            named += [f"{path.name}: {m}" for m in modules if m.split(".")[0] == "rehearsal"]
    assert named == []


def test_the_console_script_has_demo_without_loading_the_cluster_side() -> None:
    loaded = imported_after("from rehearsal.cli import main\nassert 'demo' in main.commands")
    assert "rehearsal" in loaded
    assert [p for p in ("simcluster", "verifier", "kubernetes") if p in loaded] == []


def test_composing_demo_leaves_the_generators_group_as_it_was() -> None:
    from generator.cli import main as generator_main
    from rehearsal.cli import main

    assert "demo" not in generator_main.commands
    assert sorted(main.commands) == sorted([*generator_main.commands, "demo"])
    assert main.callback is generator_main.callback


def test_every_simcluster_fault_has_words_for_the_demo() -> None:
    assert sorted(FAULTS) == sorted(FAULT_NAMES)


def test_the_proxy_column_is_the_istio_proxy_containers_version_as_the_verifier_reads_it() -> None:
    def pod(containers: list[dict[str, str]], init: list[dict[str, str]]) -> dict[str, object]:
        return {
            "metadata": {"namespace": "demo-a", "name": "p", "labels": {"istio.io/rev": "r.ns"}},
            "spec": {"containers": containers, "initContainers": init},
            "status": {"phase": "Running", "containerStatuses": [{"ready": True}]},
        }

    app = {"name": "app", "image": "k8s.gcr.io/echoserver:1.10"}
    init = {"name": "istio-init", "image": "docker.io/istio/proxyv2:1.6.14"}
    sidecar = {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.7.7"}

    assert pod_row(pod([app, sidecar], [init])) == PodRow(
        "demo-a", "p", "1/2", "Running", "r.ns", "1.7.7"
    )
    assert pod_row(pod([app], [init])).proxy == "-"  # an init container is not a proxy
    assert pod_row(pod([app], [sidecar])).proxy == "1.7.7"  # a native sidecar is


def test_the_table_pads_columns_to_the_widest_cell() -> None:
    rows = [PodRow("a", "long-name", "1/1", "Running", "-", "-")]
    assert pod_table(rows).splitlines() == [
        "NAMESPACE   NAME        READY   STATUS    REVISION   PROXY",
        "a           long-name   1/1     Running   -          -",
    ]


def test_progress_numbers_steps_and_times_them_on_its_clock() -> None:
    lines: list[str] = []
    ticks = iter([0.0, 1.0, 3.5, 3.5])
    progress = Progress(lines.append, clock=lambda: next(ticks))

    with progress.step("plan", "istio-canary init") as step:
        step.done("5 stages")

    assert lines == [
        "[ 1] plan    istio-canary init ...",
        "[ 1] plan    ✔ 5 stages  (2.5s, 4s total)",
    ]
