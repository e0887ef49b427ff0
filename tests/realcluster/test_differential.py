"""simcluster against the real API server: the same manifests, the same reads, compared.

Both clusters get one namespace, a two-replica Deployment and a Service through `kubectl apply`.
Then kubectl's server-side Tables and the verifier's own reads (its `Cluster` client) are taken
from each. What the verifier decides on must be equal; every other field-level difference must be
one of the known ones listed (with why it does not matter) in docs/realcluster.md, and every
listed one must still occur, so the document cannot go stale silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from realcluster import ControlPlane
from simcluster.harness import SimCluster
from tests.realcluster.conftest import kubectl
from verifier.cluster import DEPLOYMENTS, NAMESPACES, PODS, SERVICES, Cluster

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

DOC = Path(__file__).resolve().parents[2] / "docs" / "realcluster.md"

MANIFESTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: demo, labels: {app: echo}}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo, version: v1}}
    spec:
      containers:
      - {name: echo, image: "k8s.gcr.io/echoserver:1.10", ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
"""

# (kind, side that has the field, path prefix): each is explained in docs/realcluster.md.
KNOWN = [
    ("pod", "real", "metadata.managedFields"),
    ("pod", "real", "metadata.generation"),
    ("pod", "real", "spec.volumes"),
    ("pod", "real", "spec.containers[].volumeMounts"),
    ("pod", "sim", "apiVersion"),
    ("pod", "sim", "kind"),
    ("pod", "sim", "metadata.finalizers"),
    ("pod", "sim", "status.containerStatuses[].containerID"),
    ("pod", "sim", "status.containerStatuses[].started"),
    ("pod", "sim", "status.hostIPs"),
    ("deployment", "real", "metadata.managedFields"),
    ("deployment", "real", "metadata.annotations.deployment.kubernetes.io/revision"),
    ("deployment", "real", "spec.template.metadata.creationTimestamp"),
    ("namespace", "real", "metadata.managedFields"),
    ("service", "real", "metadata.managedFields"),
]


@dataclass
class Side:
    name: str
    kubeconfig: Path
    objects: dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def sides(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Side]]:
    with SimCluster(workdir=tmp_path_factory.mktemp("sim")) as sim:
        out = {}
        for name, kc in (("real", control_plane.kubeconfig), ("sim", sim.kubeconfig)):
            kubectl(kc, "apply", "-f", "-", stdin=MANIFESTS)
            kubectl(kc, "rollout", "status", "-n", "demo", "deploy/echo", "--timeout=60s")
            with Cluster(kc) as cluster:
                objects = {
                    "pod": list(cluster.list(PODS, "demo")),
                    "deployment": [cluster.get(DEPLOYMENTS, "demo", "echo")],
                    "namespace": [cluster.get(NAMESPACES, "", "demo")],
                    "service": [cluster.get(SERVICES, "demo", "echo")],
                }
            out[name] = Side(name, kc, objects)
        yield out


def _table(side: Side, *args: str) -> list[list[str]]:
    lines = kubectl(side.kubeconfig, "get", *args).stdout.splitlines()
    return [line.split() for line in lines]


@pytest.mark.parametrize(
    "args",
    [
        ("pods", "-A", "-o", "wide"),
        ("deployments", "-A", "-o", "wide"),
        ("namespaces",),
        ("services", "-n", "demo", "-o", "wide"),
    ],
    ids=lambda a: a[0],
)
def test_kubectl_tables_have_the_same_columns(sides: dict[str, Side], args: tuple[str]) -> None:
    assert _table(sides["sim"], *args)[0] == _table(sides["real"], *args)[0]


def test_kubectl_tables_agree_on_readiness(sides: dict[str, Side]) -> None:
    def pods(side: Side) -> list[list[str]]:
        return sorted(row[1:4] for row in _table(side, "pods", "-n", "demo")[1:])

    def deploy(side: Side) -> list[str]:
        return _table(side, "deployments", "-n", "demo")[1][1:4]

    assert pods(sides["sim"]) == pods(sides["real"]) == [["1/1", "Running", "0"]] * 2
    assert deploy(sides["sim"]) == deploy(sides["real"]) == ["2/2", "2", "2"]
    namespaces = {s: {r[0]: r[1] for r in _table(sides[s], "namespaces")[1:]} for s in sides}
    assert namespaces["sim"] == namespaces["real"]


SEED = Path(__file__).resolve().parents[2] / "example-repo"
MESHGATEWAY = """\
apiVersion: istio.banzaicloud.io/v1beta1
kind: MeshGateway
metadata: {name: demo-ingress, namespace: istio-system}
spec:
  type: ingress
  serviceType: LoadBalancer
  istioControlPlane: {name: istio-sample, namespace: istio-system}
  ports: [{name: http2, port: 80, targetPort: 8080}]
"""


