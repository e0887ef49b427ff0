"""The webhook faults of the Helm flavour, switched on a running cluster and observed over HTTP.

``webhook-overlap``: pods come up on a surprising revision, with no error. ``dangling-validator``:
creating Istio config fails with the API server's webhook call error. ``cabundle-drift``: istiod
keeps rewriting caBundle; an Application that ignores it stays Synced, a naive one does not.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster import helmrepo
from tests.simcluster.test_helm_sync import api, injected, pods, proxy_of, sync_status

pytestmark = pytest.mark.slow  # each fault is switched on a running cluster and waited out


def two_revisions(repo: pathlib.Path) -> None:
    """1-26-4 serving demo-a, then 1-28-2 serving demo-b (a canary mid-way)."""
    helmrepo.argo_revisioned(repo)
    helmrepo.write(repo, "argocd/istiod-new.yaml", helmrepo.argo_chart_app(
        "istiod-1-28-2", "istiod", "1.28.2",
        helm={"releaseName": "istiod-1-28-2", "values": "revision: 1-28-2\n"},
        ignore=helmrepo.WEBHOOK_IGNORES))  # fmt: skip
    helmrepo.commit(repo, "control plane 1-28-2")


def live_pods(core: client.CoreV1Api, ns: str) -> list[dict]:  # type: ignore[type-arg]
    """The namespace's pods that are not terminating."""
    return [p for p in pods(core, ns) if not p["metadata"].get("deletion_timestamp")]


def restart(core: client.CoreV1Api, ns: str) -> list[dict]:  # type: ignore[type-arg]
    """Delete the namespace's one pod; its ReplicaSet's replacement, once injected."""
    (old,) = wait_for(
        lambda: live_pods(core, ns), lambda ps: len(ps) == 1, what="one live pod in the namespace"
    )
    core.delete_namespaced_pod(old["metadata"]["name"], ns, grace_period_seconds=0)
    return wait_for(  # type: ignore[no-any-return]
        lambda: [
            p for p in live_pods(core, ns) if p["metadata"]["name"] != old["metadata"]["name"]
        ],
        lambda ps: len(ps) == 1 and bool(proxy_of(ps[0])),
        what="its replacement pod, injected",
    )


def test_webhook_overlap_puts_pods_on_the_old_revision_without_an_error(
    tmp_path: pathlib.Path,
) -> None:
    repo = tmp_path / "repo"
    two_revisions(repo)
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        helmrepo.write(repo, "apps/namespaces.yaml",
                       helmrepo.ns_labels("demo-a", {"istio.io/rev": "1-26-4"}),
                       helmrepo.ns_labels("demo-b", {"istio.io/rev": "1-28-2"}))  # fmt: skip
        helmrepo.commit(repo, "move demo-b")
        sim.sync_now()
        sim.wait_settled()
        core = client.CoreV1Api(api(sim))
        (moved,) = restart(core, "demo-b")
        assert injected(moved, "1-28-2", "1.28.2")
        sim.set_fault("webhook-overlap", True)
        adm = client.AdmissionregistrationV1Api(api(sim))
        overlap = wait_for(
            lambda: [m for m in adm.list_mutating_webhook_configuration().items if m.metadata.name == "istio-sidecar-injector-overlap"],
            lambda ms: len(ms) == 1, what='the overlap injector')  # fmt: skip
        assert overlap and overlap[0].webhooks[0].client_config.service.name == "istiod-1-26-4"
        (again,) = restart(core, "demo-b")
        assert injected(again, "1-26-4", "1.26.4"), again["metadata"]["annotations"]
        assert again["status"]["phase"] in ("Pending", "Running")
        sim.set_fault("webhook-overlap", False)
        assert wait_for(
            lambda: [m.metadata.name for m in adm.list_mutating_webhook_configuration().items],
            lambda names: "istio-sidecar-injector-overlap" not in names,
            what="the overlap injector gone",
        ) == ["istio-sidecar-injector-1-26-4", "istio-sidecar-injector-1-28-2"]


VIRTUAL_SERVICE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "app-a"},
    "spec": {"hosts": ["app-a"], "http": [{"route": [{"destination": {"host": "app-a"}}]}]},
}


