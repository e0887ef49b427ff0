"""Verifier benchmark: list cost at 20,000 pods and connectivity-probe concurrency.

    .venv/bin/python bench/verifier_bench.py [--namespaces 2000] [--pods-per-namespace 10]

Part 1: the seed's cluster on simcluster at stage 2 (gateways moved), plus N namespaces of P pods
each, the first 250 labelled for the new revision (a namespaces wave). One evaluation of that
namespaces stage (every check but connectivity) is timed and its list requests counted, against
`kubectl get pods -A --chunk-size=500` (requests counted from `-v=6`) and the wall time of
`kubectl get pods -A -o json`, on the same server in the same run (best of 3 each).
Part 2: 200 connectivity probes (the seed's two checks, 100 times each) run serially, then with
the default concurrency; target: concurrent <= 1/8 of serial.
The verifier runs in this process, simcluster in a thread of it (so the verifier's numbers also
pay for the server's share of the GIL; kubectl, a separate process, does not).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from core.plan import MeshNamespace, Plan
from generator.cli import main as generator_cli
from generator.resources import example_repo_dir
from simcluster.harness import SimCluster
from verifier.checks import connectivity, controlplane, dataplane, gateways
from verifier.cluster import Cluster
from verifier.expectation import expect_stage
from verifier.gitrepo import Checkout
from verifier.probe import ProbeSettings, run_probes
from verifier.snapshot import collect

WAVE = 250


class LatencyProxy:
    """A loopback TCP proxy that holds each connection's first answer for `latency` seconds.

    A real exec costs an API-server -> kubelet -> container round trip and a process start; the
    simulated one answers in about a millisecond, which would measure only CPU. This adds the
    missing latency once per connection (one exec = one connection), nothing else.
    """

    def __init__(self, upstream: str, latency: float) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.latency = latency
        self.url = ""
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start() -> None:
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            ready.set()

        threading.Thread(
            target=lambda: (self._loop.run_until_complete(start()), self._loop.run_forever()),
            daemon=True,
        ).start()
        ready.wait(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
            try:
                while data := await src.read(65536):
                    if delay:
                        await asyncio.sleep(delay)
                        delay = 0.0
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, 0.0), pipe(up_reader, writer, self.latency))


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def seed_repo(root: Path) -> Path:
    repo = root / "repo"
    shutil.copytree(example_repo_dir(), repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-qm", "seed")
    for args in (["init", "--to-version", "1.7.7"], ["next"], ["next"]):
        res = CliRunner().invoke(generator_cli, [*args, "--repo", str(repo)])
        assert res.exit_code == 0, res.output
    return repo


def populate(store: Any, namespaces: int, per_ns: int, new_rev: str) -> None:
    for i in range(namespaces):
        ns = f"bench-{i:04d}"
        labels = {"istio.io/rev": new_rev} if i < WAVE else {"istio-injection": "enabled"}
        store.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}
        )
        for j in range(per_ns):
            store.create(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"app-{j:02d}",
                        "namespace": ns,
                        "labels": {"app": f"app-{j:02d}"},
                    },
                    "spec": {
                        "containers": [{"name": "app", "image": "k8s.gcr.io/echoserver:1.10"}]
                    },
                }
            )


def bench_plan(plan: Plan, namespaces: int) -> Plan:
    extra = tuple(MeshNamespace(f"bench-{i:04d}") for i in range(namespaces))
    stages = tuple(
        replace(s, namespaces=tuple(f"bench-{i:04d}" for i in range(WAVE)), checks=())
        if s.index == 3
        else replace(s, checks=())
        for s in plan.stages
    )
    # Stage 3 moves the bench wave (the seed's demo-a stays where stage 2 left it).
    return replace(plan, namespaces=plan.namespaces + extra, stages=stages, baseline_checks=())


def best(fn: Any, runs: int = 3) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def kubectl(kc: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kc), *args], capture_output=True, text=True, check=True
    )


def part1(sim: SimCluster, repo: Path, namespaces: int, per_ns: int) -> None:
    plan = Checkout(repo).plan()
    t = time.perf_counter()
    sim.call(lambda store: populate(store, namespaces, per_ns, plan.target.revision), timeout=600)
    sim.wait_settled(600)
    print(f"populated {namespaces} namespaces x {per_ns} pods in {time.perf_counter() - t:.1f}s")
    expect = expect_stage(bench_plan(plan, namespaces), 3)

    with Cluster(sim.kubeconfig) as cluster:

        def evaluate() -> list[Any]:
            snap = collect(cluster, expect)
            return [
                controlplane.check(snap, expect),
                dataplane.check(snap, expect),
                gateways.check(snap, expect),
            ], len(snap.pods)

        cluster.requests.clear()
        evaluate()
        ours_requests = dict(cluster.requests)
        ours, (results, pods) = best(evaluate)
    verbose = kubectl(sim.kubeconfig, "get", "pods", "-A", "--chunk-size=500", "-o", "json", "-v=6")
    kubectl_lists = len(re.findall(r"GET \S+/api/v1/pods\?", verbose.stderr))
    theirs, _ = best(lambda: kubectl(sim.kubeconfig, "get", "pods", "-A", "-o", "json"))
    print(f"pods listed: {pods}")
    for r in results:
        print(f"  {r.name}: {r.status.value}: {r.message[:110]}")
    print(
        f"list requests: verifier {ours_requests.get('list', 0)} (+{ours_requests.get('get', 0)} gets) "
        f"vs kubectl get pods -A --chunk-size=500: {kubectl_lists}"
    )
    print(
        f"wall: verifier evaluation {ours:.2f}s vs kubectl get pods -A -o json {theirs:.2f}s "
        f"= {ours / theirs:.2f}x (target <= 2x)"
    )


def part2(sim: SimCluster, repo: Path, latency: float) -> None:
    plan = Checkout(repo).plan()
    expect = expect_stage(plan, 2)
    expect = replace(expect, probes=tuple(plan.baseline_checks) * 100)
    host = LatencyProxy(sim.url, latency).url if latency else sim.url
    with Cluster(host=host) as cluster:
        deadline = time.monotonic() + 60
        while True:  # the seed's pods start after the sync; wait for them (bounded)
            probes = connectivity.plan_probes(collect(cluster, expect), expect)
            if not any(p.problem for p in probes) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(probes) == 200 and not any(p.problem for p in probes), probes[0].problem
        default = ProbeSettings()
        serial_t, serial = best(
            lambda: run_probes(cluster, probes, replace(default, concurrency=1)), 1
        )
        conc_t, conc = best(lambda: run_probes(cluster, probes, default), 1)
    ok = sum(r.status.value == "passed" for r in conc)
    print(
        f"200 probes (+{latency * 1000:.0f} ms per exec): serial {serial_t:.2f}s, concurrency {default.concurrency} {conc_t:.2f}s "
        f"= 1/{serial_t / conc_t:.1f} of serial (target <= 1/8); passed {ok}/200 "
        f"(serial passed {sum(r.status.value == 'passed' for r in serial)}/200)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--namespaces", type=int, default=2000)
    ap.add_argument("--pods-per-namespace", type=int, default=10)
    ap.add_argument(
        "--exec-latency", type=float, action="append", help="seconds added per exec (repeatable)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="verifier-bench-") as tmp:
        repo = seed_repo(Path(tmp))
        with SimCluster(repo=repo, sync_interval=1.0, workdir=Path(tmp) / "sim") as sim:
            sim.sync_now()
            sim.wait_settled(60)
            for latency in args.exec_latency or [0.0, 0.1]:
                part2(sim, repo, latency)
            part1(sim, repo, args.namespaces, args.pods_per_namespace)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
