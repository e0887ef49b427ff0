"""Acceptance: the seed guide's commands, run with the real kubectl against simcluster.

Twice: against the in-process harness (`SimCluster(repo=...)`) and against `simcluster serve
--repo ...` as a separate process, driven only over HTTP (faults and settling through its
`/simcluster/v1/` endpoints), as a user at a terminal would.

The cluster boots from a real git copy of example-repo (Argo CD Applications for the 0.6.12
operator, the Istio 1.6 CR and the demo apps). After the boot the GitOps sync is paused with the
``no-sync`` fault, because the guide's hand edits (namespace labels, gateway patch) would be
reverted by Argo CD's self-heal otherwise; that conflict is what istio-canary exists to solve.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import pytest
import yaml

from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster.simhelp import EXAMPLE, cr_v17

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

V17 = "istio-sample-v17x.istio-system"
OPERATOR_V17 = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "istio-operator-v17x", "namespace": "argocd"},
    "spec": {
        "project": "default",
        "source": {
            "repoURL": "https://kubernetes-charts.banzaicloud.com",
            "chart": "istio-operator",
            "targetRevision": "0.0.88",
            "helm": {"releaseName": "istio-operator-v17x", "parameters": [{"name": "operator.image.tag", "value": "0.7.14", "forceString": True}]},
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "istio-system"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    },
}  # fmt: skip


class Cluster(Protocol):
    """What the replay needs from a simulated cluster, in-process or as `simcluster serve`."""

    @property
    def kubeconfig(self) -> pathlib.Path: ...

    def set_fault(self, name: str, enabled: bool) -> None: ...

    def wait_settled(self, timeout: float = 10.0) -> None: ...


class Served:
    """`simcluster serve` in its own process, reached only over HTTP like any user would."""

    def __init__(self, url: str, kubeconfig: pathlib.Path) -> None:
        self.url, self.kubeconfig = url, kubeconfig

    def set_fault(self, name: str, enabled: bool) -> None:
        body = json.dumps({"enabled": enabled}).encode()
        req = urllib.request.Request(f"{self.url}/simcluster/v1/faults/{name}", body, method="PUT")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200

    def wait_settled(self, timeout: float = 10.0) -> None:
        def settled() -> bool:
            with urllib.request.urlopen(f"{self.url}/simcluster/v1/settled", timeout=10) as r:
                return bool(json.loads(r.read())["settled"])

        wait_for(settled, what="simcluster serve to settle", timeout=timeout)


@contextmanager
def served(repo: pathlib.Path, tmp_path: pathlib.Path) -> Iterator[Served]:
    script = shutil.which("simcluster", path=str(pathlib.Path(sys.executable).parent))
    assert script is not None, "the simcluster console script is not installed in this venv"
    kubeconfig = tmp_path / "served.kubeconfig"
    cmd = [script, "serve", "--repo", str(repo), "--kubeconfig", str(kubeconfig)]
    proc = subprocess.Popen(
        [*cmd, "--port", "0", "--sync-interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = (proc.stdout.readline() if proc.stdout else "").strip()
        match = re.fullmatch(r"simcluster: serving (http://\S+) \(kubeconfig .+\)", line)
        assert match, f"simcluster serve printed {line!r}"
        yield Served(match.group(1), kubeconfig)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


@contextmanager
def cluster(mode: str, repo: pathlib.Path, tmp_path: pathlib.Path) -> Iterator[Cluster]:
    if mode == "serve":
        with served(repo, tmp_path) as proc:
            yield proc
    else:
        with SimCluster(repo=repo, sync_interval=0.2, workdir=tmp_path) as sim:
            yield sim


class Kubectl:
    def __init__(self, sim: Cluster, cache: pathlib.Path) -> None:
        self.env = {**os.environ, "KUBECONFIG": str(sim.kubeconfig), "KUBECACHEDIR": str(cache)}

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["kubectl", *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {done.returncode}: {done.stderr}"
            )
        return done.stdout

    def rows(self, *args: str) -> list[list[str]]:
        return [line.split() for line in self(*args).splitlines()[1:]]

    def until(self, cond: str, *args: str, timeout: float = 20.0) -> str:
        return wait_for(
            lambda: self(*args, check=False),
            lambda out: cond in out,
            what=f"kubectl {' '.join(args)} to show {cond!r}",
            timeout=timeout,
            interval=0.1,
        )

    def pod(self, ns: str, app: str) -> str:
        return self(
            "get", "pods", "-n", ns, "-l", f"k8s-app={app}", "-o=jsonpath={.items[0].metadata.name}"
        )

    def curl(self, ns: str, app: str, url: str) -> str:
        pod = self.pod(ns, app)
        return self(
            "exec",
            f"-n={ns}",
            "-c",
            "echo-service",
            pod,
            "--",
            "curl",
            "-Ls",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            url,
        )

    def proxy_lines(self, ns: str, app: str) -> list[str]:
        text = self("get", "po", f"-n={ns}", self.pod(ns, app), "-o", "yaml")
        return [line.strip() for line in text.splitlines() if "istio/proxyv2:" in line]


@pytest.fixture
def repo(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "repo"
    shutil.copytree(EXAMPLE, path)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "seed"], check=True)
    return path


@pytest.mark.parametrize("mode", ["harness", "serve"])
def test_seed_guide_replayed_with_kubectl(
    mode: str, repo: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    with cluster(mode, repo, tmp_path) as sim:
        k = Kubectl(sim, tmp_path / "kubecache")
        # Boot: the GitOps sync brings up the 1.6 control plane, then the meshed demo apps.
        k.until("2/2", "get", "po", "-n", "demo-b", timeout=30)
        sim.wait_settled()
        sim.set_fault("no-sync", True)

        rows = {r[0]: r for r in k.rows("get", "po", "-n=istio-system")}
        assert rows["istio-operator-v16x-0"][1:3] == ["2/2", "Running"]
        assert [r[1:3] for n, r in rows.items() if n.startswith("istiod-")] == [["1/1", "Running"]]
        assert [r[1:3] for n, r in rows.items() if n.startswith("istio-ingressgateway-")] == [
            ["1/1", "Running"]
        ]
        ns_rows = k.rows("get", "ns", "demo-a", "demo-b", "-L", "istio-injection")
        assert [(r[0], r[1], r[-1]) for r in ns_rows] == [
            ("demo-a", "Active", "enabled"),
            ("demo-b", "Active", "enabled"),
        ]
        assert k.curl("demo-a", "app-a", "app-b.demo-b.svc.cluster.local") == "200"
        assert k.curl("demo-b", "app-b", "app-a.demo-a.svc.cluster.local") == "200"

        # Deploy the 1.7 operator and the canary CR next to 1.6.
        manifest = tmp_path / "v17.yaml"
        manifest.write_text(yaml.safe_dump_all([OPERATOR_V17, cr_v17()]))
        k("apply", "-f", str(manifest))
        k.until(
            "Available",
            "-n",
            "istio-system",
            "get",
            "istio",
            "istio-sample-v17x",
            "-o",
            "jsonpath={.status.Status}",
        )
        rows = {r[0]: r for r in k.rows("get", "po", "-n=istio-system")}
        assert rows["istio-operator-v17x-0"][1:3] == ["2/2", "Running"]
        assert any(
            n.startswith("istiod-istio-sample-v17x-") and r[1] == "1/1" for n, r in rows.items()
        )
        assert (
            k(
                "-n",
                "istio-system",
                "get",
                "istio",
                "istio-sample",
                "-o",
                "jsonpath={.status.Status}",
            )
            == "Available"
        )

        # Migrate the ingress gateway; its LoadBalancer Service keeps UID and address.
        svc_before = k(
            "get",
            "svc",
            "-n",
            "istio-system",
            "istio-ingressgateway",
            "-o",
            "jsonpath={.metadata.uid} {.status.loadBalancer.ingress[0].ip}",
        )
        k(
            "patch",
            "mgw",
            "-n",
            "istio-system",
            "istio-ingressgateway",
            "--type=json",
            "-p",
            '[{"op": "replace", "path": "/spec/istioControlPlane/name", "value": "istio-sample-v17x"}]',
        )
        k.until(
            "proxyv2:1.7.8",
            "get",
            "po",
            "-n",
            "istio-system",
            "-l",
            "gateway-name=istio-ingressgateway",
            "-o",
            "jsonpath={.items[*].spec.containers[*].image}",
        )
        sim.wait_settled()
        assert (
            k(
                "get",
                "svc",
                "-n",
                "istio-system",
                "istio-ingressgateway",
                "-o",
                "jsonpath={.metadata.uid} {.status.loadBalancer.ingress[0].ip}",
            )
            == svc_before
        )

        # Migrate the namespaces one at a time, testing both directions each time.
        for ns, app, other, other_app in (
            ("demo-a", "app-a", "demo-b", "app-b"),
            ("demo-b", "app-b", "demo-a", "app-a"),
        ):
            k("label", "ns", ns, "istio-injection-", f"istio.io/rev={V17}")
            sim.wait_settled()
            (row,) = k.rows("get", "ns", ns, "-L", "istio-injection", "-L", "istio.io/rev")
            assert (row[0], row[-1]) == (ns, V17) and "enabled" not in row
            k("rollout", "restart", "deployment", "-n", ns)
            k("rollout", "status", "deployment", app, "-n", ns, "--timeout=30s")
            sim.wait_settled()
            assert k.proxy_lines(ns, app) == ["image: docker.io/istio/proxyv2:1.7.8"] * 4
            assert k.curl(ns, app, f"{other_app}.{other}.svc.cluster.local") == "200"
            assert k.curl(other, other_app, f"{app}.{ns}.svc.cluster.local") == "200"

        # Delete the 1.6 CR and its operator. 0.6.12 ignores createOnly, so the hand-moved
        # gateway is still owned by the 1.6 CR and is garbage-collected with it (pitfall 2).
        k("delete", "-n", "istio-system", "istio", "istio-sample")
        k("delete", "-n", "argocd", "application", "istio-operator-v16x")
        sim.wait_settled()
        names = [r[0] for r in k.rows("get", "po", "-n=istio-system")]
        assert "istio-operator-v16x-0" not in names and "istio-operator-v17x-0" in names
        assert not [
            n
            for n in names
            if n.startswith("istiod-") and not n.startswith("istiod-istio-sample-v17x-")
        ]
        assert k("get", "mgw", "-n", "istio-system", "-o", "name") == ""
        assert k.curl("demo-a", "app-a", "app-b.demo-b.svc.cluster.local") == "200"
        assert k.curl("demo-b", "app-b", "app-a.demo-a.svc.cluster.local") == "200"
