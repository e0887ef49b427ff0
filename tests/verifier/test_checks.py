"""The pure checks on hand-built snapshots: pass when the cluster matches the plan, and say why not.

These cover logic only; tests/verifier/test_sim_*.py run the same checks against simcluster.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.verifier import builders as B
from verifier.checks import (
    REGISTRY,
    Phase,
    checks_for,
    cleanup,
    connectivity,
    controlplane,
    dataplane,
    gatewayroutes,
    gateways,
    gitops,
    namespaces,
)
from verifier.execresult import ExecResult, exit_code_of
from verifier.expectation import expect_stage
from verifier.result import CheckResult, Status
from verifier.review import Base, Review
from verifier.snapshot import GitOpsRef


@pytest.mark.parametrize("stage", [0, 1, 2, 3, 4, 5])
def test_every_check_passes_on_a_cluster_that_matches_the_plan(stage: int) -> None:
    expect = expect_stage(B.plan(), stage, with_next_preconditions=True)
    snap = B.healthy(stage)
    results = [c.evaluate(snap, expect) for c in checks_for(expect, Phase.SNAPSHOT)]
    assert [(r.name, r.status) for r in results] == [(r.name, Status.PASSED) for r in results], [
        r.message for r in results
    ]
    assert len(results) >= 3


def test_the_registry_names_each_check_once_and_each_result_carries_that_name() -> None:
    # a flavour's check may share its name with the other flavour's (`gateways` judges
    # MeshGateways or gateway releases); a plan is judged by each name once
    snap = B.healthy(4)
    target = gitops.SyncTarget(SHA2, "stage 4", {SHA2: True})
    reviewed = Review(Base(SHA2, "merge-base of origin/main and HEAD"), B.plan(4), "next")
    expect = replace(
        expect_stage(B.plan(), 4, with_next_preconditions=True), sync=target, review=reviewed
    )
    names = [c.name for c in checks_for(expect)]
    assert len(set(names)) == len(names) and set(names) < {c.name for c in REGISTRY}
    probed = replace(snap, probes=[])
    assert [c.evaluate(probed, expect).name for c in checks_for(expect)] == names


def test_which_stages_a_check_judges_is_the_checks_own_answer() -> None:
    def judged(expect: Any) -> set[str]:
        return {c.name for c in checks_for(expect)}

    every = {controlplane.NAME, dataplane.NAME, namespaces.NAME, gateways.NAME, connectivity.NAME}
    # probes through the gateway from the gateways stage (2) on, not before
    assert judged(expect_stage(B.plan(), 1)) == every
    assert judged(expect_stage(B.plan(), 2)) == every | {gatewayroutes.NAME}
    gate = expect_stage(B.plan(), 4, with_next_preconditions=True)  # the cleanup PR's gate
    assert judged(gate) == every | {cleanup.NAME, gatewayroutes.NAME}
    synced = replace(gate, sync=gitops.SyncTarget(SHA2, "stage 4"))
    assert judged(synced) == every | {cleanup.NAME, gitops.NAME, gatewayroutes.NAME}
    assert [c.name for c in checks_for(gate, Phase.PROBES)] == [
        connectivity.NAME,
        gatewayroutes.NAME,
    ]


def test_connectivity_waits_until_the_gate_has_probed() -> None:
    expect = expect_stage(B.plan(), 3)
    (conn,) = [c for c in checks_for(expect, Phase.PROBES) if c.name == connectivity.NAME]
    waiting = conn.evaluate(B.healthy(3), expect)
    assert waiting.status is Status.PENDING
    assert waiting.message == "waiting for the data plane before probing"
    # no probes is not a pass by default: nothing would show that traffic still flows
    none = conn.evaluate(replace(B.healthy(3), probes=[]), expect)
    assert none.status is Status.PENDING and "--allow-no-probes" in none.message
    allowed = replace(expect, allow_no_probes=True)
    assert conn.evaluate(replace(B.healthy(3), probes=[]), allowed).status is Status.PASSED


def test_an_endpoint_without_a_sidecar_behind_the_target_is_named() -> None:
    expect = expect_stage(B.plan(), 3)
    plain = B.pod("demo-b", "app-b-plain-x7", None, app="app-b")
    snap = B.healthy(3, pods=[*B.healthy(3).pods, plain])
    endpoints = {
        "subsets": [
            {
                "addresses": [
                    {"targetRef": {"kind": "Pod", "name": n}}
                    for n in ("app-b-abc12-x2", "app-b-plain-x7")
                ]
            }
        ]
    }
    snap = replace(snap, endpoints={("demo-b", "app-b"): endpoints})
    probes = connectivity.plan_probes(snap, expect)
    a_to_b = next(p for p in probes if p.check.target_service == "app-b")
    assert "without a sidecar, which answer without mTLS: demo-b/app-b-plain-x7" in a_to_b.problem
    assert a_to_b.endpoints == ("app-b-abc12-x2", "app-b-plain-x7")


def test_pods_left_on_the_old_revision_are_pending_and_named() -> None:
    expect = expect_stage(B.plan(), 3)
    snap = B.healthy(2)  # namespaces-1 not rolled out yet
    r = dataplane.check(snap, expect)
    assert r.status is Status.PENDING
    assert "demo-a/app-a-abc12-x1 on istio-sample.istio-system proxy 1.6.14" in r.message
    assert "expected istio-sample-v17x.istio-system proxy 1.7.7" in r.message


def test_native_sidecar_in_init_containers_counts_as_the_proxy() -> None:
    expect = expect_stage(B.plan(), 3)
    pods = [
        B.pod("demo-a", "app-a-n1-x1", B.NEW, template="n1", native=True),
        B.pod("demo-b", "app-b-abc12-x2", B.OLD),
        B.gateway_pod(B.NEW),
    ]
    r = dataplane.check(B.healthy(3, pods=pods), expect)
    assert r.status is Status.PASSED, r.message
    assert any(e.get("pod") == "demo-a/app-a-n1-x1" and e["version"] == "1.7.7" for e in r.evidence)


def test_rollout_with_two_generations_is_pending() -> None:
    expect = expect_stage(B.plan(), 3)
    pods = [
        B.pod("demo-a", "app-a-n1-x1", B.NEW, template="n1"),
        B.pod("demo-a", "app-a-abc12-x9", B.NEW, template="abc12"),
        B.pod("demo-b", "app-b-abc12-x2", B.OLD),
    ]
    r = dataplane.check(B.healthy(3, pods=pods), expect)
    assert r.status is Status.PENDING
    assert "Deployment demo-a/app-a rollout incomplete: pods of 2 generations" in r.message


def test_stuck_new_pod_is_pending_but_crashloop_fails_at_once() -> None:
    expect = expect_stage(B.plan(), 3)
    stuck = [
        B.pod("demo-a", "app-a-n1-x1", B.NEW, template="n1", ready=False),
        B.pod("demo-b", "app-b-abc12-x2", B.OLD),
    ]
    assert dataplane.check(B.healthy(3, pods=stuck), expect).status is Status.PENDING
    crash = [
        B.pod(
            "demo-a", "app-a-n1-x1", B.NEW, template="n1", ready=False, waiting="CrashLoopBackOff"
        ),
        B.pod("demo-b", "app-b-abc12-x2", B.OLD),
    ]
    r = dataplane.check(B.healthy(3, pods=crash), expect)
    assert r.status is Status.FAILED
    assert "demo-a/app-a-n1-x1 echo-service: CrashLoopBackOff" in r.message


def test_proxy_newer_than_its_control_plane_breaks_the_skew_policy() -> None:
    expect = expect_stage(B.plan(), 2)
    pods = [
        B.pod("demo-a", "app-a-abc12-x1", B.OLD, version="1.7.7"),
        B.pod("demo-b", "app-b-abc12-x2", B.OLD),
    ]
    r = dataplane.check(B.healthy(2, pods=pods), expect)
    assert r.status is Status.FAILED
    assert "skew: proxy 1.7.7 is newer than its control plane istio-sample 1.6.14" in r.message


def test_unmanaged_pods_are_listed_as_not_restartable_by_a_commit() -> None:
    expect = expect_stage(B.plan(), 3)
    pods = [
        B.pod("demo-a", "app-a-n1-x1", B.NEW, template="n1"),
        B.pod("demo-a", "debug", B.OLD, owner_kind=""),
        B.pod("demo-b", "app-b-abc12-x2", B.OLD),
    ]
    r = dataplane.check(B.healthy(3, pods=pods), expect)
    assert r.status is Status.PENDING
    assert "demo-a/debug on istio-sample.istio-system" in r.message
    assert "cannot be restarted by a commit" in r.message
    assert {"cannotBeRestartedByACommit": ["demo-a/debug"]} in r.evidence


def test_rolled_back_namespace_is_expected_on_the_old_revision() -> None:
    p = B.plan(applied=3, rolled_back=("demo-a",))
    r = dataplane.check(B.healthy(2, p), expect_stage(p, 3))
    assert r.status is Status.PASSED, r.message


def test_empty_cluster_is_never_a_pass() -> None:
    r = dataplane.check(B.healthy(0, pods=[]), expect_stage(B.plan(), 0))
    assert r.status is Status.PENDING
    assert "Deployment demo-a/app-a has no pods" in r.message


def test_control_plane_reconcile_failed_fails_and_missing_operator_is_named() -> None:
    expect = expect_stage(B.plan(), 1)
    snap = B.healthy(1)
    istios = dict(snap.istios)
    istios[("istio-system", "istio-sample-v17x")] = B.istio(
        B.NEW, "ReconcileFailed", "there is already an another unrevisioned control plane"
    )
    r = controlplane.check(replace(snap, istios=istios), expect)
    assert r.status is Status.FAILED and "ReconcileFailed: there is already" in r.message

    operator = B.pod(
        "istio-system",
        "istio-operator-v16x-0",
        None,
        app="istio-operator-v16x",
        owner_kind="StatefulSet",
    )
    operator["spec"]["containers"] = [
        {"name": "manager", "image": "ghcr.io/banzaicloud/istio-operator:0.6.12"}
    ]
    istios[("istio-system", "istio-sample-v17x")] = B.istio(B.NEW, "")
    r = controlplane.check(replace(snap, istios=istios, pods=[*snap.pods, operator]), expect)
    assert r.status is Status.PENDING
    assert (
        "no running operator supports Istio 1.7.7; running: istio-operator-v16x-0 0.6.12"
        in r.message
    )


def test_control_plane_that_should_be_gone_is_pending_until_deleted() -> None:
    expect = expect_stage(B.plan(), 5)
    r = controlplane.check(B.healthy(4), expect)
    assert r.status is Status.PENDING
    assert "Istio istio-system/istio-sample still exists" in r.message
    assert controlplane.check(B.healthy(5), expect).status is Status.PASSED


def test_gateway_still_on_old_control_plane_is_pending() -> None:
    r = gateways.check(B.healthy(1), expect_stage(B.plan(), 2))
    assert r.status is Status.PENDING
    assert "bound to istio-sample, expected istio-sample-v17x" in r.message
    assert "proxy 1.6.14, expected istio-sample-v17x.istio-system proxy 1.7.7" in r.message


def test_gateway_service_younger_than_the_canary_control_plane_was_recreated() -> None:
    """MeshGateway and Service re-created together (GC of the old CR): only the canary's age tells."""
    expect = expect_stage(B.plan(), 5)
    canary = B.istio(B.NEW)
    canary["metadata"]["creationTimestamp"] = "2026-01-01T00:10:00Z"
    istios = {(B.NEW.namespace, B.NEW.name): canary}
    both_new = B.healthy(
        5,
        istios=istios,
        meshgateways={
            ("istio-system", "istio-ingressgateway"): B.mgw(B.NEW, created="2026-01-01T00:20:00Z")
        },
        services={
            ("istio-system", "istio-ingressgateway"): B.service("uid-2", "2026-01-01T00:20:01Z")
        },
    )
    r = gateways.check(both_new, expect)
    assert r.status is Status.FAILED
    assert "was recreated during the upgrade: created 2026-01-01T00:20:01Z" in r.message
    assert "after the new control plane istio-sample-v17x (2026-01-01T00:10:00Z)" in r.message

    kept = B.healthy(5, istios=istios)  # the Service dates from before the canary existed
    assert gateways.check(kept, expect).status is Status.PASSED


