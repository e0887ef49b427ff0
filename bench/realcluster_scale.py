"""The verifier's read path at 20,000 pods on the real API server, against kubectl on the same server.

    .venv/bin/python -m bench.realcluster_scale [--namespaces 2000] [--pods-per-namespace 10]

Needs the realcp binary (`make realcluster`). Starts the real control plane (etcd,
kube-apiserver, controller-manager, scheduler, kwok), creates N namespaces (the first 250
labelled for the new revision, the rest `istio-injection=enabled`, as in verifier_bench) with P
pods each, scheduled by the real scheduler onto kwok nodes and made Running by kwok; then times
one evaluation of the seed's namespaces stage (stage 3, the bench wave; `collect` and the
control-plane, data-plane and gateway checks, no connectivity) with the verifier's `Cluster`
against `kubectl get pods -A -o json` (best of 3 each), and counts list requests against
`kubectl get pods -A --chunk-size=500` (from `-v=6`). There is no Istio here (no operator on the
real control plane yet), so the checks fail; the cost measured is reading and judging 20,000 pods.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from bench.verifier_bench import WAVE, bench_plan, best, kubectl, seed_repo
from realcluster import BinaryMissing, ControlPlane
from realcluster.crds import CRDS
from verifier.checks import controlplane, dataplane, gateways
from verifier.cluster import Cluster
from verifier.expectation import expect_stage
from verifier.gitrepo import Checkout
from verifier.snapshot import collect

WORKERS = 8  # concurrent creates: enough to keep the API server busy on 2 cores


class Admin:
    """Keep-alive HTTPS connections (one per thread) with the admin certificate, for loading."""

    def __init__(self, cp: ControlPlane) -> None:
        host, port = cp.url.removeprefix("https://").rsplit(":", 1)
        self.addr = (host, int(port))
        self.ctx = ssl.create_default_context(cafile=str(cp.pki / "ca.crt"))
        self.ctx.load_cert_chain(str(cp.pki / "admin.crt"), str(cp.pki / "admin.key"))
        self.local = threading.local()

    def post(self, path: str, body: dict[str, Any], ok: tuple[int, ...] = (201,)) -> int:
        for _attempt in range(50):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPSConnection(*self.addr, context=self.ctx, timeout=60)
                self.local.conn = conn
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            resp = conn.getresponse()
            text = resp.read()
            if resp.status in ok or resp.status == 409:
                return resp.status
            if resp.status in (429, 500, 503) or b"serviceaccount" in text:
                time.sleep(0.1)  # API back-pressure, or the namespace's SA is not there yet
                continue
            raise RuntimeError(f"POST {path}: {resp.status} {text[:300]!r}")
        raise RuntimeError(f"POST {path}: still refused after 50 attempts")


def populate(cp: ControlPlane, namespaces: int, per_ns: int, new_rev: str) -> None:
    admin = Admin(cp)

    def one(i: int) -> None:
        ns = f"bench-{i:04d}"
        labels = {"istio.io/rev": new_rev} if i < WAVE else {"istio-injection": "enabled"}
        admin.post("/api/v1/namespaces", {"metadata": {"name": ns, "labels": labels}})
        # The ServiceAccount admission plugin refuses pods until the namespace's default SA
        # exists; creating it ourselves (409 if the controller was first) saves the wait.
        admin.post(f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "default"}})
        for j in range(per_ns):
            admin.post(
                f"/api/v1/namespaces/{ns}/pods",
                {
                    "metadata": {"name": f"app-{j:02d}", "labels": {"app": f"app-{j:02d}"}},
                    "spec": {
                        "containers": [{"name": "app", "image": "k8s.gcr.io/echoserver:1.10"}]
                    },
                },
            )

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, range(namespaces)))


def wait_running(cp: ControlPlane, deadline: float) -> None:
    """Poll (limit=1) until no pod is outside Running: kwok has played every pod's stages."""
    path = "/api/v1/pods?limit=1&fieldSelector=status.phase%21%3DRunning"
    while True:
        status, body = cp.request("GET", path)
        if status == 200 and not body.get("items"):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"pods not all Running in time (last: {status})")
        time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--namespaces", type=int, default=2000)
    ap.add_argument("--pods-per-namespace", type=int, default=10)
    ap.add_argument("--nodes", type=int, default=4)
    args = ap.parse_args(argv)
    total = args.namespaces * args.pods_per_namespace
    with tempfile.TemporaryDirectory(prefix="realcluster-bench-") as tmp:
        repo = seed_repo(Path(tmp))
        plan = Checkout(repo).plan()
        nodes = [f"kwok-node-{i}" for i in range(args.nodes)]
        try:
            per_node = -(-total // args.nodes) + 10  # room for every pod (ceil, plus spare)
            cp = ControlPlane(Path(tmp) / "cp", nodes=nodes, pods_per_node=per_node).start()
        except BinaryMissing as err:
            print(f"skipped: {err}")
            return 0
        try:
            print(f"control plane ready in {cp.started_in:.1f}s")
            subprocess.run(
                ["kubectl", "--kubeconfig", str(cp.kubeconfig), "apply", "-f", "-"],
                input=yaml.safe_dump_all(CRDS),
                text=True,
                capture_output=True,
                check=True,
            )
            t = time.perf_counter()
            populate(cp, args.namespaces, args.pods_per_namespace, plan.target.revision)
            created = time.perf_counter() - t
            wait_running(cp, time.monotonic() + 1200)
            print(
                f"created {args.namespaces} namespaces x {args.pods_per_namespace} pods in "
                f"{created:.1f}s; all Running (scheduler + kwok) after {time.perf_counter() - t:.1f}s"
            )
            expect = expect_stage(bench_plan(plan, args.namespaces), 3)
            with Cluster(cp.kubeconfig) as cluster:

                def evaluate() -> tuple[list[Any], int]:
                    snap = collect(cluster, expect)
                    results = [
                        controlplane.check(snap, expect),
                        dataplane.check(snap, expect),
                        gateways.check(snap, expect),
                    ]
                    return results, len(snap.pods)

                cluster.requests.clear()
                evaluate()
                ours_requests = dict(cluster.requests)
                ours, (_results, pods) = best(evaluate)
            verbose = kubectl(
                cp.kubeconfig, "get", "pods", "-A", "--chunk-size=500", "-o", "json", "-v=6"
            )
            # kubectl 1.33 logs requests structured: verb="GET" url="https://.../api/v1/pods?..."
            kubectl_lists = len(re.findall(r'verb="GET" url="\S+/api/v1/pods\?', verbose.stderr))
            theirs, _ = best(lambda: kubectl(cp.kubeconfig, "get", "pods", "-A", "-o", "json"))
            print(f"pods listed by the verifier: {pods} (expected {total})")
            print(
                f"list requests: verifier {ours_requests.get('list', 0)} "
                f"(+{ours_requests.get('get', 0)} gets) vs kubectl --chunk-size=500: {kubectl_lists}"
            )
            print(
                f"wall: verifier evaluation {ours:.2f}s vs kubectl get pods -A -o json "
                f"{theirs:.2f}s = {ours / theirs:.2f}x (target <= 2x)"
            )
            rss = {p: _rss(cp.pid(p)) for p in ("kube-apiserver", "etcd", "kwok")}
            print("RSS after: " + ", ".join(f"{k} {v} MB" for k, v in rss.items()))
        finally:
            cp.stop()
    sys.stdout.flush()
    return 0 if pods == total and ours <= 2 * theirs else 1


def _rss(pid: int | None) -> int:
    """Resident MB of a process (Linux /proc), 0 if unknown."""
    try:
        text = Path(f"/proc/{pid}/status").read_text() if pid else ""
    except OSError:
        return 0
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) // 1024 if match else 0


if __name__ == "__main__":
    sys.exit(main())
