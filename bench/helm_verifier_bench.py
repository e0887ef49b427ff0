"""Verifier benchmark, Helm flavour: one gate evaluation at 20,000 pods against kubectl.

    .venv/bin/python -m bench.helm_verifier_bench [--namespaces 2000] [--pods-per-namespace 10]

The generator's tagged Helm test repo (istiod `1-26-4` listing the tag `prod-stable`, namespaces
on the tag, a gateway release and a gateway Deployment) is rehearsed on simcluster up to its
control-plane stage with the real stage loop (`rehearsal`: PR, gate, merge, sync), so the new
istiod `1-28-2` and its canary tag `prod-canary` are live. Then N namespaces of P pods are created
in the store, through the live injector webhooks (tag webhooks included) as the API server would:
the first 250 labelled `istio.io/rev=prod-canary` (the wave, injected by 1-28-2), the rest
`prod-stable` (injected by 1-26-4). Each pod carries what the upstream injector writes: the
`istio.io/rev` annotation, `sidecar.istio.io/status` with the revision, the proxy image.

One evaluation of the namespaces-1 stage (collect, then every snapshot check of the Helm flavour
but the PR and GitOps checks, which read git, not the cluster) is measured against
`kubectl get pods -A -o json` on the same server in the same run: CPU time, each side with the
server's share (the verifier runs in this process with simcluster in a thread; for kubectl, its
own CPU plus this process's during its run), best and worst of `--repeat`. List requests are
counted against `kubectl get pods -A --chunk-size=500 -v=6`. Targets: <= 2x, no more lists.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.plan import MeshNamespace, Plan
from simcluster.harness import SimCluster
from simcluster.store import Store
from tests.verifier.helmsim import HelmFlow, helm_cluster
from verifier.checks import Phase, checks_for
from verifier.checks.gitops import GitOpsSync
from verifier.checks.pullrequest import PullRequestMatchesStage
from verifier.cluster import Cluster
from verifier.expectation import Expectation, expect_stage
from verifier.result import CheckResult
from verifier.snapshot import collect

WAVE = 250
STABLE, CANARY = "prod-stable", "prod-canary"
# What reads git rather than the cluster: not what 20,000 pods cost.
NOT_TIMED = (PullRequestMatchesStage.name, GitOpsSync.name)


def populate(store: Store, namespaces: int, per_ns: int) -> None:
    """Namespaces and pods, created through the store's admission (the live injectors)."""
    for i in range(namespaces):
        ns = f"bench-{i:04d}"
        tag = CANARY if i < WAVE else STABLE
        store.create(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"istio.io/rev": tag}},
            }
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
                    "spec": {"containers": [{"name": "app", "image": "ealen/echo-server:0.9.2"}]},
                }
            )


def settle(sim: SimCluster, timeout: float) -> None:
    """Wait until the controllers are done with the new pods; on a busy machine a single
    "settled?" question can wait longer than the harness allows while they work through them."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sim.wait_settled(max(1.0, deadline - time.monotonic()))
            return
        except concurrent.futures.TimeoutError:
            if time.monotonic() > deadline:
                raise


def bench_plan(plan: Plan, namespaces: int) -> Plan:
    """The plan with the bench namespaces in it; the first namespaces stage moves the wave."""
    extra = tuple(
        MeshNamespace(f"bench-{i:04d}", meshed_by=("istio.io/rev",), rev_label=STABLE)
        for i in range(namespaces)
    )
    first = next(s.index for s in plan.stages if s.kind == "namespaces")
    wave = tuple(f"bench-{i:04d}" for i in range(WAVE))
    stages = tuple(
        replace(s, namespaces=wave, checks=()) if s.index == first else replace(s, checks=())
        for s in plan.stages
    )
    return replace(plan, namespaces=plan.namespaces + extra, stages=stages, baseline_checks=())


def cpu_of(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall, CPU of this process and its children) of `fn()`, and its result."""

    def used() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    start, cpu = time.perf_counter(), used()
    out = fn()
    return time.perf_counter() - start, used() - cpu, out


def kubectl(kc: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kc), *args], capture_output=True, text=True, check=True
    )


def evaluation(
    cluster: Cluster, expect: Expectation
) -> Callable[[], tuple[list[CheckResult], int]]:
    checks = [c for c in checks_for(expect, Phase.SNAPSHOT) if c.name not in NOT_TIMED]

    def run() -> tuple[list[CheckResult], int]:
        snap = collect(cluster, expect)
        return [c.evaluate(snap, expect) for c in checks], len(snap.pods)

    return run


