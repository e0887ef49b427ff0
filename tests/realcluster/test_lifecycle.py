"""Garbage collection and namespace termination: simcluster's approximation against the real thing.

The upgrade's ownerRef trap lives here: the 0.6 operator's ingress gateway is owned by the old
Istio CR, so deleting that CR (the cleanup stage) garbage-collects the gateway and its
LoadBalancer, unless the ownerReference is removed first (the manual step the cleanup gate
names). Each scenario runs on the real control plane (the real garbage collector and namespace
controller) and on simcluster's store, and must end the same way on both.

GC is asynchronous: "the gateway survived" is only known once the collector has acted on the
owner's deletion, so every owner also owns a sentinel ConfigMap, and the test waits for the
sentinel to go before looking at the gateway.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from realcluster import ControlPlane
from realcluster.crds import CRDS
from simcluster.harness import SimCluster
from tests.realcluster.conftest import kubectl

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

DEADLINE = 60.0  # seconds for a controller to act; polled, never slept
ISTIO_API = "istio.banzaicloud.io/v1beta1"


@dataclass
class Side:
    name: str
    kubeconfig: Path

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        proc = kubectl(self.kubeconfig, *args, stdin=stdin, check=check)
        return proc.stdout if proc.returncode == 0 else proc.stderr

    def get(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        out = self.kubectl("get", kind, name, "-n", ns, "-o", "json", "--ignore-not-found")
        return json.loads(out) if out.strip() else None

    def apply(self, *docs: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))

    def wait(self, what: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + DEADLINE
        while not done():
            assert time.monotonic() < deadline, f"{self.name}: {what} within {DEADLINE}s"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def sides(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Side]]:
    kubectl(control_plane.kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all(CRDS))
    kubectl(control_plane.kubeconfig, "wait", "--for=condition=Established", "crd", "--all")
    # The store's GC and namespace lifecycle only; no operator reconciling the Istio CR.
    with SimCluster(workdir=tmp_path_factory.mktemp("sim"), controllers=False) as sim:
        yield [Side("real", control_plane.kubeconfig), Side("sim", sim.kubeconfig)]


def _owner(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _install(side: Side, ns: str) -> dict[str, str]:
    """The chain the 0.6 operator leaves: the old Istio CR owns the ingress MeshGateway, which
    owns the gateway's Service and Deployment; the CR also owns a sentinel ConfigMap."""
    side.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    side.apply(
        {
            "apiVersion": ISTIO_API,
            "kind": "Istio",
            "metadata": {"name": "istio-sample", "namespace": ns},
            "spec": {"version": "1.6.14"},
        }
    )
    cr = side.get("istios", ns, "istio-sample")
    assert cr is not None
    side.apply(
        {
            "apiVersion": ISTIO_API,
            "kind": "MeshGateway",
            "metadata": {"name": GATEWAY, "namespace": ns, "ownerReferences": [_owner(cr)]},
            "spec": {
                "type": "ingress",
                "istioControlPlane": {"name": "istio-sample", "namespace": ns},
                "ports": [{"name": "http2", "port": 80, "targetPort": 8080}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "sentinel", "namespace": ns, "ownerReferences": [_owner(cr)]},
        },
    )
    mgw = side.get("meshgateways", ns, GATEWAY)
    assert mgw is not None
    meta = {"name": GATEWAY, "namespace": ns, "ownerReferences": [_owner(mgw)]}
    labels = {"app": GATEWAY}
    side.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"type": "LoadBalancer", "selector": labels, "ports": [{"port": 80}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "istio-proxy", "image": "proxyv2:1.6.14"}]},
                },
            },
        },
    )
    uids = {"meshgateways": mgw["metadata"]["uid"]}
    for kind in ("service", "deployment"):
        obj = side.get(kind, ns, GATEWAY)
        assert obj is not None
        uids[kind] = obj["metadata"]["uid"]
    return uids


def _gone(side: Side, kind: str, ns: str, name: str) -> Callable[[], bool]:
    return lambda: side.get(kind, ns, name) is None


GATEWAY = "istio-ingressgateway"
DEPENDENTS = ("meshgateways", "service", "deployment")  # what the cleanup stage must not lose


def test_deleting_the_owner_collects_the_gateway_through_its_meshgateway(
    sides: list[Side],
) -> None:
    for side in sides:
        _install(side, "gc-background")
        side.kubectl("delete", "istio", "istio-sample", "-n", "gc-background", "--wait=false")
        side.wait("sentinel collected", _gone(side, "configmap", "gc-background", "sentinel"))
        for kind in DEPENDENTS:
            side.wait(f"{kind} collected", _gone(side, kind, "gc-background", GATEWAY))


