"""Each Helm check fails on the bad state it exists for, naming the object and the fix.

Bad states are made the way they happen: a simcluster fault, or a human with kubectl. A live
edit the GitOps engine would undo on its next sync is made with the engine stopped (the
`no-sync` fault: a paused Application or suspended HelmRelease), so the state stays; where
self-heal is part of the story (a recreated Service) the engine runs. Every test first shows the
check passing on the same cluster, so it can fail for the right reason only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.polling import wait_for
from tests.verifier.helmsim import HelmFlow, helm_cluster

pytestmark = pytest.mark.slow

FINALIZER_PATCH = (
    """kubectl patch application -n argocd istiod --type=merge -p '{"metadata":"""
    """{"finalizers":["resources-finalizer.argocd.argoproj.io"]}}'"""
)


def apply(flow: HelmFlow, tmp_path: Path, text: str) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(text, encoding="utf-8")
    flow.kubectl("apply", "-f", str(manifest))


def test_an_injector_deleted_by_hand_is_named(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "flux", "plain") as flow:
        flow.promote_to("control-plane")
        assert flow.verify("stage", "1").check("control-planes")["status"] == "passed"
        flow.sim.set_fault("no-sync", True)
        flow.kubectl("delete", "mutatingwebhookconfiguration", "istio-sidecar-injector-1-28-2")
        r = flow.verify("stage", "1", timeout=2)
        assert r.exit_code == 1
        assert "no injector webhook of revision 1-28-2" in r.message("control-planes")


def test_an_istiod_scaled_to_zero_is_not_available(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "flux", "plain") as flow:
        flow.promote_to("control-plane")
        flow.sim.set_fault("no-sync", True)
        flow.kubectl("scale", "deployment", "-n", "istio-system", "istiod-1-28-2", "--replicas=0")
        r = flow.verify("stage", "1", timeout=2)
        assert r.exit_code == 1
        assert "istiod istio-system/istiod-1-28-2 (revision 1-28-2) scaled to 0" in r.message(
            "control-planes"
        )


def test_a_tag_relabelled_by_hand_is_named(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "flux", "tagged") as flow:
        flow.promote_to("tags-take")
        assert flow.verify("stage", "7").check("revision-tags")["status"] == "passed"
        flow.sim.set_fault("no-sync", True)
        flow.kubectl(
            "label", "mutatingwebhookconfiguration", "istio-revision-tag-prod-stable",
            "istio.io/rev=1-26-4", "--overwrite",
        )  # fmt: skip
        r = flow.verify("stage", "7", timeout=2)
        assert r.exit_code == 1
        assert (
            "tag prod-stable (istio-revision-tag-prod-stable) calls 1-28-2 and is labelled "
            "istio.io/rev=1-26-4; expected 1-28-2"
        ) in r.message("revision-tags")


DEFAULT_TAG = """apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-revision-tag-default
  labels: {app: sidecar-injector, istio.io/rev: default, istio.io/tag: default}
webhooks:
  - name: namespace.sidecar-injector.istio.io
    clientConfig:
      service: {name: istiod, namespace: istio-system, path: /inject, port: 443}
    namespaceSelector:
      matchExpressions: [{key: istio-injection, operator: In, values: [enabled]}]
    rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
    sideEffects: None
    admissionReviewVersions: [v1]
    failurePolicy: Fail
"""


def test_a_default_tag_beside_the_non_revisioned_injector_is_double_injection(
    tmp_path: Path,
) -> None:
    # `istioctl tag set default --revision default` by hand, after defaultRevision moved: the
    # tag and the old injector both match istio-injection=enabled, and the two defaults disagree
    with helm_cluster(tmp_path, "flux", "plain") as flow:
        flow.promote_to("namespaces-1")
        assert flow.verify("stage", "2").check("webhooks")["status"] == "passed"
        apply(flow, tmp_path, DEFAULT_TAG)
        r = flow.verify("stage", "2", timeout=2)
        assert r.exit_code == 1
        msg = r.message("webhooks")
        assert (
            "double injection in demo-b: MutatingWebhookConfigurations "
            "istio-revision-tag-default, istio-sidecar-injector all match its pods"
        ) in msg
        assert "delete the one that should not inject there" in msg
        # the plan gives the new release a default tag at cleanup, not before
        assert (
            "tag default should have no webhook after this stage, but istio-revision-tag-default "
            "still calls default"
        ) in r.message("revision-tags")
        flow.kubectl("delete", "mutatingwebhookconfiguration", "istio-revision-tag-default")
        flow.promote_to("default-revision")  # once defaultRevision moves, the two disagree
        apply(flow, tmp_path, DEFAULT_TAG)
        r = flow.verify("stage", "6", timeout=2)
        assert (
            "the default tag points at default but base's defaultRevision "
            "(istiod-default-validator) calls 1-28-2"
        ) in r.message("webhooks")