def measure(flow: HelmFlow, namespaces: int, per_ns: int, repeat: int) -> dict[str, Any]:
    sim = flow.sim
    plan = flow.pipeline.plan()
    start = time.perf_counter()
    sim.call(lambda store: populate(store, namespaces, per_ns), timeout=900)
    settle(sim, 900)
    print(
        f"populated {namespaces} namespaces x {per_ns} pods in {time.perf_counter() - start:.0f}s"
    )
    expect = expect_stage(bench_plan(plan, namespaces), plan.stages[1].index)
    kc = Path(sim.kubeconfig)
    # The GitOps loop polls git every 0.2 s (CPU of this process and its git children), which
    # would be charged to the longer side; paused, the cluster at rest costs next to nothing.
    sim.set_fault("no-sync", True)
    idle_wall, idle_cpu, _ = cpu_of(lambda: time.sleep(3))
    with Cluster(kc) as cluster:
        run = evaluation(cluster, expect)
        cluster.requests.clear()
        results, pods = run()
        lists, gets = cluster.requests.get("list", 0), cluster.requests.get("get", 0)
        # what the server saw of it, newest last: which lists the evaluation made
        seen = sim.requests[-(lists + gets) :]
        by_path = Counter(path.split("?")[0] for _, path, _ in seen if "limit=" in path)
        ours = [cpu_of(run) for _ in range(repeat)]
    verbose = kubectl(kc, "get", "pods", "-A", "--chunk-size=500", "-o", "json", "-v=6")
    kubectl_lists = len(re.findall(r"GET \S+/api/v1/pods\?", verbose.stderr))
    theirs = [cpu_of(lambda: kubectl(kc, "get", "pods", "-A", "-o", "json")) for _ in range(repeat)]
    sim.set_fault("no-sync", False)
    return {
        "idle_cpu_share": idle_cpu / idle_wall,
        "pods": pods,
        "results": results,
        "lists": lists,
        "lists_by_path": dict(by_path),
        "gets": gets,
        "kubectl_lists": kubectl_lists,
        "ours": ours,
        "theirs": theirs,
    }


def report(m: dict[str, Any]) -> int:
    print(f"pods listed: {m['pods']}")
    for r in m["results"]:
        print(f"  {r.name}: {r.status.value}: {r.message[:110]}")
    print(
        f"list requests: verifier {m['lists']} (+{m['gets']} gets) vs "
        f"kubectl get pods -A --chunk-size=500: {m['kubectl_lists']}"
    )
    print("  " + ", ".join(f"{path} {n}" for path, n in sorted(m["lists_by_path"].items())))
    ours_cpu = sorted(c for _, c, _ in m["ours"])
    theirs_cpu = sorted(c for _, c, _ in m["theirs"])
    best = ours_cpu[0] / theirs_cpu[0]
    print(
        f"CPU: verifier evaluation {ours_cpu[0]:.2f}s (worst {ours_cpu[-1]:.2f}s) vs kubectl get "
        f"pods -A -o json {theirs_cpu[0]:.2f}s (worst {theirs_cpu[-1]:.2f}s), both with the "
        f"server's share: {best:.2f}x best/best, {ours_cpu[-1] / theirs_cpu[0]:.2f}x worst/best "
        f"(target <= 2x; {len(ours_cpu)} runs each)"
    )
    print(
        f"CPU of the cluster at rest (counted on both sides): {m['idle_cpu_share']:.1%} of a core"
    )
    print(
        f"wall: verifier {min(w for w, _, _ in m['ours']):.2f}s vs kubectl "
        f"{min(w for w, _, _ in m['theirs']):.2f}s (best of {len(ours_cpu)})"
    )
    return 0 if best <= 2 and m["lists"] <= m["kubectl_lists"] else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--namespaces", type=int, default=2000)
    ap.add_argument("--pods-per-namespace", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engine", choices=["argocd", "flux"], default="argocd")
    args = ap.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="helm-verifier-bench-") as tmp,
        helm_cluster(Path(tmp), args.engine, "tagged") as flow,
    ):
        flow.promote_to("control-plane")
        m = measure(flow, args.namespaces, args.pods_per_namespace, args.repeat)
    status = report(m)
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
