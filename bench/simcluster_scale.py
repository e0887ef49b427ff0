"""Scale benchmark: 20,000 meshed pods in 2,000 namespaces behind simcluster's API.

Measures, in one run and one process:
- ``t_dumps``: ``json.dumps`` of the 20,000 pod objects (the floor: serialising them at all);
- ``t_kubectl``: wall time of ``kubectl get pods -A -o json`` against simcluster (kubectl pages
  through with ``limit=500``: 40 requests), first (cold) and then warm runs;
- ``t_floor``: kubectl decoding and printing the same pods from a file with no API I/O
  (``create --dry-run=client -o json``), i.e. what kubectl costs whatever the server does;
- watch responsiveness meanwhile: a watch on one namespace while a writer updates a ConfigMap
  every 50 ms; the delay from each write returning to its MODIFIED event arriving.

Target: ``t_kubectl < 3 x t_dumps``, and watch events keep arriving during the list.

    .venv/bin/python -m bench.simcluster_scale [--namespaces 2000] [--pods-per-namespace 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

from simcluster.harness import SimCluster
from simcluster.store import Store

Obj = dict[str, Any]


def meshed_pod(ns: str, i: int) -> Obj:
    """A pod as the injector leaves it: app + istio-proxy, init container, injection metadata."""
    name = f"app-{i:02d}-7c5ddbdf54-x{i:04d}"
    proxy = "docker.io/istio/proxyv2:1.6.8"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {
                "app": f"app-{i:02d}",
                "pod-template-hash": "7c5ddbdf54",
                "security.istio.io/tlsMode": "istio",
                "service.istio.io/canonical-name": f"app-{i:02d}",
                "istio.io/rev": "istio-sample.istio-system",
            },
            "annotations": {
                "sidecar.istio.io/status": json.dumps(
                    {
                        "version": "1.6.8",
                        "initContainers": ["istio-init"],
                        "containers": ["istio-proxy"],
                    }
                ),
            },
        },
        "spec": {
            "nodeName": "simcluster-node",
            "initContainers": [
                {"name": "istio-init", "image": proxy, "args": ["istio-iptables", "-p", "15001"]}
            ],
            "containers": [
                {
                    "name": "app",
                    "image": "k8s.gcr.io/echoserver:1.10",
                    "ports": [{"containerPort": 8080}],
                    "env": [{"name": "POD_NAME", "value": name}],
                },
                {
                    "name": "istio-proxy",
                    "image": proxy,
                    "args": ["proxy", "sidecar", "--domain", f"{ns}.svc.cluster.local"],
                    "ports": [{"containerPort": 15090, "name": "http-envoy-prom"}],
                },
            ],
        },
    }


def running_status(pod: Obj, ip: str) -> Obj:
    return {
        "phase": "Running",
        "podIP": ip,
        "hostIP": "172.18.0.2",
        "conditions": [
            {"type": t, "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c["image"],
                "ready": True,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            }
            for c in pod["spec"]["containers"]
        ],
    }


def populate(store: Store, namespaces: int, per_namespace: int) -> int:
    n = 0
    for a in range(namespaces):
        ns = f"team-{a:04d}"
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for i in range(per_namespace):
            pod = store.create(meshed_pod(ns, i))
            pod["status"] = running_status(pod, f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}")
            store.update(pod, status_only=True)
            n += 1
    return n


class WatchProbe:
    """Updates a ConfigMap every 50 ms and measures how long each MODIFIED event takes to arrive."""

    def __init__(self, kubeconfig: Path) -> None:
        self.api = config.new_client_from_config(config_file=str(kubeconfig))
        self.core = client.CoreV1Api(self.api)
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="probe")))
        self.core.create_namespaced_config_map(
            "probe", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="tick"), data={"n": "0"})
        )
        self.sent: dict[str, float] = {}
        self.delays: list[float] = []
        self._stop = threading.Event()
        self._watch = watch.Watch()
        self._threads = [
            threading.Thread(target=self._watcher),
            threading.Thread(target=self._writer),
        ]

    def __enter__(self) -> WatchProbe:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.3)  # let the last event arrive
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _watcher(self) -> None:
        listed = self.core.list_namespaced_config_map("probe").metadata
        rv = listed.resource_version if listed is not None else None
        while not self._stop.is_set():
            for event in self._watch.stream(
                self.core.list_namespaced_config_map,
                "probe",
                resource_version=rv,
                timeout_seconds=1,
            ):
                rv = event["object"].metadata.resource_version
                n = (event["object"].data or {}).get("n", "")
                if n in self.sent:
                    self.delays.append(time.monotonic() - self.sent.pop(n))

    def _writer(self) -> None:
        time.sleep(0.2)
        n = 0
        while not self._stop.is_set():
            n += 1
            self.core.patch_namespaced_config_map("tick", "probe", {"data": {"n": str(n)}})
            self.sent[str(n)] = time.monotonic()
            time.sleep(0.05)


def fetch_pages(url: str) -> tuple[float, int]:
    """Fetch every page kubectl would, without parsing: the server's side of a list."""
    started = time.perf_counter()
    token, size, pages = "", 0, 0
    while True:
        query = "limit=500" + (f"&continue={token}" if token else "")
        with urllib.request.urlopen(f"{url}/api/v1/pods?{query}", timeout=60) as resp:
            body = resp.read()
        size, pages = size + len(body), pages + 1
        # the token is in the list head, before the items: no need to parse 1.4 MB
        match = re.search(rb'"continue":"([^"]+)"', body[:2000])
        if match is None:
            break
        token = match.group(1).decode()
    return time.perf_counter() - started, pages


