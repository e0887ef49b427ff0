"""Controller benchmark: how long the simulated cluster takes to settle at fleet scale.

2,000 namespaces, each with a Deployment of 10 replicas behind a Service (20,000 pods), on the
real Store with the controllers running (no API server, so this measures the controllers):
- ``create``: storing the Deployments and Services;
- ``settle``: until every pod is Running/Ready, every Endpoints object lists its 10 addresses
  and the controllers are idle;
- ``rollout``: a pod-template change on every Deployment (a GitOps ``namespaces`` stage for the
  whole cluster at once) until all rollouts are complete and idle again.

    .venv/bin/python -m bench.controllers_scale [--namespaces 2000] [--replicas 10]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from simcluster.controllers import Controllers, start
from simcluster.faults import Faults
from simcluster.store import Store

Obj = dict[str, Any]


def deployment(ns: str, replicas: int) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "app"}},
            "strategy": {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "app"}},
                "spec": {"containers": [{"name": "echo", "image": "k8s.gcr.io/echoserver:1.10"}]},
            },
        },
    }


def service(ns: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {"selector": {"app": "app"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


async def settle(ctl: Controllers, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3:
        if time.monotonic() > deadline:
            raise SystemExit(f"not settled after {timeout}s")
        quiet = quiet + 1 if ctl.idle() else 0
        await asyncio.sleep(0.05)


async def main(namespaces: int, replicas: int) -> None:
    store = Store(window=1_000_000)
    ctl = start(store, Faults())
    t0 = time.perf_counter()
    for i in range(namespaces):
        ns = f"ns-{i:04d}"
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        store.create(deployment(ns, replicas))
        store.create(service(ns))
    t1 = time.perf_counter()
    await settle(ctl, 600)
    t2 = time.perf_counter()
    pods = store.list("Pod", shared=True)[0]
    ready = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
    endpoints = store.list("Endpoints", shared=True)[0]
    full = sum(
        1 for e in endpoints if len((e.get("subsets") or [{}])[0].get("addresses", [])) == replicas
    )
    print(f"create   {t1 - t0:7.2f}s  ({namespaces} Deployments + Services)")
    print(
        f"settle   {t2 - t1:7.2f}s  ({ready} pods Running, {full} Endpoints with {replicas} addresses)"
    )
    for d in store.list("Deployment")[0]:
        d["spec"]["template"]["metadata"]["annotations"] = {"istio-canary/revision": "next"}
        store.update(d)
    t3 = time.perf_counter()
    await settle(ctl, 600)
    t4 = time.perf_counter()
    done = sum(
        1
        for d in store.list("Deployment", shared=True)[0]
        if d["status"].get("updatedReplicas") == replicas
        and d["status"].get("replicas") == replicas
    )
    print(f"rollout  {t4 - t3:7.2f}s  ({done}/{namespaces} Deployments fully rolled out)")
    ctl.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--replicas", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.namespaces, args.replicas))
