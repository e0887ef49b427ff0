"""simcluster's faults on the real control plane, each caught by the gate of the stage it breaks.

On the embedded cluster (`istio-canary demo --fault NAME`, switched on after stage 0):
`stuck-rollout` holds the new operator's pod not Ready, so the merged control-plane stage never
gets healthy and the gateways gate fails (exit 1); `api-flaky` makes the API answer some requests
429/500, reset or hang, and the control-plane gate ends "could not verify" (exit 3) or passes
only on whole answers. Here the same flow runs on kube-apiserver, the controller-manager, the
scheduler and kwok: `stuck-rollout` is an admission webhook of ours plus a kwok stage
(`simcluster.stuckrollout`, `realcluster.kwokstages`); `api-flaky` a fault-injecting proxy in
front of the real API server (`simcluster.faultproxy`).
"""

from __future__ import annotations

import contextlib
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from core.errors import UsageError
from realcluster import ControlPlane
from realcluster.controlplane import write_kubeconfig
from realcluster.crds import CRDS
from realcluster.kwokcrds import EXEC_CRD, KWOK_EXEC_ARGS
from rehearsal.pipeline import Pipeline
from rehearsal.repos import copy_helm_example, make_repos
from simcluster.controllers.kubelet import NEVER_READY
from simcluster.realserver import Coordinates, RealSimCluster
from simcluster.stuckrollout import STUCK
from tests.polling import wait_for
from tests.realcluster.conftest import _skip_reason, kubectl
from tests.realcluster.test_realserve import PACING, QUICK

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]


@contextlib.contextmanager
def seed(tmp: Path) -> Iterator[Pipeline]:
    """The seed synced and planned on a control plane whose kwok can hold pods not Ready."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with contextlib.ExitStack() as stack:
        cp = stack.enter_context(
            ControlPlane(
                tmp / "cp", crds=[*CRDS, EXEC_CRD], kwok_args=KWOK_EXEC_ARGS,
                exec_path=[tmp / "mesh"], held_annotation=NEVER_READY,
            )
        )  # fmt: skip
        repos = make_repos(tmp / "origin", tmp / "work")
        sim = stack.enter_context(
            RealSimCluster(
                Coordinates.of(cp), repo=repos.origin, sync_interval=1.0, mesh_dir=tmp / "mesh"
            )
        )
        pipeline = Pipeline(repos, cast(Any, sim), reports=tmp / "reports", pacing=PACING)
        pipeline.generate("init", "--to-version", "1.7.7")
        repos.push_main()
        pipeline.sync()
        yield pipeline


def pod_states(kubeconfig: Path, namespace: str) -> dict[str, tuple[str, str]]:
    """name -> (phase, Ready condition status)."""
    out = kubectl(kubeconfig, "get", "pods", "-n", namespace, "-o", "json").stdout
    states = {}
    for pod in json.loads(out)["items"]:
        status = pod.get("status") or {}
        ready = next(
            (c["status"] for c in status.get("conditions") or [] if c["type"] == "Ready"), ""
        )
        states[pod["metadata"]["name"]] = (status.get("phase", ""), ready)
    return states


def test_kwok_holds_annotated_pods_running_but_not_ready(tmp_path: Path) -> None:
    """realcluster.kwokstages: kwok's own pod stages plus ours, played by the real kwok."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with ControlPlane(tmp_path / "cp", held_annotation=NEVER_READY) as cp:
        kc = cp.kubeconfig
        for name, annotations in (("held", {NEVER_READY: "x"}), ("free", {})):
            pod = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "default", "annotations": annotations},
                "spec": {"containers": [{"name": "c", "image": "echoserver:1.10"}]},
            }  # fmt: skip
            kubectl(kc, "create", "-f", "-", stdin=json.dumps(pod))
        wait_for(
            lambda: pod_states(kc, "default"),
            lambda s: s == {"held": ("Running", "False"), "free": ("Running", "True")},
            what="held Running not Ready, free Ready", timeout=30,
        )  # fmt: skip
        # kwok keeps the node's lease, so the node lifecycle controller never marks it Unknown
        # (and every pod not Ready) as it did without leases 50 s after start
        lease = kubectl(
            kc, "get", "lease", "-n", "kube-node-lease", "kwok-node-0",
            "-o", "jsonpath={.spec.leaseDurationSeconds}",
        )  # fmt: skip
        assert lease.stdout == "40"
        kubectl(kc, "annotate", "pod", "held", f"{NEVER_READY}-")  # the probe passes now
        wait_for(
            lambda: pod_states(kc, "default").get("held"),
            lambda s: s == ("Running", "True"),
            what="the released pod Ready", timeout=30,
        )  # fmt: skip