def run_kubectl(kubeconfig: Path, cache: Path) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(cache),
            "get",
            "pods",
            "-A",
            "-o",
            "json",
        ],
        capture_output=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    return elapsed, len(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--pods-per-namespace", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3, help="kubectl runs (first is cold)")
    args = parser.parse_args(argv)
    if shutil.which("kubectl") is None:
        print("simcluster_scale: kubectl is not installed", file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="simcluster-bench-") as tmp,
        SimCluster(workdir=tmp, controllers=False) as sim,
    ):
        started = time.perf_counter()
        total = sim.call(
            lambda s: populate(s, args.namespaces, args.pods_per_namespace), timeout=600
        )
        print(
            f"populated {total} pods in {args.namespaces} namespaces in {time.perf_counter() - started:.1f}s"
        )
        pods = sim.call(lambda s: s.list("Pod")[0], timeout=600)
        started = time.perf_counter()
        dumped = json.dumps(pods)
        t_dumps = time.perf_counter() - started
        print(f"json.dumps of {len(pods)} pods: {t_dumps:.3f}s ({len(dumped) / 1e6:.1f} MB)")
        started = time.perf_counter()
        indented = json.dumps({"apiVersion": "v1", "items": pods, "kind": "List"}, indent=4)
        t_indent = time.perf_counter() - started
        print(
            f"json.dumps(indent=4) of the List kubectl prints: {t_indent:.3f}s "
            f"({len(indented) / 1e6:.1f} MB)"
        )
        manifest = Path(tmp) / "pods.json"
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}))
        del dumped, indented, pods
        cache = Path(tmp) / "kubecache"
        subprocess.run(  # discovery into the cache, outside the timing
            [
                "kubectl",
                "--kubeconfig",
                str(sim.kubeconfig),
                "--cache-dir",
                str(cache),
                "get",
                "ns",
            ],
            capture_output=True,
            check=True,
        )
        times: list[float] = []
        with WatchProbe(sim.kubeconfig) as probe:
            for run in range(args.runs):
                sim.take_timings()
                elapsed, size = run_kubectl(sim.kubeconfig, cache)
                served = [t for path, t in sim.take_timings() if path == "/api/v1/pods"]
                times.append(elapsed)
                print(
                    f"kubectl get pods -A -o json, run {run + 1}: {elapsed:.3f}s ({size / 1e6:.1f} MB "
                    f"printed); server handlers: {len(served)} pages in {sum(served):.3f}s"
                )
        t_fetch, pages = fetch_pages(sim.url)
        print(f"server side alone: {pages} pages fetched (unparsed) with urllib in {t_fetch:.3f}s")
        ratio = min(times) / t_dumps
        print(f"ratio best kubectl / json.dumps: {ratio:.2f} (target < 3)")
        print(f"ratio best kubectl / json.dumps(indent=4): {min(times) / t_indent:.2f}")
        print(f"ratio server side / json.dumps: {t_fetch / t_dumps:.2f}")
        started = time.perf_counter()
        subprocess.run(
            [
                *("kubectl", "--kubeconfig", str(sim.kubeconfig), "--cache-dir", str(cache)),
                *("create", "--dry-run=client", "-o", "json", "-f", str(manifest)),
            ],
            capture_output=True,
            check=True,
        )
        t_floor = time.perf_counter() - started
        print(
            f"kubectl's own floor (create --dry-run=client -o json of the same pods, no API I/O): "
            f"{t_floor:.3f}s = {t_floor / t_dumps:.1f} x json.dumps"
        )
        if probe.delays:
            print(
                f"watch during the lists: {len(probe.delays)} events, median "
                f"{statistics.median(probe.delays) * 1000:.0f} ms, max {max(probe.delays) * 1000:.0f} ms"
            )
        else:
            print("watch during the lists: NO events arrived")
        ok = ratio < 3 and len(probe.delays) > 0
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