def test_recreated_gateway_service_fails_from_cluster_evidence_or_baseline() -> None:
    expect = expect_stage(B.plan(), 2)
    late = B.healthy(
        2,
        services={
            ("istio-system", "istio-ingressgateway"): B.service("uid-2", "2026-01-01T01:00:00Z")
        },
    )
    r = gateways.check(late, expect)
    assert r.status is Status.FAILED
    assert (
        "Service istio-system/istio-ingressgateway was recreated: created 3600s after its MeshGateway"
        in r.message
    )

    baseline = {"istio-system/istio-ingressgateway": {"uid": "uid-1", "address": "192.0.2.10"}}
    r = gateways.check(B.healthy(2), expect, baseline)
    assert r.status is Status.FAILED and "uid uid-1 -> uid-svc" in r.message
    (registered,) = [c for c in checks_for(expect) if c.name == gateways.NAME]
    from_expectation = registered.evaluate(B.healthy(2), replace(expect, baseline=baseline))
    assert from_expectation == r
    same = {"istio-system/istio-ingressgateway": {"uid": "uid-svc", "address": "192.0.2.10"}}
    assert gateways.check(B.healthy(2), expect, same).status is Status.PASSED


def test_cleanup_stops_on_a_gateway_owned_by_the_old_cr_and_names_the_command() -> None:
    expect = expect_stage(B.plan(), 4, with_next_preconditions=True)
    assert expect.cleanup_safety
    owned = {("istio-system", "istio-ingressgateway"): B.mgw(B.NEW, owned_by=B.OLD)}
    r = cleanup.check(B.healthy(4, meshgateways=owned), expect)
    assert r.status is Status.FAILED
    assert (
        "MeshGateway istio-system/istio-ingressgateway is owned by Istio istio-system/istio-sample"
        in r.message
    )
    assert (
        "kubectl patch mgw -n istio-system istio-ingressgateway --type=json "
        """-p='[{"op":"remove","path":"/metadata/ownerReferences"}]'"""
    ) in r.message