def test_stuck_rollout_is_caught_by_the_gateways_gate(tmp_path: Path) -> None:
    with seed(tmp_path) as pipeline:
        assert pipeline.verify("stage", "0").exit_code == 0
        sim = cast(RealSimCluster, pipeline.sim)
        sim.set_fault(STUCK, True)
        # the control-plane PR's gate judges stage 0, which the fault does not touch
        stage = pipeline.open_pr()
        assert stage.name == "control-plane"
        assert pipeline.verify("gate").exit_code == 0
        pipeline.merge()
        pipeline.sync()
        # the new operator's pod was admitted while the fault was on: held by kwok
        wait_for(
            lambda: pod_states(pipeline.kubeconfig, "istio-system").get("istio-operator-v17x-0"),
            lambda s: s == ("Running", "False"),
            what="the new operator held Running, not Ready", timeout=60,
        )  # fmt: skip
        assert pipeline.verify("stage", str(stage.index), pacing=QUICK).exit_code == 1
        following = pipeline.open_pr()
        assert following.name == "gateways"
        gate = pipeline.verify("gate", pacing=QUICK)
        assert gate.exit_code == 1, gate.output
        assert "istio-sample-v17x" in gate.output and "not reconciled" in gate.output, gate.output
        # switched off: the held pods pass their readiness probes and the same gate passes
        sim.set_fault(STUCK, False)
        gate = pipeline.verify("gate")
        assert gate.exit_code == 0, gate.output
        pipeline.merge()
        pipeline.sync()
        assert pipeline.verify("stage", str(following.index)).exit_code == 0


def test_api_flaky_through_the_proxy_fails_the_gate_closed_and_it_recovers(tmp_path: Path) -> None:
    with seed(tmp_path) as pipeline:
        assert pipeline.verify("stage", "0").exit_code == 0  # through the proxy, fault off
        sim = cast(RealSimCluster, pipeline.sim)
        faults, proxy = sim.faults, sim.proxy
        stage = pipeline.open_pr()
        assert stage.name == "control-plane"
        # The embedded cluster's demo: the control-plane gate ends "could not verify" (exit 3);
        # what the verifier cannot read whole is never a pass, and never a failed check either.
        sim.set_fault("api-flaky", True)
        gate = pipeline.verify("gate", pacing=QUICK)
        assert gate.exit_code == 3, gate.output
        assert "could not verify" in gate.output, gate.output
        assert proxy.actions and set(proxy.actions) <= {"429", "500", "reset", "hang"}
        sim.set_fault("api-flaky", False)
        gate = pipeline.verify("gate")
        assert gate.exit_code == 0, gate.output
        # Each answer is the API server's kind of answer: kubectl reads the 500 as a Status.
        # (Only pods: kubectl's discovery reads a 500 as an unknown error, as from any server.)
        faults.flaky_share, faults.flaky_actions, faults.flaky_paths = 1.0, ("500",), ("/pods",)
        sim.set_fault("api-flaky", True)
        failed = kubectl(pipeline.kubeconfig, "get", "pods", "-A", check=False)
        sim.set_fault("api-flaky", False)
        assert failed.returncode != 0
        assert "Internal error occurred: simcluster api-flaky fault" in failed.stderr, failed.stderr
        # Hanging access reviews must not use up the gate's deadline (as on the embedded
        # cluster): the preflight gives up, says so, and the checks still decide.
        faults.flaky_actions, faults.flaky_paths = ("hang",), ("selfsubjectaccessreviews",)
        sim.set_fault("api-flaky", True)
        verdict = pipeline.verify("stage", "0", pacing=QUICK)
        sim.set_fault("api-flaky", False)
        assert verdict.exit_code == 0, verdict.output
        assert any("RBAC preflight incomplete" in n for n in verdict.data["notes"]), verdict.data


