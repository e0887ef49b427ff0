"""Pods that will not heal, as the kubelet reports them: unreleased images and crash loops.

Driven over real HTTP with the real kubectl (what a human sees in `kubectl get po`) and read back
with the real kubernetes client.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from simcluster.controllers.kubelet import CRASH_LOOP
from simcluster.harness import SimCluster
from simcluster.registry import pull_error
from tests.polling import wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


def kubectl(sim: SimCluster, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(sim.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def pod(
    name: str, image: str, init_image: str = "", annotations: dict[str, str] | None = None
) -> str:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": image}]}
    if init_image:
        spec["initContainers"] = [{"name": "istio-init", "image": init_image}]
    return json.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
        "spec": spec,
    })  # fmt: skip


def test_the_registry_knows_released_istio_tags_and_trusts_unknown_repositories() -> None:
    assert pull_error("docker.io/istio/proxyv2:1.7.8") == ""
    assert pull_error("docker.io/istio/pilot:1.6.0") == ""
    assert "docker.io/istio/proxyv2:1.7.9: not found" in pull_error("docker.io/istio/proxyv2:1.7.9")
    assert pull_error("docker.io/istio/pilot:1.8.0") != ""
    assert pull_error("k8s.gcr.io/echoserver:1.11") != ""
    assert pull_error("my.registry:5000/istio/proxyv2:1.7.99") == ""  # a mirror we know nothing of


def test_an_unreleased_image_goes_err_image_pull_then_image_pull_back_off(tmp_path: Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        kubectl(
            sim,
            "apply",
            "-f",
            "-",
            stdin=pod("bad-init", "k8s.gcr.io/echoserver:1.10", "docker.io/istio/proxyv2:1.7.99"),
        )
        kubectl(sim, "apply", "-f", "-", stdin=pod("bad-app", "docker.io/istio/pilot:1.7.99"))
        kubectl(
            sim,
            "apply",
            "-f",
            "-",
            stdin=pod("good", "k8s.gcr.io/echoserver:1.10", "docker.io/istio/proxyv2:1.7.8"),
        )

        def table() -> dict[str, str]:
            out = kubectl(sim, "get", "po", "--no-headers")
            return {line.split()[0]: line.split()[2] for line in out.splitlines()}

        seen = wait_for(table, lambda t: t.get("bad-init") == "Init:ImagePullBackOff" and t.get("bad-app") == "ImagePullBackOff" and t.get("good") == "Running", what="the three pods' kubectl STATUS")  # fmt: skip
        assert seen == {"bad-init": "Init:ImagePullBackOff", "bad-app": "ImagePullBackOff", "good": "Running"}  # fmt: skip

        raw = json.loads(kubectl(sim, "get", "po", "bad-init", "-o", "json"))
        status = raw["status"]
        assert status["phase"] == "Pending"
        (init,) = status["initContainerStatuses"]
        assert init["state"]["waiting"] == {
            "reason": "ImagePullBackOff",
            "message": 'Back-off pulling image "docker.io/istio/proxyv2:1.7.99"',
        }
        (app,) = status["containerStatuses"]
        assert app["state"]["waiting"]["reason"] == "PodInitializing"
        conditions = {c["type"]: c for c in status["conditions"]}
        assert (
            conditions["Initialized"]["message"]
            == "containers with incomplete status: [istio-init]"
        )
        assert conditions["Ready"]["status"] == "False"
        sim.wait_settled(10)  # a pod stuck pulling does not keep the controllers busy


def test_a_crash_looping_container_waits_in_back_off_with_restarts(tmp_path: Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        kubectl(sim, "apply", "-f", "-", stdin=pod("crash", "k8s.gcr.io/echoserver:1.10", annotations={CRASH_LOOP: "app"}))  # fmt: skip
        line = wait_for(
            lambda: kubectl(sim, "get", "po", "crash", "--no-headers"),
            lambda out: "CrashLoopBackOff" in out,
            what="pod crash in CrashLoopBackOff",
        ).split()
        assert line[1:4] == ["0/1", "CrashLoopBackOff", "2"]
        cs = json.loads(kubectl(sim, "get", "po", "crash", "-o", "json"))["status"][
            "containerStatuses"
        ][0]
        assert cs["lastState"]["terminated"]["exitCode"] == 1
        assert cs["state"]["waiting"]["message"].startswith(
            "back-off 20s restarting failed container=app pod=crash_default("
        )