def test_cleanup_lists_pods_and_namespaces_still_on_the_old_revision() -> None:
    expect = expect_stage(B.plan(), 3, with_next_preconditions=False)
    assert not expect.cleanup_safety
    expect = replace(expect, cleanup_safety=True)
    ns = {"metadata": {"name": "demo-b", "labels": {"istio-injection": "enabled"}}}
    r = cleanup.check(B.healthy(3, old_namespaces=[ns]), expect)
    assert r.status is Status.PENDING
    assert "1 pod(s) still on istio-sample.istio-system: demo-b/app-b-abc12-x2" in r.message
    assert "labelled for the old control plane: demo-b" in r.message


SHA1, SHA2 = "1" * 40, "2" * 40


def _app(rev: str, **status: object) -> dict[str, object]:
    base: dict[str, object] = {
        "operationState": {
            "phase": "Succeeded",
            "finishedAt": "2026-01-01T00:00:05Z",
            "syncResult": {"revision": rev},
        },
        "reconciledAt": "2026-01-01T00:00:06Z",
        "health": {"status": "Healthy"},
        "sync": {"status": "Synced", "revision": SHA2},
    }
    base.update(status)
    return {"metadata": {"name": "demo-apps"}, "spec": {"source": {"path": "apps"}}, "status": base}


