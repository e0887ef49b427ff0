"""What the kubectl replay found simcluster answering unlike a real API server, now fixed.

Each was seen by tests/realcluster/test_replay_differential.py (which needs Go for the real
control plane); these pin the fixes on simcluster alone, through the installed kubectl and plain
HTTP, so they run wherever kubectl does. docs/realcluster-differences.md lists them with the
upstream behaviour each follows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simcluster.harness import SimCluster
from tests.polling import wait_for

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

MANIFESTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: fixes}
---
apiVersion: v1
kind: Pod
metadata: {name: burstable, namespace: fixes}
spec:
  serviceAccountName: default
  containers:
  - name: app
    image: k8s.gcr.io/echoserver:1.10
    resources: {requests: {cpu: 100m}}
    readinessProbe: {httpGet: {port: 8080}}
  volumes:
  - {name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
---
apiVersion: v1
kind: Pod
metadata: {name: guaranteed, namespace: fixes}
spec:
  containers:
  - name: app
    image: k8s.gcr.io/echoserver:1.10
    resources: {limits: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: fixes}
spec:
  type: LoadBalancer
  selector: {app: x}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: fixes}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: k8s.gcr.io/echoserver:1.10}]
"""


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimCluster]:
    with SimCluster(workdir=tmp_path_factory.mktemp("sim")) as cluster:
        kubectl(cluster, "apply", "-f", "-", stdin=MANIFESTS)
        yield cluster


def kubectl(sim: SimCluster, *args: str, stdin: str | None = None) -> str:
    kc = Path(sim.kubeconfig)
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(kc), "--cache-dir", str(kc.parent / "kc-cache"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def get(sim: SimCluster, *args: str) -> Any:
    return json.loads(kubectl(sim, "get", "-n", "fixes", *args, "-o", "json"))


def test_the_qos_class_is_computed_from_the_admitted_spec(sim: SimCluster) -> None:
    assert get(sim, "pod", "burstable")["status"]["qosClass"] == "Burstable"
    assert get(sim, "pod", "guaranteed")["status"]["qosClass"] == "Guaranteed"


def test_probes_volumes_and_the_service_account_are_defaulted(sim: SimCluster) -> None:
    spec = get(sim, "pod", "burstable")["spec"]
    probe = spec["containers"][0]["readinessProbe"]
    assert {k: probe[k] for k in ("timeoutSeconds", "periodSeconds")} == {
        "timeoutSeconds": 1,
        "periodSeconds": 10,
    }
    assert (probe["successThreshold"], probe["failureThreshold"]) == (1, 3)
    assert probe["httpGet"]["scheme"] == "HTTP" and probe["httpGet"]["path"] == "/"
    volume = spec["volumes"][0]["downwardAPI"]
    assert volume["defaultMode"] == 420
    assert volume["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert spec["serviceAccount"] == spec["serviceAccountName"] == "default"


def test_a_load_balancer_allocates_node_ports_by_default(sim: SimCluster) -> None:
    assert get(sim, "service", "lb")["spec"]["allocateLoadBalancerNodePorts"] is True


def test_a_statefulset_pod_has_its_owners_generate_name(sim: SimCluster) -> None:
    pod = wait_for(
        lambda: get(sim, "pods", "-l", "app=db")["items"],
        what="the StatefulSet's pod",
        timeout=30,
    )[0]
    assert pod["metadata"]["name"] == "db-0"
    assert pod["metadata"]["generateName"] == "db-"


def test_generated_names_use_apimachinerys_alphabet(sim: SimCluster) -> None:
    for _ in range(20):
        made = json.loads(
            kubectl(
                sim, "create", "-n", "fixes", "-o", "json", "-f", "-",
                stdin=json.dumps(
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "c-"}}
                ),
            )
        )  # fmt: skip
        suffix = made["metadata"]["name"].removeprefix("c-")
        assert len(suffix) == 5 and set(suffix) <= set("bcdfghjklmnpqrstvwxz2456789"), suffix


def test_an_unserved_group_is_the_muxs_plain_404(sim: SimCluster) -> None:
    for path in ("/apis/nosuch.example.com/v1/things", "/apis/nosuch.example.com", "/api/v2"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(sim.url + path, timeout=10)
        assert err.value.code == 404
        assert err.value.headers["Content-Type"].startswith("text/plain")
        assert err.value.read() == b"404 page not found\n"
    # a served group/version with an unserved resource is still a Status
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(sim.url + "/apis/apps/v1/nosuchthings", timeout=10)
    assert err.value.code == 404 and json.loads(err.value.read())["kind"] == "Status"


APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: app, namespace: fixes}
spec:
  project: default
  source: {repoURL: "https://example.invalid/repo.git", path: ., targetRevision: HEAD}
  destination: {server: "https://kubernetes.default.svc", namespace: fixes}
"""


def test_crd_columns_keep_their_priority_and_print_maps_as_json(sim: SimCluster) -> None:
    kubectl(sim, "apply", "-f", "-", stdin=APPLICATION)
    narrow = kubectl(sim, "get", "applications", "-n", "fixes").splitlines()[0].split()
    wide = kubectl(sim, "get", "applications", "-n", "fixes", "-o", "wide").splitlines()[0]
    assert narrow == ["NAME", "SYNC", "STATUS", "HEALTH", "STATUS"]
    assert "REVISION" in wide and "PROJECT" in wide
    gateway = {
        "apiVersion": "istio.banzaicloud.io/v1beta1",
        "kind": "MeshGateway",
        "metadata": {"name": "gw", "namespace": "fixes"},
        "spec": {
            "type": "ingress",
            "serviceType": "ClusterIP",
            "istioControlPlane": {"name": "cp", "namespace": "fixes"},
            "ports": [{"name": "http2", "port": 80, "targetPort": 8080}],
        },
    }
    kubectl(sim, "apply", "-f", "-", stdin=json.dumps(gateway))
    row = kubectl(sim, "get", "mgw", "-n", "fixes", "gw", "-o", "wide").splitlines()[1]
    assert row.rstrip().endswith('{"name":"cp","namespace":"fixes"}'), row
