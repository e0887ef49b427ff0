"""The gate's read path at 20,000 pods on the real API server with the seed's Istio in place.

    .venv/bin/python -m bench.realcluster_scale [--namespaces 2000] [--pods-per-namespace 10]
                                                [--nodes 4] [--repeat 3] [--bare]

Needs the realcp binary (`make realcluster`). Starts the real control plane (etcd,
kube-apiserver, controller-manager, scheduler, kwok) and, unless `--bare`, simcluster's Istio
behaviours on it (`RealSimCluster`) syncing the seed repo at stage 2: both operators, both Istio
CRs, both istiods, the injector MutatingWebhookConfigurations, the moved ingress gateway and the
injected echo apps; what the seed's gate reads. Then it creates N namespaces (the first 250
labelled for the new revision, the rest `istio-injection=enabled`, as in verifier_bench) with P
pods each: each create goes through the API server's call to our injection webhook, so every pod
carries the sidecar, the revision label and the injector's status annotation of its control plane
(with `--bare`, no Istio and plain pods: the figure measured before). The real scheduler binds
them to kwok nodes (given the CPU the sidecars request), kwok makes them Running. The
Istio controllers keep running, as the operators would.

Measured, `--repeat` times each, interleaved: one evaluation of the seed's namespaces stage
(stage 3, the bench wave: `collect` and the control-plane, data-plane and gateway checks; no
connectivity) with the verifier's `Cluster` in this process, against `kubectl get pods -A -o json`
(a child process): wall time, CPU time of the client (this process's, or kubectl's) and of the
kube-apiserver (from /proc). Reads are counted on the API server's side, from its audit log
(every get and list, by user agent) during one run of each.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.verifier_bench import WAVE, bench_plan, kubectl, seed_repo
from realcluster import BinaryMissing, ControlPlane
from realcluster.crds import CRDS
from simcluster.realserver import Coordinates, RealSimCluster
from verifier.checks import controlplane, dataplane, gateways
from verifier.cluster import Cluster
from verifier.expectation import expect_stage
from verifier.gitrepo import Checkout
from verifier.snapshot import collect

# An injected pod asks for 110m CPU and 138Mi (the seed CR's proxy 100m/128Mi, istio-init
# 10m/10Mi) and realcluster's kwok nodes offer 32 cores and 256Gi: room for ~290 per node. Rather
# than 70 nodes (whose heartbeats kwok cannot keep up with on 2 busy cores: nodes go NotReady and
# the node controller marks every pod on them not Ready), the bench raises the nodes' capacity
# through the API; kwok keeps a node's capacity as it finds it.
NODE_SIZE = {"cpu": "2000", "memory": "64Ti"}
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
        try:
            status, body = cp.request("GET", path, timeout=30)
        except OSError as err:  # a timeout while the scheduler and kwok keep the server busy
            status, body = 0, {"error": str(err)}
        if status == 200 and not body.get("items"):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"pods not all Running in time (last: {status})")
        time.sleep(1.0)


def seed_istio(cp: ControlPlane, repo: Path) -> RealSimCluster:
    """simcluster's Istio behaviours on the real control plane, synced to the seed repo's main
    (stage 2), and waited for: both CRs Available, both injectors configured, the seed's echo
    apps running with a sidecar."""
    sim = RealSimCluster(Coordinates.of(cp), repo=repo, sync_interval=1.0).start()
    deadline = time.monotonic() + 300
    while True:
        sim.sync_now()
        _, istios = cp.request("GET", "/apis/istio.banzaicloud.io/v1beta1/istios")
        _, hooks = cp.request(
            "GET", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
        )
        _, pods = cp.request("GET", "/api/v1/namespaces/demo-a/pods")
        available = [i.get("status", {}).get("Status") for i in istios.get("items", [])]
        ready = [
            c["ready"]
            for pod in pods.get("items", [])
            for c in pod.get("status", {}).get("containerStatuses", [])
        ]
        if (
            available == ["Available", "Available"]
            and len(hooks.get("items", [])) == 2
            and len(ready) == 2
            and all(ready)
        ):
            return sim
        if time.monotonic() > deadline:
            sim.stop()
            raise RuntimeError(f"the seed's Istio did not come up: {available}, {ready}")
        time.sleep(1.0)


# Only reads are audited (the components' own writes and watches would swamp the log), each
# once, when its response is complete.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata", "verbs": ["list", "get"]}, {"level": "None"}],
}
VERIFIER_AGENT = "OpenAPI-Generator/"  # the kubernetes client's user agent (the verifier's)
KUBECTL_AGENT = "kubectl/"


def audit_args(workdir: Path) -> list[str]:
    """kube-apiserver flags for a JSON audit log of every read, in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    policy = workdir / "audit-policy.yaml"
    policy.write_text(json.dumps(AUDIT_POLICY))
    return [
        f"--audit-policy-file={policy}",
        f"--audit-log-path={workdir / 'audit.log'}",
        "--audit-log-format=json",
        "--audit-log-maxsize=0",
    ]