def test_gitops_requires_the_applied_revision_to_contain_the_stage_commit() -> None:
    ref = GitOpsRef("Application", "argocd", "demo-apps")
    target = gitops.SyncTarget(SHA2, "stage 2", {SHA1: False, SHA2: True})
    ok = gitops.check(B.healthy(2, gitops={ref: _app(SHA2)}), target)
    assert ok.status is Status.PASSED, ok.message
    # sync.revision already names the new commit, but the applied one does not contain it.
    r = gitops.check(B.healthy(2, gitops={ref: _app(SHA1)}), target)
    assert r.status is Status.PENDING and "does not contain stage 2" in r.message


def test_gitops_does_not_trust_health_reconciled_before_the_sync_finished() -> None:
    ref = GitOpsRef("Application", "argocd", "demo-apps")
    target = gitops.SyncTarget(SHA2, "stage 2", {SHA2: True})
    stale = _app(SHA2, reconciledAt="2026-01-01T00:00:01Z")
    r = gitops.check(B.healthy(2, gitops={ref: stale}), target)
    assert r.status is Status.PENDING and "reconciledAt < finishedAt" in r.message
    running = _app(SHA2, operationState={"phase": "Running", "syncResult": {"revision": SHA2}})
    assert "operation Running" in gitops.check(B.healthy(2, gitops={ref: running}), target).message