def create_vs(sim: SimCluster, name: str) -> None:
    body = {**VIRTUAL_SERVICE, "metadata": {"name": name}}
    client.CustomObjectsApi(api(sim)).create_namespaced_custom_object(
        "networking.istio.io", "v1", "demo-a", "virtualservices", body
    )


def test_dangling_validator_refuses_istio_config_as_a_real_api_server(
    tmp_path: pathlib.Path,
) -> None:
    repo = tmp_path / "repo"
    helmrepo.argo_revisioned(repo)
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        adm = client.AdmissionregistrationV1Api(api(sim))
        wait_for(
            lambda: adm.read_validating_webhook_configuration("istiod-default-validator"),
            lambda v: v.webhooks[0].failure_policy == "Fail",
            what="the default validator switched to Fail",
        )
        create_vs(sim, "before")
        sim.set_fault("dangling-validator", True)
        validator = wait_for(
            lambda: adm.read_validating_webhook_configuration("istiod-default-validator"),
            lambda v: v.webhooks[0].client_config.service.name == "istiod-retired",
            what="the default validator dangling",
        )
        assert validator.webhooks[0].client_config.service.name == "istiod-retired"
        with pytest.raises(ApiException) as err:
            create_vs(sim, "during")
        assert err.value.status == 500
        status = json.loads(err.value.body)
        assert status["reason"] == "InternalError"
        assert status["message"] == (
            'Internal error occurred: failed calling webhook "validation.istio.io": failed to call '
            'webhook: Post "https://istiod-retired.istio-system.svc:443/validate?timeout=10s": '
            'service "istiod-retired" not found'
        )
        for attempt in range(3):  # a sync writes the chart's validator; the fault still holds
            sim.sync_now()
            after_sync = adm.read_validating_webhook_configuration("istiod-default-validator")
            assert after_sync.webhooks[0].client_config.service.name == "istiod-retired"
            assert after_sync.webhooks[0].failure_policy == "Fail"
            with pytest.raises(ApiException):
                create_vs(sim, f"after-sync-{attempt}")
        if shutil.which("kubectl"):
            done = subprocess.run(
                ["kubectl", "--kubeconfig", str(sim.kubeconfig), "apply", "-n", "demo-a", "-f", "-"],
                input=json.dumps({**VIRTUAL_SERVICE, "metadata": {"name": "by-kubectl"}}),
                capture_output=True, text=True,
            )  # fmt: skip
            assert done.returncode == 1
            assert done.stderr.startswith(
                'Error from server (InternalError): error when creating "STDIN": Internal error '
                'occurred: failed calling webhook "validation.istio.io"'
            ), done.stderr
        sim.set_fault("dangling-validator", False)
        wait_for(
            lambda: adm.read_validating_webhook_configuration("istiod-default-validator"),
            lambda v: v.webhooks[0].client_config.service.name == "istiod-1-26-4",
            what="the default validator restored",
        )
        create_vs(sim, "after")


def test_cabundle_drift_keeps_rewriting_and_only_ignoring_applications_stay_synced(
    tmp_path: pathlib.Path,
) -> None:
    repo = tmp_path / "repo"
    helmrepo.argo_revisioned(repo)
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        adm = client.AdmissionregistrationV1Api(api(sim))

        def bundle() -> str:
            mwc = adm.read_mutating_webhook_configuration("istio-sidecar-injector-1-26-4")
            return str(mwc.webhooks[0].client_config.ca_bundle or "")

        first = wait_for(bundle, bool, what="a caBundle from istiod")
        sim.sync_now()  # without the fault, a sync and istiod agree on one bundle: no churn
        sim.wait_settled()
        assert first and bundle() == first
        sim.set_fault("cabundle-drift", True)
        second = wait_for(bundle, lambda b: b != first, what="a rewritten caBundle")
        assert second != first
        assert wait_for(
            bundle, lambda b: b not in (first, second), what="another rewritten caBundle"
        ) not in (first, second)
        assert sync_status(sim, "istiod-1-26-4") == "Synced"  # its ignoreDifferences cover it
        assert sync_status(sim, "istio-base") == "OutOfSync"  # the default validator, no ignores