def counted(log: Path, agent: str, fn: Any) -> dict[str, int]:
    """The reads the API server audited from ``agent`` while ``fn`` ran: "<verb> <resource>" ->
    requests. The audit backend writes an event as its response completes, so the log is read
    until it stops growing (a deadline, not a fixed sleep)."""
    start = log.stat().st_size
    fn()
    size, deadline = -1, time.monotonic() + 10
    while size != log.stat().st_size and time.monotonic() < deadline:
        size = log.stat().st_size
        time.sleep(0.2)
    out: Counter[str] = Counter()
    with log.open("rb") as f:
        f.seek(start)
        for line in f:
            event = json.loads(line)
            if event.get("userAgent", "").startswith(agent):
                resource = (event.get("objectRef") or {}).get("resource", event.get("requestURI"))
                out[f"{event['verb'].upper()} {resource}"] += 1
    return dict(sorted(out.items()))


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0.0 if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    """One timed run: wall, the client's CPU and the API server's CPU, in seconds."""

    wall: float
    client_cpu: float
    server_cpu: float


def sample(apiserver: int | None, fn: Any, child: bool) -> Sample:
    usage = resource.RUSAGE_CHILDREN if child else resource.RUSAGE_SELF
    r0, s0, t0 = resource.getrusage(usage), cpu_seconds(apiserver), time.perf_counter()
    fn()
    t1, s1, r1 = time.perf_counter(), cpu_seconds(apiserver), resource.getrusage(usage)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return Sample(t1 - t0, cpu, s1 - s0)


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}s (median {statistics.median(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--namespaces", type=int, default=2000)
    ap.add_argument("--pods-per-namespace", type=int, default=10)
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bare", action="store_true", help="no Istio: plain pods, as measured before")
    args = ap.parse_args(argv)
    total = args.namespaces * args.pods_per_namespace
    with tempfile.TemporaryDirectory(prefix="realcluster-bench-") as tmp:
        repo = seed_repo(Path(tmp))
        plan = Checkout(repo).plan()
        nodes = [f"kwok-node-{i}" for i in range(args.nodes)]
        try:
            per_node = -(-total // args.nodes) + 10  # room for every pod (ceil, plus spare)
            audit = Path(tmp) / "audit"
            cp = ControlPlane(
                Path(tmp) / "cp",
                nodes=nodes,
                pods_per_node=per_node,
                crds=CRDS,
                extra_apiserver_args=audit_args(audit),
            ).start()
        except BinaryMissing as err:
            print(f"skipped: {err}")
            return 0
        sim: RealSimCluster | None = None
        try:
            print(f"control plane ready in {cp.started_in:.1f}s ({args.nodes} kwok nodes)")
            if not args.bare:
                for node in nodes:
                    grow(cp, node, NODE_SIZE)
                t = time.perf_counter()
                sim = seed_istio(cp, repo)
                print(f"the seed's Istio (stage 2) up in {time.perf_counter() - t:.1f}s")
            t = time.perf_counter()
            populate(cp, args.namespaces, args.pods_per_namespace, plan.target.revision)
            created = time.perf_counter() - t
            wait_running(cp, time.monotonic() + 1800)
            print(
                f"created {args.namespaces} namespaces x {args.pods_per_namespace} pods in "
                f"{created:.1f}s; all Running (scheduler + kwok) after {time.perf_counter() - t:.1f}s"
            )
            print("bench pods " + injected(cp))
            expect = expect_stage(bench_plan(plan, args.namespaces), 3)
            apiserver = cp.pid("kube-apiserver")
            argv_json = ["get", "pods", "-A", "-o", "json"]
            with Cluster(cp.kubeconfig) as cluster:
                found: dict[str, Any] = {}

                def evaluate() -> None:
                    snap = collect(cluster, expect)
                    found["results"] = [
                        controlplane.check(snap, expect),
                        dataplane.check(snap, expect),
                        gateways.check(snap, expect),
                    ]
                    found["pods"] = len(snap.pods)

                log = audit / "audit.log"
                ours_requests = counted(log, VERIFIER_AGENT, evaluate)
                theirs_requests = counted(
                    log, KUBECTL_AGENT, lambda: kubectl(cp.kubeconfig, *argv_json)
                )
                ours, theirs = [], []
                for _ in range(args.repeat):  # interleaved, so both see the same neighbours
                    ours.append(sample(apiserver, evaluate, child=False))
                    theirs.append(
                        sample(apiserver, lambda: kubectl(cp.kubeconfig, *argv_json), child=True)
                    )
            pods = found["pods"]
            print(f"pods listed by the verifier: {pods} ({total} bench pods, the rest the seed's)")
            for result in found["results"]:
                print(f"  {result.name}: {result.status.value}: {result.message[:150]}")
            print(f"reads (API server's audit log), verifier: {ours_requests}")
            print(f"reads (API server's audit log), kubectl get pods -A -o json: {theirs_requests}")
            for what, ours_f, theirs_f in (
                ("wall", [s.wall for s in ours], [s.wall for s in theirs]),
                ("client CPU", [s.client_cpu for s in ours], [s.client_cpu for s in theirs]),
                ("API server CPU", [s.server_cpu for s in ours], [s.server_cpu for s in theirs]),
            ):
                print(
                    f"{what}: verifier evaluation {spread(ours_f)} vs kubectl {spread(theirs_f)}"
                    f" = {min(ours_f) / min(theirs_f):.2f}x (best of each)"
                )
            rss = {p: _rss(cp.pid(p)) for p in ("kube-apiserver", "etcd", "kwok")}
            print("RSS after: " + ", ".join(f"{k} {v} MB" for k, v in rss.items()))
        finally:
            if sim is not None:
                sim.stop()
            cp.stop()
    sys.stdout.flush()
    pod_lists = 0 < ours_requests.get("LIST pods", 0) <= theirs_requests.get("LIST pods", 0)
    fast = min(s.wall for s in ours) <= 2 * min(s.wall for s in theirs)
    return 0 if pods >= total and pod_lists and fast else 1


def injected(cp: ControlPlane) -> str:
    """The bench pods by revision label (what the webhook injected), and how many are Ready."""
    counts: Counter[str] = Counter()
    ready = 0
    token = ""
    while True:
        path = "/api/v1/pods?limit=2000" + (f"&continue={token}" if token else "")
        _, page = cp.request("GET", path, timeout=120)
        for pod in page.get("items", []):
            if pod["metadata"]["namespace"].startswith("bench-"):
                counts[pod["metadata"].get("labels", {}).get("istio.io/rev", "none")] += 1
                conditions = pod.get("status", {}).get("conditions", [])
                ready += any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        token = page.get("metadata", {}).get("continue", "")
        if not token:
            break
    by_rev = ", ".join(f"{rev}: {n}" for rev, n in sorted(counts.items()))
    return f"by istio.io/rev: {by_rev}; Ready: {ready}"


def grow(cp: ControlPlane, node: str, size: dict[str, str]) -> None:
    """Give a kwok node ``size`` (capacity and allocatable), through its status."""
    status, body = cp.request("GET", f"/api/v1/nodes/{node}")
    if status != 200:
        raise RuntimeError(f"GET node {node}: {status} {body}")
    for key in ("capacity", "allocatable"):
        body["status"][key].update(size)
    status, body = cp.request("PUT", f"/api/v1/nodes/{node}/status", body)
    if status != 200:
        raise RuntimeError(f"PUT node {node} status: {status} {body}")


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
