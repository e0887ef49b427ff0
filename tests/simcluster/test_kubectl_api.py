"""The installed kubectl (1.32) against simcluster: what it prints and how it exits.

One cluster with controllers per module (rollout status and wait need them) and a scripted exec
hook; every test has its own namespace and its own kubectl cache dir.
"""

from __future__ import annotations

import itertools
import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from simcluster.harness import SimCluster
from simcluster.store import Store
from tests.simcluster.scripted import scripted_exec

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

Obj = dict[str, Any]
_COUNTER = itertools.count(1)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimCluster]:
    with SimCluster(workdir=tmp_path_factory.mktemp("sim"), exec_handler=scripted_exec) as cluster:
        yield cluster


@dataclass
class Kubectl:
    kubeconfig: Path
    cache: Path
    namespace: str

    def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            "kubectl",
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.cache),
            *args,
        ]
        return subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self(*args, stdin=stdin)
        assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
        return result.stdout

    def apply(self, manifest: Obj | list[Obj]) -> str:
        docs = manifest if isinstance(manifest, list) else [manifest]
        return self.ok("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))


@pytest.fixture
def kubectl(sim: SimCluster, tmp_path: Path, request: pytest.FixtureRequest) -> Kubectl:
    base = re.sub(r"[^a-z0-9]+", "-", request.node.originalname.lower().removeprefix("test_"))
    ns = f"{base[:40].strip('-')}-{next(_COUNTER)}"
    k = Kubectl(sim.kubeconfig, tmp_path / "kubecache", ns)
    k.ok("create", "namespace", ns)
    return k


def table(text: str) -> list[list[str]]:
    """Split kubectl's table output on runs of 2+ spaces (cells may contain single spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def deployment(name: str, ns: str, replicas: int = 2) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "k8s.gcr.io/echoserver:1.10"}]},
            },
        },
    }


def meshgateway(name: str, ns: str) -> Obj:
    return {
        "apiVersion": "istio.banzaicloud.io/v1beta1",
        "kind": "MeshGateway",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "type": "ingress",
            "serviceType": "LoadBalancer",
            "istioControlPlane": {"name": "cp-v16x", "namespace": ns},
            "ports": [{"name": "http2", "port": 80, "targetPort": 8080}],
        },
    }


def istio(name: str, ns: str, version: str = "1.7.8") -> Obj:
    return {
        "apiVersion": "istio.banzaicloud.io/v1beta1",
        "kind": "Istio",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"version": version, "autoInjectionNamespaces": ["demo-a"]},
    }


# -- get: tables and output formats ---------------------------------------------------------------


def test_get_pods_prints_ready_status_restarts_age(kubectl: Kubectl, sim: SimCluster) -> None:
    kubectl.apply(deployment("web", kubectl.namespace))
    kubectl.ok("rollout", "status", "deployment/web", "-n", kubectl.namespace, "--timeout=20s")
    rows = table(kubectl.ok("get", "po", "-n", kubectl.namespace))
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(rows) == 3
    for row in rows[1:]:
        assert row[0].startswith("web-") and row[1:4] == ["1/1", "Running", "0"]
        assert re.fullmatch(r"\d+s", row[4])
    wide = table(kubectl.ok("get", "po", "-n", kubectl.namespace, "-o", "wide"))
    assert wide[0][:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    everywhere = table(kubectl.ok("get", "pods", "-A", "-l", "app=web", "-L", "app"))
    assert everywhere[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "APP"]
    assert {r[0] for r in everywhere[1:]} == {kubectl.namespace} and everywhere[1][-1] == "web"
    deploys = table(kubectl.ok("get", "deploy", "-n", kubectl.namespace))
    assert deploys[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploys[1][:4] == ["web", "2/2", "2", "2"]


def test_get_custom_resources_prints_their_printer_columns(
    kubectl: Kubectl, sim: SimCluster
) -> None:
    ns = kubectl.namespace
    kubectl.apply([istio("cp-v17x", ns), meshgateway("ingress", ns)])

    def set_status(store: Store) -> None:
        cr = store.must_get("Istio", ns, "cp-v17x")
        cr["status"] = {"Status": "Available", "GatewayAddress": ["10.0.0.7"]}
        store.update(cr, status_only=True)

    sim.call(set_status)
    rows = table(kubectl.ok("get", "istio", "-n", ns))
    assert rows[0] == ["NAME", "STATUS", "ERROR", "INGRESS IPS", "AGE"]
    assert rows[1][:2] == ["cp-v17x", "Available"] and '["10.0.0.7"]' in rows[1]
    gateways = table(kubectl.ok("get", "mgw", "-n", ns))
    assert gateways[0] == [
        "NAME",
        "TYPE",
        "SERVICE TYPE",
        "STATUS",
        "INGRESS IPS",
        "ERROR",
        "AGE",
        "CONTROL PLANE",
    ]
    assert gateways[1][:3] == ["ingress", "ingress", "LoadBalancer"]
    assert gateways[1][-1] == f'{{"name":"cp-v16x","namespace":"{ns}"}}'


def test_get_with_no_matches_says_so_on_stderr(kubectl: Kubectl) -> None:
    result = kubectl("get", "mgw", "-n", kubectl.namespace)
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.strip() == f"No resources found in {kubectl.namespace} namespace."


def test_get_missing_object_is_not_found_exit_1(kubectl: Kubectl) -> None:
    result = kubectl("get", "istio", "nope", "-n", kubectl.namespace)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Error from server (NotFound): istios.istio.banzaicloud.io "nope" not found'
    )


def test_output_yaml_json_and_jsonpath(kubectl: Kubectl) -> None:
    ns = kubectl.namespace
    kubectl.apply(deployment("web", ns, replicas=1))
    as_yaml = yaml.safe_load(kubectl.ok("get", "deploy", "web", "-n", ns, "-o", "yaml"))
    assert as_yaml["kind"] == "Deployment" and as_yaml["metadata"]["generation"] == 1
    assert as_yaml["spec"]["strategy"]["rollingUpdate"] == {
        "maxSurge": "25%",
        "maxUnavailable": "25%",
    }
    as_json = json.loads(kubectl.ok("get", "deploy", "-n", ns, "-o", "json"))
    assert as_json["kind"] == "List" and [d["metadata"]["name"] for d in as_json["items"]] == [
        "web"
    ]
    assert kubectl.ok("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}") == "1"
    assert (
        kubectl.ok(
            "get", "ns", ns, "-o", "jsonpath={.metadata.labels.kubernetes\\.io/metadata\\.name}"
        )
        == ns
    )
    empty = kubectl(
        "get", "pods", "-n", ns, "-l", "app=none", "-o", "jsonpath={.items[0].metadata.name}"
    )
    assert empty.returncode == 1 and "array index out of bounds" in empty.stderr


def test_get_two_namespaces_by_name_one_missing(kubectl: Kubectl) -> None:
    result = kubectl("get", "ns", kubectl.namespace, "no-such-ns")
    assert result.returncode == 1
    assert table(result.stdout)[1][0] == kubectl.namespace
    assert 'namespaces "no-such-ns" not found' in result.stderr


# -- label, annotate, patch -----------------------------------------------------------------------


def test_label_and_annotate(kubectl: Kubectl, sim: SimCluster) -> None:
    ns = kubectl.namespace
    assert (
        kubectl.ok("label", "ns", ns, "istio-injection=enabled").strip()
        == f"namespace/{ns} labeled"
    )
    out = kubectl.ok("label", "ns", ns, "istio-injection-", f"istio.io/rev=cp-v17x.{ns}")
    assert out.strip() == f"namespace/{ns} labeled"
    refused = kubectl("label", "ns", ns, "istio.io/rev=other")
    assert refused.returncode == 1 and "--overwrite is false" in refused.stderr
    labels = sim.call(lambda store: store.must_get("Namespace", None, ns)["metadata"]["labels"])
    assert labels == {"kubernetes.io/metadata.name": ns, "istio.io/rev": f"cp-v17x.{ns}"}
    shown = kubectl.ok("get", "ns", ns, "-L", "istio.io/rev", "--no-headers")
    assert table(shown)[0][-1] == f"cp-v17x.{ns}"
    kubectl.ok("annotate", "ns", ns, "owner=mesh-team")
    annotations = sim.call(
        lambda store: store.must_get("Namespace", None, ns)["metadata"]["annotations"]
    )
    assert annotations == {"owner": "mesh-team"}


def test_patch_json_merge_and_strategic(kubectl: Kubectl, sim: SimCluster) -> None:
    ns = kubectl.namespace
    kubectl.apply([meshgateway("ingress", ns), deployment("web", ns, replicas=1)])
    json_patch = '[{"op":"replace","path":"/spec/istioControlPlane/name","value":"cp-v17x"}]'
    out = kubectl.ok("patch", "mgw", "ingress", "-n", ns, "--type=json", "-p", json_patch)
    assert out.strip() == "meshgateway.istio.banzaicloud.io/ingress patched"
    again = kubectl.ok("patch", "mgw", "ingress", "-n", ns, "--type=json", "-p", json_patch)
    assert again.strip() == "meshgateway.istio.banzaicloud.io/ingress patched (no change)"
    kubectl.ok(
        "patch", "mgw", "ingress", "-n", ns, "--type=merge", "-p", '{"spec":{"replicaCount":2}}'
    )
    mgw = sim.call(lambda store: store.must_get("MeshGateway", ns, "ingress"))
    assert (
        mgw["spec"]["istioControlPlane"]["name"] == "cp-v17x" and mgw["spec"]["replicaCount"] == 2
    )
    refused = kubectl("patch", "mgw", "ingress", "-n", ns, "-p", '{"spec":{"replicaCount":3}}')
    assert refused.returncode == 1  # strategic merge on a CR: the server's 415, as kubectl words it
    assert "application/strategic-merge-patch+json is not supported by" in refused.stderr
    strategic = (
        '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"proxyv2:1.7.8"}]}}}}'
    )
    kubectl.ok("patch", "deploy", "web", "-n", ns, "-p", strategic)
    names = kubectl.ok(
        "get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[*].name}"
    )
    assert names == "app sidecar"


# -- apply, delete, describe ----------------------------------------------------------------------


def test_apply_creates_leaves_unchanged_and_configures(kubectl: Kubectl, sim: SimCluster) -> None:
    ns = kubectl.namespace
    docs = [meshgateway("ingress", ns), deployment("web", ns, replicas=1)]
    out = kubectl.apply(docs)
    assert out.splitlines() == [
        "meshgateway.istio.banzaicloud.io/ingress created",
        "deployment.apps/web created",
    ]
    assert kubectl.apply(docs).splitlines() == [
        "meshgateway.istio.banzaicloud.io/ingress unchanged",
        "deployment.apps/web unchanged",
    ]
    docs[0]["spec"]["istioControlPlane"]["name"] = "cp-v17x"
    docs[1]["spec"]["template"]["metadata"]["annotations"] = {"istio-canary/revision": "cp-v17x"}
    assert kubectl.apply(docs).splitlines() == [
        "meshgateway.istio.banzaicloud.io/ingress configured",
        "deployment.apps/web configured",
    ]
    web = sim.call(lambda store: store.must_get("Deployment", ns, "web"))
    assert web["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in web["metadata"]["annotations"]


def test_delete_then_get_is_not_found(kubectl: Kubectl) -> None:
    ns = kubectl.namespace
    kubectl.apply(meshgateway("ingress", ns))
    out = kubectl.ok("delete", "mgw", "ingress", "-n", ns)
    assert out.strip() == 'meshgateway.istio.banzaicloud.io "ingress" deleted'
    again = kubectl("delete", "mgw", "ingress", "-n", ns)
    assert again.returncode == 1 and "(NotFound)" in again.stderr
    assert kubectl("delete", "mgw", "ingress", "-n", ns, "--ignore-not-found").returncode == 0


def test_delete_deployment_garbage_collects_its_pods(kubectl: Kubectl, sim: SimCluster) -> None:
    ns = kubectl.namespace
    kubectl.apply(deployment("web", ns))
    kubectl.ok("rollout", "status", "deployment/web", "-n", ns, "--timeout=20s")
    kubectl.ok("delete", "deployment", "web", "-n", ns)
    kubectl.ok("wait", "--for=delete", "pod", "-l", "app=web", "-n", ns, "--timeout=10s")
    assert sim.call(lambda store: store.list("ReplicaSet", ns)[0]) == []


def test_describe_pod(kubectl: Kubectl) -> None:
    ns = kubectl.namespace
    kubectl.apply(deployment("web", ns, replicas=1))
    kubectl.ok("rollout", "status", "deployment/web", "-n", ns, "--timeout=20s")
    pod = kubectl.ok("get", "po", "-n", ns, "-o", "jsonpath={.items[0].metadata.name}")
    text = kubectl.ok("describe", "pod", pod, "-n", ns)
    assert re.search(rf"^Name:\s+{pod}$", text, re.M)
    assert re.search(r"^Status:\s+Running$", text, re.M)
    assert re.search(r"^\s+Image:\s+k8s.gcr.io/echoserver:1.10$", text, re.M)
    assert re.search(r"^Events:\s+<none>$", text, re.M)


# -- rollouts and waits ---------------------------------------------------------------------------


def test_rollout_restart_status_and_wait(kubectl: Kubectl, sim: SimCluster) -> None:
    ns = kubectl.namespace
    kubectl.apply(deployment("web", ns))
    out = kubectl.ok("rollout", "status", "deployment/web", "-n", ns, "--timeout=20s")
    assert out.strip().endswith('deployment "web" successfully rolled out')
    before = set(
        kubectl.ok("get", "po", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}").split()
    )
    assert (
        kubectl.ok("rollout", "restart", "deployment", "-n", ns).strip()
        == "deployment.apps/web restarted"
    )
    kubectl.ok("rollout", "status", "deployment/web", "-n", ns, "--timeout=20s")
    out = kubectl.ok(
        "wait", "--for=condition=Available", "deployment/web", "-n", ns, "--timeout=10s"
    )
    assert out.strip() == "deployment.apps/web condition met"
    sim.wait_settled(timeout=10)
    after = set(
        kubectl.ok("get", "po", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}").split()
    )
    assert len(after) == 2 and not before & after
    web = sim.call(lambda store: store.must_get("Deployment", ns, "web"))
    assert web["metadata"]["generation"] == 2 and web["status"]["observedGeneration"] == 2


def test_wait_times_out_on_an_unmet_condition(kubectl: Kubectl) -> None:
    ns = kubectl.namespace
    kubectl.apply(istio("cp-v17x", ns))
    result = kubectl("wait", "--for=condition=Ready", "istio/cp-v17x", "-n", ns, "--timeout=1s")
    assert result.returncode == 1
    assert "timed out waiting for the condition" in result.stderr


# -- exec -----------------------------------------------------------------------------------------


def _one_pod(kubectl: Kubectl) -> str:
    kubectl.apply(deployment("web", kubectl.namespace, replicas=1))
    kubectl.ok("rollout", "status", "deployment/web", "-n", kubectl.namespace, "--timeout=20s")
    return kubectl.ok(
        "get", "po", "-n", kubectl.namespace, "-o", "jsonpath={.items[0].metadata.name}"
    )


def test_exec_prints_stdout_and_propagates_exit_codes(kubectl: Kubectl) -> None:
    ns = kubectl.namespace
    pod = _one_pod(kubectl)
    assert kubectl.ok("exec", "-n", ns, pod, "--", "echo", "hello") == "hello\n"
    assert kubectl.ok("exec", "-n", ns, "-c", "app", pod, "--", "whoami") == f"{pod}/app\n"
    failed = kubectl("exec", "-n", ns, pod, "--", "fail", "7")
    assert failed.returncode == 7
    assert "boom" in failed.stderr and "command terminated with exit code 7" in failed.stderr
    missing = kubectl("exec", "-n", ns, pod, "--", "ls")
    assert missing.returncode == 1
    assert 'exec: "ls": executable file not found in $PATH' in missing.stderr
    wrong = kubectl("exec", "-n", ns, "-c", "nope", pod, "--", "echo")
    assert wrong.returncode == 1
    assert (
        f"Error from server (BadRequest): container nope is not valid for pod {pod}" in wrong.stderr
    )


# -- typed (protobuf) creates ---------------------------------------------------------------------


def test_create_commands_send_protobuf_and_work(kubectl: Kubectl, sim: SimCluster) -> None:
    name = f"{kubectl.namespace}-x"
    assert kubectl.ok("create", "ns", name).strip() == f"namespace/{name} created"
    kubectl.ok("create", "configmap", "cfg", "-n", name, "--from-literal=a=1", "--from-literal=b=")
    kubectl.ok("create", "secret", "generic", "tok", "-n", name, "--from-literal=t=s3cret")
    kubectl.ok("create", "serviceaccount", "robot", "-n", name)
    assert any(
        "protobuf" in ct for _m, path, ct in sim.requests if path.startswith("/api/v1/namespaces?")
    )
    cfg = sim.call(lambda store: store.must_get("ConfigMap", name, "cfg"))
    assert cfg["data"] == {"a": "1", "b": ""}
    secret = sim.call(lambda store: store.must_get("Secret", name, "tok"))
    assert secret["data"] == {"t": "czNjcmV0"} and secret["type"] == "Opaque"
    rows = table(kubectl.ok("get", "ns", name, kubectl.namespace, "-L", "istio-injection"))
    assert rows[0] == ["NAME", "STATUS", "AGE", "ISTIO-INJECTION"]
    assert [r[0] for r in rows[1:]] == [name, kubectl.namespace]
    unsupported = kubectl("create", "job", "once", "--image=busybox", "-n", name)
    assert unsupported.returncode == 1
    assert "simcluster cannot read Job as protobuf" in unsupported.stderr


def test_create_deployment_expose_and_run(kubectl: Kubectl, sim: SimCluster) -> None:
    ns = kubectl.namespace
    kubectl.ok(
        "create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80", "-n", ns
    )
    kubectl.ok("expose", "deployment", "web", "--port=8080", "--target-port=80", "-n", ns)
    kubectl.ok("run", "one", "--image=busybox", "--env=A=b", "-n", ns, "--", "sleep", "3600")
    kubectl.ok("rollout", "status", "deployment/web", "-n", ns, "--timeout=20s")
    web = sim.call(lambda store: store.must_get("Deployment", ns, "web"))
    assert web["spec"]["replicas"] == 2 and web["spec"]["selector"] == {
        "matchLabels": {"app": "web"}
    }
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"], container["ports"]) == (
        "nginx",
        "nginx:1.25",
        [{"containerPort": 80, "protocol": "TCP"}],
    )
    svc = sim.call(lambda store: store.must_get("Service", ns, "web"))
    assert svc["spec"]["ports"] == [{"port": 8080, "protocol": "TCP", "targetPort": 80}]
    assert svc["spec"]["selector"] == {"app": "web"}
    one = sim.call(lambda store: store.must_get("Pod", ns, "one"))["spec"]["containers"][0]
    assert one["args"] == ["sleep", "3600"] and one["env"] == [{"name": "A", "value": "b"}]


def test_get_watch_prints_table_rows_for_changes(kubectl: Kubectl) -> None:
    ns = kubectl.namespace
    kubectl.apply(istio("cp-v16x", ns, version="1.6.8"))
    cmd = [
        "kubectl",
        "--kubeconfig",
        str(kubectl.kubeconfig),
        "--cache-dir",
        str(kubectl.cache),
    ]
    proc = subprocess.Popen(
        [*cmd, "get", "istio", "-n", ns, "-w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in proc.stdout or []], daemon=True
    )
    reader.start()
    try:
        assert table(lines.get(timeout=20))[0] == ["NAME", "STATUS", "ERROR", "INGRESS IPS", "AGE"]
        assert table(lines.get(timeout=20))[0][0] == "cp-v16x"
        kubectl.apply(istio("cp-v17x", ns))
        row = table(lines.get(timeout=20))[0]
        assert row[0] == "cp-v17x" and re.fullmatch(r"\d+s", row[-1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_kubectl_over_tls_with_the_generated_ca(tmp_path: Path) -> None:
    with SimCluster(workdir=tmp_path / "sim", controllers=False, tls=True) as tls_sim:
        k = Kubectl(tls_sim.kubeconfig, tmp_path / "kubecache", "default")
        assert table(k.ok("get", "ns", "default"))[1][:2] == ["default", "Active"]
        k.ok("create", "configmap", "over-tls", "--from-literal=a=1")
        assert tls_sim.call(
            lambda store: store.must_get("ConfigMap", "default", "over-tls")["data"]
        ) == {"a": "1"}


def test_scale_and_auth_can_i(kubectl: Kubectl, sim: SimCluster) -> None:
    ns = kubectl.namespace
    kubectl.apply(deployment("web", ns, replicas=1))
    assert (
        kubectl.ok("scale", "deploy", "web", "-n", ns, "--replicas=3").strip()
        == "deployment.apps/web scaled"
    )
    assert kubectl.ok("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}") == "3"
    assert kubectl.ok("auth", "can-i", "list", "pods", "-n", ns).strip() == "yes"
    sim.call(lambda store: store.rbac.deny("list", "pods", ns))
    try:
        denied = kubectl("auth", "can-i", "list", "pods", "-n", ns)
        assert denied.returncode == 1 and denied.stdout.startswith("no")
        forbidden = kubectl("get", "pods", "-n", ns)
        assert forbidden.returncode == 1 and "Error from server (Forbidden)" in forbidden.stderr
    finally:
        sim.call(lambda store: store.rbac.allow_all())


# -- `simcluster serve` as a process --------------------------------------------------------------


def _simcluster_bin() -> str:
    found = shutil.which("simcluster", path=str(Path(sys.executable).parent))
    assert found is not None, "the simcluster console script is not installed in this venv"
    return found


def test_serve_prints_its_url_serves_kubectl_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "out" / "kubeconfig"
    proc = subprocess.Popen(
        [
            _simcluster_bin(),
            "serve",
            "--kubeconfig",
            str(kubeconfig),
            "--port",
            "0",
            "--fault",
            "no-sync",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = (proc.stdout.readline() if proc.stdout else "").strip()
        match = re.fullmatch(
            r"simcluster: serving (http://127\.0\.0\.1:\d+) \(kubeconfig (.+)\)", line
        )
        assert match, f"unexpected first line {line!r}"
        assert Path(match.group(2)) == kubeconfig
        k = Kubectl(kubeconfig, tmp_path / "kubecache", "default")
        assert table(k.ok("get", "ns", "default"))[1][0] == "default"
        with urllib.request.urlopen(match.group(1) + "/simcluster/v1/faults", timeout=5) as resp:
            assert json.loads(resp.read())["faults"]["no-sync"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "typo"], "unknown fault 'typo'"),
        (["--repo", "/nonexistent/repo"], "/nonexistent/repo: not a git repository"),
    ],
)
def test_serve_rejects_bad_input_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = subprocess.run(
        [_simcluster_bin(), "serve", "--kubeconfig", str(tmp_path / "k"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("simcluster: error: ") and message in result.stderr
    assert not (tmp_path / "k").exists()