def test_helm_flavour_pods_are_injected_through_our_upstream_webhook(tmp_path: Path) -> None:
    """The Helm flavour's first piece on the real control plane (its faults need the rest,
    docs/realcluster.md): the chart's injector, pointed at `simcluster.upstreaminjection`, is
    called by the API server, and the seed's stage 0 holds except for the one check that reads
    the injector's target, which now names our URL instead of the istiod Service (pinned)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with contextlib.ExitStack() as stack:
        cp = stack.enter_context(
            ControlPlane(
                tmp_path / "cp", crds=[*CRDS, EXEC_CRD], kwok_args=KWOK_EXEC_ARGS,
                exec_path=[tmp_path / "mesh"],
            )
        )  # fmt: skip
        repos = make_repos(tmp_path / "origin", tmp_path / "work", populate=copy_helm_example)
        sim = stack.enter_context(
            RealSimCluster(
                Coordinates.of(cp), repo=repos.origin, sync_interval=1.0,
                mesh_dir=tmp_path / "mesh",
            )
        )  # fmt: skip
        pipeline = Pipeline(repos, cast(Any, sim), reports=tmp_path / "reports", pacing=PACING)
        pipeline.generate("init", "--to-version", "1.28.2")
        repos.push_main()
        pipeline.sync()
        images = wait_for(
            lambda: kubectl(
                pipeline.kubeconfig, "get", "pods", "-n", "demo-a",
                "-o", "jsonpath={.items[*].spec.containers[*].image}",
            ).stdout,
            lambda out: "proxyv2" in out, what="demo-a's pod injected", timeout=60,
        )  # fmt: skip
        assert ":1.26" in images, images
        assert any(
            c.startswith("/upstream/istio-system/istiod/") for c in sim.server.upstream.calls
        )
        verdict = pipeline.verify("stage", "0", pacing=QUICK)
        pending = {c["name"] for c in verdict.data["checks"] if c["status"] != "passed"}
        assert pending == {"control-planes"}, verdict.output
        assert "no MutatingWebhookConfiguration calls istio-system/istiod" in verdict.output


def _whoami(kubeconfig: Path, *extra: str) -> dict[str, Any]:
    out = kubectl(kubeconfig, "auth", "whoami", "-o", "json", *extra).stdout
    info: dict[str, Any] = json.loads(out)["status"]["userInfo"]
    return {"username": info["username"], "groups": sorted(info.get("groups") or [])}


def test_the_fault_proxy_keeps_the_callers_identity(tmp_path: Path) -> None:
    """Through the proxy the API server authorises the caller, never the proxy's own admin
    certificate: a token is passed as it came, a client certificate becomes impersonation of
    its own subject, and a certificate holder's own Impersonate headers are dropped."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with (
        ControlPlane(tmp_path / "cp", held_annotation=NEVER_READY) as cp,
        RealSimCluster(Coordinates.of(cp)) as sim,
    ):
        assert sim.url != cp.url
        admin_direct = _whoami(cp.kubeconfig)
        assert _whoami(sim.kubeconfig) == admin_direct  # the certificate's CN and O
        assert "system:masters" in admin_direct["groups"]
        kubectl(cp.kubeconfig, "create", "serviceaccount", "reader", "-n", "default")
        token = kubectl(cp.kubeconfig, "create", "token", "reader", "-n", "default").stdout
        direct = cp.token_kubeconfig(tmp_path / "direct.kubeconfig", token.strip(), "reader")
        proxied = write_kubeconfig(
            tmp_path / "proxied.kubeconfig", sim.url, cp.pki / "ca.crt",
            {"token": token.strip()}, "reader",
        )  # fmt: skip
        assert _whoami(proxied) == _whoami(direct)
        assert _whoami(proxied)["username"] == "system:serviceaccount:default:reader"
        denied = kubectl(proxied, "create", "namespace", "intruder", check=False)
        assert denied.returncode != 0 and "forbidden" in denied.stderr.lower(), denied.stderr
        # the admin's own --as is dropped by the proxy (it would ride on its impersonation)
        assert _whoami(sim.kubeconfig, "--as=someone-else") == admin_direct


def _control(sim: RealSimCluster, ca: Path, method: str, path: str, body: Any = None) -> Any:
    context = ssl.create_default_context(cafile=str(ca))
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{sim.url}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_control_endpoints_switch_faults_at_runtime_as_on_the_embedded_server(
    tmp_path: Path,
) -> None:
    """`curl -X PUT $URL/simcluster/v1/faults/NAME -d '{"enabled":true}'` (README) works against
    `serve --control-plane real` too: the proxy answers simcluster's control paths, never
    faulted, and the switch takes effect on the API traffic behind it."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with (
        ControlPlane(tmp_path / "cp", held_annotation=NEVER_READY) as cp,
        RealSimCluster(Coordinates.of(cp)) as sim,
    ):
        ca = cp.pki / "ca.crt"
        code, listed = _control(sim, ca, "GET", "/simcluster/v1/faults")
        assert code == 200 and listed["faults"]["api-flaky"] is False, listed
        sim.faults.flaky_share, sim.faults.flaky_actions = 1.0, ("500",)
        code, answer = _control(
            sim, ca, "PUT", "/simcluster/v1/faults/api-flaky", {"enabled": True}
        )
        assert (code, answer) == (200, {"name": "api-flaky", "enabled": True})
        failed = kubectl(sim.kubeconfig, "get", "namespaces", "--request-timeout=10s", check=False)
        assert failed.returncode != 0, failed.stdout
        code, settled = _control(sim, ca, "GET", "/simcluster/v1/settled")  # never faulted
        assert code == 200 and isinstance(settled["settled"], bool), settled
        code, answer = _control(
            sim, ca, "PUT", "/simcluster/v1/faults/api-flaky", {"enabled": False}
        )
        assert code == 200 and answer["enabled"] is False
        assert "default" in kubectl(sim.kubeconfig, "get", "namespaces").stdout
        code, answer = _control(sim, ca, "PUT", "/simcluster/v1/faults/meteor", {"enabled": True})
        assert code == 404 and "unknown fault" in answer["message"], answer
        code, answer = _control(sim, ca, "PUT", "/simcluster/v1/faults/no-sync", {"enabled": 1})
        assert code == 400 and answer["reason"] == "BadRequest", answer
        code, answer = _control(sim, ca, "POST", "/simcluster/v1/sync")
        assert code == 404 and "syncs no repo" in answer["message"], answer
        # without the proxy (a measurement's choice) the clients go direct and api-flaky is
        # refused rather than silently doing nothing
        direct = RealSimCluster(Coordinates.of(cp), proxy=False)
        assert direct.kubeconfig == cp.kubeconfig
        with pytest.raises(UsageError, match="needs the fault proxy"):
            direct.set_fault("api-flaky", True)