def test_flux_kustomization_revision_formats_and_readiness() -> None:
    ref = GitOpsRef("Kustomization", "flux-system", "apps")
    for raw in (f"main@sha1:{SHA2}", f"main/{SHA2}"):
        ks = {
            "metadata": {"generation": 2},
            "status": {
                "lastAppliedRevision": raw,
                "observedGeneration": 2,
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}
                ],
            },
        }
        assert gitops.applied_revision(ref, ks) == SHA2
        r = gitops.check(
            B.healthy(2, gitops={ref: ks}), gitops.SyncTarget(SHA2, "stage 2", {SHA2: True})
        )
        assert r.status is Status.PASSED, r.message


def _helm_release(generation: int, observed: int, **conds: str) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "status": {
            "observedGeneration": observed,
            "conditions": [
                {"type": t, "status": v, "reason": f"{t}Reason", "message": f"{t} says"}
                for t, v in conds.items()
            ],
            "history": [
                {"chartVersion": "0.0.88", "name": "op", "version": 1, "status": "deployed"}
            ],
        },
    }


def test_flux_helmrelease_is_judged_without_a_commit_ready_current_and_not_stalled() -> None:
    ks_ref = GitOpsRef("Kustomization", "flux-system", "infrastructure")
    ks = {
        "metadata": {"generation": 1},
        "status": {
            "lastAppliedRevision": f"main@sha1:{SHA2}",
            "observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    ref = GitOpsRef("HelmRelease", "istio-system", "istio-operator-v17x")
    target = gitops.SyncTarget(SHA2, "stage 2", {SHA2: True})

    def judge(hr: dict[str, Any]) -> CheckResult:
        return gitops.check(B.healthy(2, gitops={ks_ref: ks, ref: hr}), target)

    ok = judge(_helm_release(3, 3, Ready="True", Released="True"))
    assert ok.status is Status.PASSED, ok.message
    assert gitops.applied_revision(ref, _helm_release(1, 1)) == "0.0.88"
    assert {e.get("chartVersion") for e in ok.evidence} == {None, "0.0.88"}

    old = judge(_helm_release(3, 2, Ready="True"))
    assert old.status is Status.PENDING and "observedGeneration 2 != generation 3" in old.message
    busy = judge(_helm_release(3, 3, Ready="Unknown", Reconciling="True"))
    assert busy.status is Status.PENDING and "not Ready (ReadyReason: Ready says)" in busy.message
    failed = judge(_helm_release(3, 3, Ready="False", Released="False"))
    assert "Released=False (ReleasedReason: Released says)" in failed.message
    stalled = judge(_helm_release(3, 3, Ready="False", Stalled="True"))
    assert stalled.status is Status.FAILED
    assert stalled.message == (
        "HelmRelease istio-system/istio-operator-v17x is Stalled (StalledReason: Stalled says)"
    )
    missing = gitops.check(B.healthy(2, gitops={ks_ref: ks, ref: None}), target)
    assert "HelmRelease istio-system/istio-operator-v17x not found" in missing.message


def test_gitops_with_nothing_to_read_is_never_a_pass() -> None:
    r = gitops.check(B.healthy(2), gitops.SyncTarget(SHA2, "stage 2"))
    assert r.status is Status.PENDING


ECHO_110 = (
    "\n\nHostname: app-b-1\n\nRequest Headers:\n\taccept=*/*\n\thost=app-b.demo-b:80\n"
    "\tx-forwarded-client-cert=By=spiffe://cluster.local/ns/demo-b/sa/default;Hash=ab;"
    "Subject=&quot;&quot;;URI=spiffe://cluster.local/ns/demo-a/sa/default\n\nRequest Body:\n\t-no body in request-\n"
)


def _probe() -> connectivity.Probe:
    return connectivity.Probe(B.A_TO_B, "demo-a", "app-a-x", "echo-service", "default", ("curl",))


@pytest.mark.parametrize(
    ("stdout", "stderr", "status", "expected", "verdict"),
    [
        (ECHO_110 + "\n200", "", {"status": "Success"}, "HTTP 200 over mTLS", Status.PASSED),
        (
            ECHO_110.replace(
                "URI=spiffe://cluster.local/ns/demo-a", "URI=spiffe://cluster.local/ns/other"
            )
            + "\n200",
            "",
            {"status": "Success"},
            "XFCC names spiffe://cluster.local/ns/other/sa/default",
            Status.PENDING,
        ),
        (
            "Request Headers:\n\taccept=*/*\n\n200",
            "",
            {"status": "Success"},
            "no x-forwarded-client-cert",
            Status.PENDING,
        ),
        (
            "upstream connect error\n503",
            "",
            {"status": "Success"},
            "HTTP 503, expected 200",
            Status.PENDING,
        ),
        (
            "\n000",
            "curl: (7) Failed to connect",
            {
                "status": "Failure",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": "7"}]},
            },
            "curl exit 7: curl: (7) Failed to connect",
            Status.PENDING,
        ),
        ("ok\n200", "", {"status": "Success"}, "target echoes no headers", Status.PASSED),
    ],
)
def test_probe_judgement(
    stdout: str, stderr: str, status: dict[str, object], expected: str, verdict: Status
) -> None:
    result = connectivity.judge(_probe(), ExecResult(stdout, stderr, exit_code_of(status), status))
    assert result.status is verdict
    assert expected in result.message


def test_probe_that_could_not_run_is_unverifiable_not_a_pass() -> None:
    missing = {
        "status": "Failure",
        "reason": "InternalError",
        "message": "executable file not found: curl",
    }
    r = connectivity.judge(_probe(), ExecResult("", "", None, missing))
    assert r.status is Status.PENDING and r.unverifiable
    assert "curl could not run in echo-service: executable file not found" in r.message
    chk = connectivity.check([r])
    assert chk.status is Status.PENDING and chk.unverifiable


def test_probes_pick_a_ready_source_pod_and_its_app_container() -> None:
    expect = expect_stage(B.plan(), 3)
    probes = connectivity.plan_probes(B.healthy(3), expect, max_time=4)
    assert [(p.namespace, p.pod, p.container) for p in probes] == [
        ("demo-a", "app-a-abc12-x1", "echo-service"),
        ("demo-b", "app-b-abc12-x2", "echo-service"),
    ]
    assert probes[0].argv[-1] == "http://app-b.demo-b.svc.cluster.local:80/"
    assert "--max-time" in probes[0].argv and "4" in probes[0].argv
    none = connectivity.plan_probes(B.healthy(3, pods=[]), expect)
    assert none[0].problem == "no pod matches k8s-app=app-a in demo-a"


def test_moved_namespace_still_labelled_for_the_old_global_injector_is_pending() -> None:
    expect = expect_stage(B.plan(), 3)
    snap = B.healthy(3, legacy_injection=frozenset({"demo-a", "demo-b"}))
    r = dataplane.check(snap, expect)
    assert r.status is Status.PENDING
    assert "namespace demo-a still has istio-injection=enabled" in r.message
    assert "remove demo-a from istio-sample's autoInjectionNamespaces" in r.message
    assert "demo-b" not in r.message  # demo-b is still meant to be on the old control plane
    assert (
        dataplane.check(B.healthy(3, legacy_injection=frozenset({"demo-b"})), expect).status
        is Status.PASSED
    )


def test_a_pod_labelled_for_the_new_revision_but_injected_by_the_old_one_fails() -> None:
    expect = expect_stage(B.plan(), 4, with_next_preconditions=True)
    impostor = B.pod("demo-b", "app-b-n1-x9", B.OLD, template="n1")
    impostor["metadata"]["labels"]["istio.io/rev"] = B.NEW.revision
    impostor["spec"]["containers"][1]["image"] = "docker.io/istio/proxyv2:1.7.7"
    pods = [*B.healthy(4).pods, impostor]
    r = dataplane.check(B.healthy(4, pods=pods), expect)
    assert r.status is Status.FAILED
    assert (
        "demo-b/app-b-n1-x9 labelled istio-sample-v17x.istio-system but its proxy 1.7.7 was "
        "injected by istio-sample.istio-system (istiod istiod.istio-system)" in r.message
    )
    safety = cleanup.check(B.healthy(4, pods=pods), expect)
    assert safety.status is Status.PENDING and "demo-b/app-b-n1-x9" in safety.message


def test_istiod_ready_means_its_rollout_finished() -> None:
    expect = expect_stage(B.plan(), 1)
    key = (B.NEW.namespace, B.NEW.istiod)
    old_pod_still_serving = {**B.healthy(1).deployments, key: B.deployment(updated=0, total=1)}
    r = controlplane.check(B.healthy(1, deployments=old_pod_still_serving), expect)
    assert r.status is Status.PENDING and "0/1 updated" in r.message
    surplus = {**B.healthy(1).deployments, key: B.deployment(total=2)}
    r = controlplane.check(B.healthy(1, deployments=surplus), expect)
    assert r.status is Status.PENDING and "older ReplicaSet still running" in r.message
    paused = B.deployment(updated=0, total=1)
    paused["spec"]["paused"] = True
    r = controlplane.check(
        B.healthy(1, deployments={**B.healthy(1).deployments, key: paused}), expect
    )
    assert r.status is Status.FAILED and "rollout is paused" in r.message
    assert "kubectl rollout resume" in r.message


def test_live_namespace_labels_must_select_the_expected_control_plane() -> None:
    expect = expect_stage(B.plan(), 3)
    good = B.healthy(3)
    assert namespaces.check(good, expect).status is Status.PASSED
    # demo-a moved, but istio-injection=enabled is back (it wins over istio.io/rev)
    relabelled = {
        **good.meshed_namespaces,
        "demo-a": B.namespace(
            "demo-a", {"istio-injection": "enabled", "istio.io/rev": B.NEW.revision}
        ),
    }
    r = namespaces.check(B.healthy(3, meshed_namespaces=relabelled), expect)
    assert r.status is Status.PENDING
    assert "namespace demo-a has istio-injection=enabled, istio.io/rev=" in r.message
    assert "injected by istio-sample.istio-system" in r.message
    # demo-b not moved yet, but relabelled for the new revision early
    early = {
        **good.meshed_namespaces,
        "demo-b": B.namespace("demo-b", {"istio.io/rev": B.NEW.revision}),
    }
    r = namespaces.check(B.healthy(3, meshed_namespaces=early), expect)
    assert r.status is Status.PENDING and "namespace demo-b" in r.message


def test_a_meshed_namespace_the_plan_does_not_list_fails_at_every_stage() -> None:
    for stage in range(6):
        expect = expect_stage(B.plan(), stage, with_next_preconditions=True)
        good = B.healthy(stage)
        extra = {
            **good.meshed_namespaces,
            "demo-c": B.namespace("demo-c", {"istio-injection": "enabled"}),
            "demo-d": B.namespace("demo-d", {"istio.io/rev": B.NEW.revision}),  # born new: fine
        }
        r = namespaces.check(B.healthy(stage, meshed_namespaces=extra), expect)
        assert r.status is Status.FAILED, (stage, r.message)
        assert "meshed namespace(s) not in the plan: demo-c (istio-injection=enabled)" in r.message
        assert "demo-d" not in r.message


def test_an_application_out_of_sync_or_a_kustomization_not_ready_at_its_commit_is_pending() -> None:
    ref = GitOpsRef("Application", "argocd", "demo-apps")
    target = gitops.SyncTarget(SHA2, "stage 2", {SHA2: True})
    drift = _app(SHA2, sync={"status": "OutOfSync", "revision": SHA2})
    r = gitops.check(B.healthy(2, gitops={ref: drift}), target)
    assert r.status is Status.PENDING and "sync status OutOfSync, not Synced" in r.message
    ks_ref = GitOpsRef("Kustomization", "flux-system", "apps")
    ks = {
        "metadata": {"name": "apps", "generation": 1},
        "status": {
            "observedGeneration": 1,
            "lastAppliedRevision": f"main@sha1:{SHA2}",
            "lastAttemptedRevision": f"main@sha1:{SHA1}",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    r = gitops.check(B.healthy(2, gitops={ks_ref: ks}), target)
    assert r.status is Status.PENDING and f"last attempted main@sha1:{SHA1}" in r.message


def test_gateway_routes_wait_for_probes_say_not_probed_and_never_read_an_error_as_empty() -> None:
    expect = expect_stage(B.plan(), 2)
    (routes,) = [c for c in checks_for(expect, Phase.PROBES) if c.name == gatewayroutes.NAME]
    assert routes.evaluate(B.healthy(2), expect).status is Status.PENDING
    none = routes.evaluate(replace(B.healthy(2), route_probes=[]), expect)
    assert none.status is Status.PASSED
    assert none.message.startswith("not probed: no VirtualService is bound to the planned ")
    unread = routes.evaluate(replace(B.healthy(2), route_probes=[], route_error="reset"), expect)
    assert unread.status is Status.PENDING and unread.unverifiable