@pytest.mark.parametrize(
    "args",
    [("istios", "-A"), ("mgw", "-A", "-o", "wide"), ("applications", "-A", "-o", "wide")],
    ids=lambda a: a[0],
)
def test_the_seeds_kinds_have_the_same_names_and_columns(
    sides: dict[str, Side], args: tuple[str]
) -> None:
    """The seed's own Istio CR and Argo CD Application, and a MeshGateway, through kubectl:
    short names and printer columns as the upstream CRDs declare them (realcluster.crds)."""
    for side in sides.values():
        for ns in ("istio-system", "argocd"):
            kubectl(side.kubeconfig, "create", "namespace", ns, check=False)  # once per side
        for path in ("istio-system/istio.yaml", "argocd/apps.yaml"):
            kubectl(side.kubeconfig, "apply", "-f", str(SEED / path))
        kubectl(side.kubeconfig, "apply", "-f", "-", stdin=MESHGATEWAY)
    assert _table(sides["sim"], *args)[0] == _table(sides["real"], *args)[0]


def _verdict_fields(kind: str, obj: dict[str, Any]) -> Any:
    """What the verifier's checks decide on, per kind (verifier/pods.py, verifier/checks/)."""
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    if kind == "pod":
        return {
            "labels": meta.get("labels", {}).get("version"),
            "owner": [(r["kind"], r.get("controller")) for r in meta.get("ownerReferences", [])],
            "deleting": "deletionTimestamp" in meta,
            "phase": status.get("phase"),
            # Only Ready counts (verifier/pods.py is_ready); kwok does not set the kubelet's
            # PodReadyToStartContainers condition, simcluster does.
            "ready": [c["status"] for c in status.get("conditions", []) if c["type"] == "Ready"],
            "containers": [
                (c["name"], c["image"], c["ready"], c["restartCount"], sorted(c["state"]))
                for c in status.get("containerStatuses", [])
            ],
            "hostIP": bool(status.get("hostIP")),
            "podIP": bool(status.get("podIP")),
        }
    if kind == "deployment":
        return {
            "current": status.get("observedGeneration") == meta.get("generation"),
            "replicas": [status.get(k) for k in ("replicas", "updatedReplicas", "readyReplicas")],
            "available": status.get("availableReplicas"),
            "conditions": sorted(
                (c["type"], c["status"], c.get("reason")) for c in status.get("conditions", [])
            ),
            "image": spec["template"]["spec"]["containers"][0]["image"],
        }
    if kind == "namespace":
        return {"labels": meta.get("labels", {}), "phase": status.get("phase")}
    return {
        "type": spec.get("type"),
        "ports": [(p["port"], p.get("targetPort"), p.get("protocol")) for p in spec["ports"]],
        "selector": spec.get("selector"),
        "clusterIP": bool(spec.get("clusterIP")),
        "uid": bool(meta.get("uid")),
    }


@pytest.mark.parametrize("kind", ["pod", "deployment", "namespace", "service"])
def test_what_the_verifier_decides_on_is_equal(sides: dict[str, Side], kind: str) -> None:
    real = [_verdict_fields(kind, o) for o in sides["real"].objects[kind]]
    sim = [_verdict_fields(kind, o) for o in sides["sim"].objects[kind]]
    assert sim == real


def _paths(obj: Any, prefix: str = "") -> set[str]:
    if isinstance(obj, dict):
        out: set[str] = set()
        for key, value in obj.items():
            out |= _paths(value, f"{prefix}.{key}" if prefix else key)
        return out
    if isinstance(obj, list):
        return set().union(*(_paths(v, prefix + "[]") for v in obj)) if obj else {prefix}
    return {prefix}


def test_every_other_difference_is_a_known_one(sides: dict[str, Side]) -> None:
    found: set[tuple[str, str, str]] = set()
    for kind in sides["real"].objects:
        real = set().union(*(_paths(o) for o in sides["real"].objects[kind]))
        sim = set().union(*(_paths(o) for o in sides["sim"].objects[kind]))
        found |= {(kind, "real", p) for p in real - sim} | {(kind, "sim", p) for p in sim - real}

    def known(kind: str, side: str, path: str) -> bool:
        return any(k == kind and s == side and path.startswith(p) for k, s, p in KNOWN)

    unknown = sorted(f for f in found if not known(*f))
    assert not unknown, f"new differences; fix simcluster or explain them in {DOC.name}: {unknown}"
    stale = [k for k in KNOWN if not any(f[:2] == k[:2] and f[2].startswith(k[2]) for f in found)]
    assert not stale, f"listed in {DOC.name} but gone; drop them there and here: {stale}"
    text = DOC.read_text()
    undocumented = [p for _, _, p in KNOWN if f"`{p}`" not in text]
    assert not undocumented, f"{DOC.name} does not explain {undocumented}"