def test_webhook_overlap_is_caught_by_the_next_namespace_gate(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "argocd", "plain") as flow:
        flow.promote_to("namespaces-1")
        flow.sim.set_fault("webhook-overlap", True)
        flow.open_pr()
        gate = flow.verify("gate", timeout=3)
        assert gate.exit_code == 1
        msg = gate.message("webhooks")
        assert "double injection in demo-a" in msg and "istio-sidecar-injector-overlap" in msg


def test_a_dangling_validator_is_caught_by_the_next_gate(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "argocd", "plain") as flow:
        flow.promote_to("control-plane")
        flow.sim.set_fault("dangling-validator", True)
        flow.open_pr()
        gate = flow.verify("gate", timeout=3)
        assert gate.exit_code == 1
        assert (
            "ValidatingWebhookConfiguration istiod-default-validator (webhook "
            "validation.istio.io) calls Service istio-system/istiod-retired, which does not "
            "exist (every Istio config change is refused); set base's defaultRevision to a "
            "revision that runs"
        ) in gate.message("webhooks")


def test_a_cabundle_that_keeps_changing_stops_the_gate_though_argo_cd_ignores_it(
    tmp_path: Path,
) -> None:
    # istiod rewrites caBundle every second: the Applications that ignore the field stay
    # Synced, but a webhook whose CA changed twice in one gate run is named until the deadline
    with helm_cluster(tmp_path, "argocd", "plain") as flow:
        flow.open_pr()
        assert flow.verify("gate").exit_code == 0  # istiod's one write of its root is no churn
        flow.sim.set_fault("cabundle-drift", True)

        def bundle() -> str:
            return flow.kubectl(
                "get", "mutatingwebhookconfiguration", "istio-sidecar-injector",
                "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}",
            )  # fmt: skip

        first = bundle()
        wait_for(bundle, lambda b: b != first, what="istiod to rewrite caBundle")
        gate = flow.verify("gate", timeout=60)  # generous: evaluations are slow under load
        assert gate.exit_code == 1, gate.reason
        assert "changed during this run: something keeps rewriting istiod's CA bundle" in (
            gate.reason
        )
        assert "MutatingWebhookConfiguration istio-sidecar-injector/" in gate.reason
        # Argo CD itself still calls the Application Synced (the report may end before the
        # gate's GitOps check runs again, so ask the cluster)
        synced = flow.kubectl(
            "get", "application", "-n", "argocd", "istiod", "-o", "jsonpath={.status.sync.status}"
        )  # fmt: skip
        assert synced == "Synced"


def test_a_pod_not_restarted_since_its_namespace_moved_is_named(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "argocd", "plain") as flow:
        flow.promote_to("control-plane")
        flow.kubectl("run", "debug", "-n", "demo-a", "--image=k8s.gcr.io/echoserver:1.10")
        flow.sim.wait_settled(20)
        flow.promote_to("namespaces-1")
        r = flow.verify("stage", "2", timeout=2)
        assert r.exit_code == 1
        assert "1 pod(s) not restarted since their namespace moved to 1-28-2: demo-a/debug" in (
            r.message("data-plane")
        )


def test_an_injection_record_that_disagrees_with_the_proxy_fails_at_once(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "argocd", "plain") as flow:
        flow.promote_to("namespaces-1")
        pod = flow.kubectl("get", "pods", "-n", "demo-a", "-o", "name").split()[0]
        flow.kubectl("annotate", "-n", "demo-a", pod, "istio.io/rev=default", "--overwrite")
        r = flow.verify("stage", "2", timeout=20)
        assert r.exit_code == 1 and r.check("data-plane")["status"] == "failed"
        assert (
            "the injector recorded istio.io/rev=default and sidecar.istio.io/status revision "
            "1-28-2, but its proxy talks to revision 1-28-2"
        ) in r.message("data-plane")


