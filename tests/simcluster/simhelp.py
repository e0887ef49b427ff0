"""Helpers for behaviour tests: a Store with running controllers on an asyncio loop, seed objects.

The controllers only need a running loop; these tests drive them with ``asyncio.run`` and the
real Store (no API server), so each behaviour is checked where it is produced. The kubectl
replay (test_kubectl_seed.py) checks the same behaviour end to end through the real wire.
"""

from __future__ import annotations

import asyncio
import copy
import pathlib
from collections.abc import Callable
from typing import Any

import yaml

from simcluster.controllers import Controllers, start
from simcluster.controllers.releases import render_release
from simcluster.faults import Faults
from simcluster.mesh import ExecResult, Mesh
from simcluster.store import Store
from tests.polling import wait_for_async

Obj = dict[str, Any]
ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example-repo"


def load(relpath: str) -> list[Obj]:
    """The YAML documents of one example-repo file."""
    text = (EXAMPLE / relpath).read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def operator_release(name: str, tag: str, istio_version: str | None = None) -> list[Obj]:
    values: Obj = {"operator": {"image": {"tag": tag}}}
    if istio_version:
        values["istioVersion"] = istio_version
    return render_release(name, "istio-system", values)


def cr_v17(*, ingress: bool = False) -> Obj:
    """The 1.7 canary CR the generator writes: revisioned, its own gateways off."""
    cr = copy.deepcopy(load("istio-system/istio.yaml")[0])
    cr["metadata"]["name"] = "istio-sample-v17x"
    spec = cr["spec"]
    spec["version"] = "1.7.8"
    spec["global"] = False
    spec["pilot"]["image"] = "docker.io/istio/pilot:1.7.8"
    spec["proxy"]["image"] = "docker.io/istio/proxyv2:1.7.8"
    spec["proxyInit"]["image"] = "docker.io/istio/proxyv2:1.7.8"
    spec["gateways"]["ingress"]["enabled"] = ingress
    spec["autoInjectionNamespaces"] = []
    return cr


class Sim:
    """A Store, Faults and running Controllers; use inside a coroutine."""

    def __init__(self, faults: tuple[str, ...] = ()) -> None:
        self.store = Store()
        self.faults = Faults(faults)
        self.ctl: Controllers = start(self.store, self.faults)
        self.mesh = Mesh(self.store, self.faults)
        for ns in ("default", "istio-system"):
            self.ensure_ns(ns)

    def ensure_ns(self, name: str, labels: dict[str, str] | None = None) -> None:
        if self.store.get("Namespace", None, name) is None:
            meta: Obj = {"name": name}
            if labels:
                meta["labels"] = labels
            self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})

    def apply(self, *objs: Obj) -> None:
        for obj in objs:
            meta = obj["metadata"]
            live = self.store.get(obj["kind"], meta.get("namespace"), meta["name"])
            if live is None:
                self.store.create(copy.deepcopy(obj))
            else:
                new = copy.deepcopy(obj)
                new["metadata"] = {**live["metadata"], **obj["metadata"]}
                new["metadata"].pop("resourceVersion", None)
                self.store.update(new)

    def edit(self, kind: str, ns: str | None, name: str, fn: Callable[[Obj], None]) -> Obj:
        obj = self.store.get(kind, ns, name)
        assert obj is not None, f"{kind} {ns}/{name} missing"
        fn(obj)
        return self.store.update(obj)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until the controllers are idle twice in a row (or fail the test)."""
        quiet = 0

        def idle_twice() -> bool:
            nonlocal quiet
            quiet = quiet + 1 if self.ctl.idle() else 0
            return quiet >= 2

        await wait_for_async(
            idle_twice,
            what=lambda: f"the controllers to go idle (errors: {self.ctl.errors})",
            timeout=timeout,
        )
        assert not self.ctl.errors, self.ctl.errors

    async def until(self, cond: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
        await wait_for_async(cond, what=what or repr(cond), timeout=timeout)

    def pods(self, ns: str, selector: str = "") -> list[Obj]:
        return self.store.list("Pod", ns, selector)[0]

    def curl(self, ns: str, selector: str, *args: str, container: str = "") -> ExecResult:
        pod = self.pods(ns, selector)[0]
        name = container or pod["spec"]["containers"][0]["name"]
        return self.mesh.exec_handler(pod, name, ["curl", *args])

    async def seed(self) -> None:
        """The seed's starting point: 0.6.12 operator, the 1.6 CR, demo-a/demo-b with app-a/b."""
        self.apply(*operator_release("istio-operator-v16x", "0.6.12", "1.6"))
        self.apply(*load("istio-system/istio.yaml"))
        await self.settle()
        for doc in load("apps/namespaces.yaml"):
            self.ensure_ns(doc["metadata"]["name"], doc["metadata"].get("labels"))
        self.apply(*load("apps/demo-a/app-a.yaml"), *load("apps/demo-b/app-b.yaml"))
        await self.settle()


def run(coro: Any) -> Any:
    return asyncio.run(coro)