def test_after_the_demos_orphan_patch_the_gateway_survives(sides: list[Side]) -> None:
    """The manual step the cleanup gate names, exactly as rehearsal/demo.py runs it."""
    patch = '-p=[{"op":"remove","path":"/metadata/ownerReferences"}]'
    for side in sides:
        uids = _install(side, "gc-orphaned")
        side.kubectl("patch", "mgw", "-n", "gc-orphaned", GATEWAY, "--type=json", patch)
        side.kubectl("delete", "istio", "istio-sample", "-n", "gc-orphaned", "--wait=false")
        side.wait("sentinel collected", _gone(side, "configmap", "gc-orphaned", "sentinel"))
        for kind in DEPENDENTS:
            obj = side.get(kind, "gc-orphaned", GATEWAY)
            assert obj is not None, f"{side.name}: the orphaned gateway's {kind} was collected"
            assert obj["metadata"]["uid"] == uids[kind], f"{side.name}: {kind} recreated"


def test_cascade_orphan_strips_the_owner_reference(sides: list[Side]) -> None:
    for side in sides:
        uids = _install(side, "gc-cascade-orphan")
        side.kubectl(
            "delete", "istio", "istio-sample", "-n", "gc-cascade-orphan", "--cascade=orphan"
        )
        side.wait("owner deleted", _gone(side, "istios", "gc-cascade-orphan", "istio-sample"))
        for kind, name in (("meshgateways", GATEWAY), ("configmap", "sentinel")):
            obj = side.get(kind, "gc-cascade-orphan", name)
            assert obj is not None, f"{side.name}: {kind} {name} collected despite orphan"
            assert not obj["metadata"].get("ownerReferences"), f"{side.name}: {kind} {name}"
        for kind in DEPENDENTS:  # the MeshGateway still owns its Service and Deployment
            obj = side.get(kind, "gc-cascade-orphan", GATEWAY)
            assert obj is not None and obj["metadata"]["uid"] == uids[kind], side.name


def test_foreground_deletion_waits_for_dependents(sides: list[Side]) -> None:
    for side in sides:
        _install(side, "gc-foreground")
        side.kubectl(
            "delete", "istio", "istio-sample", "-n", "gc-foreground", "--cascade=foreground"
        )
        # kubectl waited for the owner to be gone, which foreground deletion only allows once
        # the dependents that block it (blockOwnerDeletion) are gone, down the whole chain.
        assert side.get("istios", "gc-foreground", "istio-sample") is None
        for kind in DEPENDENTS:
            assert side.get(kind, "gc-foreground", GATEWAY) is None, f"{side.name}: {kind}"


def _terminate(side: Side, ns: str) -> dict[str, Any]:
    """Delete a namespace whose content includes an object held by a finalizer; report what
    could be seen while it terminated, then release the finalizer and wait for it to go."""
    side.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    held = {"name": "held", "namespace": ns, "finalizers": ["istio-canary.dev/hold"]}
    side.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": held},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "free", "namespace": ns}},
    )
    side.kubectl("delete", "namespace", ns, "--wait=false")
    side.wait("content removed", _gone(side, "configmap", ns, "free"))
    seen: dict[str, Any] = {"namespace": None}
    nsobj = side.get("namespace", "", ns)
    if nsobj is not None:
        seen["namespace"] = nsobj["status"]["phase"]
        seen["conditions"] = sorted(
            c["type"] for c in nsobj["status"].get("conditions", []) if c["status"] == "True"
        )
        refused = side.kubectl("create", "configmap", "late", "-n", ns, check=False)
        seen["refused"] = "because it is being terminated" in refused
        unhold = '{"metadata":{"finalizers":null}}'
        side.kubectl("patch", "configmap", "held", "-n", ns, "--type=merge", "-p", unhold)
    side.wait("namespace gone", _gone(side, "namespace", "", ns))
    return seen


def test_a_terminating_namespace_refuses_new_content_until_its_finalizers_clear(
    sides: list[Side],
) -> None:
    real, sim = sides
    assert _terminate(real, "terminating") == {
        "namespace": "Terminating",
        "conditions": ["NamespaceContentRemaining", "NamespaceFinalizersRemaining"],
        "refused": True,
    }
    # Known difference (docs/realcluster.md): simcluster removes a namespace at once, with its
    # content, even while an object in it still has finalizers. The upgrade never deletes a
    # namespace, so the verifier never meets a Terminating one.
    assert _terminate(sim, "terminating") == {"namespace": None}