def test_a_recreated_gateway_service_fails_against_the_baseline(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "argocd", "plain") as flow:
        flow.promote_to("control-plane")
        before = flow.verify("stage", "1")
        assert before.check("gateways")["status"] == "passed"
        baseline = tmp_path / "baseline.json"
        baseline.write_text(json.dumps(before.data), encoding="utf-8")
        flow.kubectl("delete", "service", "-n", "istio-ingress", "istio-ingressgateway")
        flow.pipeline.sync()  # Argo CD's self-heal makes it again: a new UID, a new address
        r = flow.verify("stage", "1", "--baseline", str(baseline), timeout=20)
        assert r.exit_code == 1 and r.check("gateways")["status"] == "failed"
        assert (
            "Service istio-ingress/istio-ingressgateway of gateway "
            "istio-ingress/istio-ingressgateway was recreated: uid"
        ) in r.message("gateways")


def test_the_cleanup_gate_stops_for_an_application_that_would_orphan_istiod(
    tmp_path: Path,
) -> None:
    with helm_cluster(tmp_path, "argocd", "plain", finalizer=False) as flow:
        flow.promote_to("control-plane")  # which writes the finalizer into the old Application
        live = "jsonpath={.metadata.finalizers}"
        assert "resources-finalizer" in flow.kubectl(
            "get", "app", "-n", "argocd", "istiod", "-o", live
        )
        flow.promote_to("default-revision")
        flow.sim.set_fault("no-sync", True)  # else the next sync puts git's finalizer back
        flow.kubectl(  # taken off by hand: Argo CD would orphan the old istiod
            "patch", "application", "-n", "argocd", "istiod", "--type=merge",
            '-p={"metadata":{"finalizers":null}}',
        )  # fmt: skip
        flow.open_pr()
        stopped = flow.verify("gate", timeout=3)
        assert stopped.exit_code == 1
        msg = stopped.message("cleanup-safety")
        assert "Application argocd/istiod has no resources-finalizer.argocd.argoproj.io" in msg
        assert FINALIZER_PATCH in msg and "in argocd/istiod.yaml (metadata.finalizers)" in msg
        flow.kubectl(
            "patch", "application", "-n", "argocd", "istiod", "--type=merge",
            '-p={"metadata":{"finalizers":["resources-finalizer.argocd.argoproj.io"]}}',
        )  # fmt: skip
        flow.sim.set_fault("no-sync", False)
        assert flow.verify("gate").exit_code == 0
        flow.merge()
        assert flow.verify("stage", "7").exit_code == 0  # old istiod and its webhooks gone


def test_a_meshed_namespace_added_before_cleanup_stops_the_cleanup_gate(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "argocd", "plain") as flow:
        flow.promote_to("default-revision")
        flow.kubectl("create", "namespace", "late")
        flow.kubectl("label", "namespace", "late", "istio-injection=enabled")
        flow.open_pr()
        gate = flow.verify("gate", timeout=3)
        assert gate.exit_code == 1
        assert "meshed namespace(s) not in the plan: late" in gate.message("namespace-labels")
        assert (
            "namespace(s) whose next pod the old revision default would inject: late"
            in gate.message("cleanup-safety")
        )


def test_a_namespace_left_on_a_dropped_tag_is_named(tmp_path: Path) -> None:
    # between tags-drop and tags-take the stable tag has no webhook: a namespace labelled with it
    # (added by hand after init: the waves moved every planned one) starts pods without sidecars
    with helm_cluster(tmp_path, "flux", "tagged") as flow:
        flow.promote_to("tags-drop")
        index = str(flow.pipeline.plan().applied_index)
        assert flow.verify("stage", index).check("revision-tags")["status"] == "passed"
        flow.kubectl("create", "namespace", "late")
        flow.kubectl("label", "namespace", "late", "istio.io/rev=prod-stable")
        r = flow.verify("stage", index, timeout=2)
        assert r.exit_code == 1
        assert (
            "namespace late is labelled istio.io/rev=prod-stable, but tag prod-stable has no "
            "webhook after this stage"
        ) in r.message("revision-tags")
