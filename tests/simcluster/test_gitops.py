"""GitOps sync against a real git repo: what Argo CD / Flux would apply and record."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from simcluster.gitops import LAST_APPLIED, Syncer, three_way_merge
from tests.simcluster.simhelp import EXAMPLE, Sim, run

Obj = dict[str, Any]


def git(repo: pathlib.Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(tmp_path: pathlib.Path) -> pathlib.Path:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    commit(repo, "seed")
    return repo


def commit(repo: pathlib.Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def edit_yaml(path: pathlib.Path, fn: Any) -> None:
    docs = list(yaml.safe_load_all(path.read_text()))
    fn(docs)
    path.write_text(yaml.safe_dump_all([d for d in docs if d is not None], sort_keys=False))


async def converge(sim: Sim, syncer: Syncer, rounds: int = 10) -> str | None:
    sha = None
    for _ in range(rounds):
        sha = syncer.sync_once()
        await sim.settle()
        if syncer.converged():
            syncer.sync_once()
            await sim.settle()
            return sha
    raise AssertionError("sync never converged")


def app_status(sim: Sim, name: str) -> Obj:
    app = sim.store.get("Application", "argocd", name)
    assert app is not None, name
    return dict(app.get("status") or {})


def test_three_way_merge_keeps_foreign_fields_and_drops_removed_ones() -> None:
    live = {"labels": {"a": "1", "op": "x", "gone": "y"}, "n": 1}
    last = {"labels": {"a": "1", "gone": "y"}}
    desired = {"labels": {"a": "2"}}
    assert three_way_merge(live, last, desired) == {"labels": {"a": "2", "op": "x"}, "n": 1}


def test_example_repo_syncs_to_a_meshed_cluster_with_argo_status(tmp_path: pathlib.Path) -> None:
    repo = make_repo(tmp_path)
    sha = git(repo, "rev-parse", "HEAD")

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        assert await converge(sim, syncer) == sha
        for name in ("istio-system", "demo-apps"):
            status = app_status(sim, name)
            assert status["sync"] == {**status["sync"], "status": "Synced", "revision": sha}
            op = status["operationState"]
            assert op["phase"] == "Succeeded" and op["syncResult"]["revision"] == sha
            assert op["startedAt"] <= op["finishedAt"] <= status["reconciledAt"]
            assert status["health"]["status"] == "Healthy" and status["sourceType"] == "Kustomize"
        chart = app_status(sim, "istio-operator-v16x")
        assert chart["sync"]["revision"] == "0.0.60" and chart["health"]["status"] == "Healthy"
        for ns in ("demo-a", "demo-b"):
            (pod,) = sim.pods(ns)
            assert any(
                c["image"] == "docker.io/istio/proxyv2:1.6.14" for c in pod["spec"]["containers"]
            )
        ns_obj = sim.store.get("Namespace", None, "demo-a")
        assert ns_obj is not None
        annotations = ns_obj["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/tracking-id"] == "demo-apps:/Namespace:/demo-a"
        assert LAST_APPLIED in annotations
        syncer.close()

    run(scenario())


def test_new_commit_prune_self_heal_and_no_sync(tmp_path: pathlib.Path) -> None:
    repo = make_repo(tmp_path)

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        first = await converge(sim, syncer)
        # A commit: two replicas of app-a, a team label, demo-b's app dropped.
        edit_yaml(repo / "apps/demo-a/app-a.yaml", lambda d: d[0]["spec"].update(replicas=2))
        edit_yaml(
            repo / "apps/namespaces.yaml", lambda d: d[0]["metadata"]["labels"].update(team="a")
        )
        edit_yaml(
            repo / "apps/kustomization.yaml",
            lambda d: d[0]["resources"].remove("demo-b/app-b.yaml"),
        )
        second = commit(repo, "scale a, drop b")
        assert syncer.sync_once() == second
        await sim.settle()
        assert len(sim.pods("demo-a")) == 2 and sim.pods("demo-b") == []
        assert sim.store.get("Service", "demo-b", "app-b") is None
        labels = (sim.store.get("Namespace", None, "demo-a") or {})["metadata"]["labels"]
        assert labels["team"] == "a" and labels["istio-operator-managed-injection"] == "enabled"
        status = app_status(sim, "demo-apps")
        assert status["operationState"]["syncResult"]["revision"] == second
        assert [h["revision"] for h in status["history"]] == [first, second]
        # Self-heal: a hand edit is reverted on the next sync, as a new operation.
        finished = status["operationState"]["finishedAt"]
        sim.edit("Deployment", "demo-a", "app-a", lambda d: d["spec"].update(replicas=5))
        syncer.sync_once()
        await sim.settle()
        assert (sim.store.get("Deployment", "demo-a", "app-a") or {})["spec"]["replicas"] == 2
        assert app_status(sim, "demo-apps")["operationState"]["finishedAt"] >= finished
        # Removing the label in git removes it live (three-way merge), keeps the operator's.
        edit_yaml(repo / "apps/namespaces.yaml", lambda d: d[0]["metadata"]["labels"].pop("team"))
        sim.faults.set("no-sync", True)
        third = commit(repo, "drop team label")
        assert syncer.sync_once() == second  # sync stopped
        assert app_status(sim, "demo-apps")["sync"]["revision"] == second
        sim.faults.set("no-sync", False)
        assert syncer.sync_once() == third
        await sim.settle()
        labels = (sim.store.get("Namespace", None, "demo-a") or {})["metadata"]["labels"]
        assert "team" not in labels and labels["istio-injection"] == "enabled"
        syncer.close()

    run(scenario())


def test_removing_the_operator_release_from_git_uninstalls_it(tmp_path: pathlib.Path) -> None:
    repo = make_repo(tmp_path)

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        await converge(sim, syncer)
        (repo / "argocd/istio-operator-v16x.yaml").unlink()
        commit(repo, "uninstall the 1.6 operator")
        syncer.sync_once()
        await sim.settle()
        assert sim.store.get("Application", "argocd", "istio-operator-v16x") is None
        assert sim.store.get("StatefulSet", "istio-system", "istio-operator-v16x") is None
        cr = sim.store.get("Istio", "istio-system", "istio-sample")
        assert cr is not None and cr["status"]["Status"] == "Unmanaged"
        syncer.close()

    run(scenario())


def test_broken_yaml_fails_the_operation_naming_the_file(tmp_path: pathlib.Path) -> None:
    repo = make_repo(tmp_path)

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        first = await converge(sim, syncer)
        (repo / "istio-system/istio.yaml").write_text("apiVersion: v1\nkind: [unclosed\n")
        bad = commit(repo, "broken")
        syncer.sync_once()
        await sim.settle()
        status = app_status(sim, "istio-system")
        assert status["sync"]["status"] == "OutOfSync" and status["sync"]["revision"] == bad
        assert status["operationState"]["phase"] == "Failed"
        assert "istio.yaml" in status["operationState"]["message"]
        assert app_status(sim, "demo-apps")["operationState"]["syncResult"]["revision"] == bad
        assert first != bad and sim.store.get("Istio", "istio-system", "istio-sample") is not None
        syncer.close()

    run(scenario())


def test_flux_kustomization_records_revision_ready_and_inventory(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "flux"
    (repo / "clusters/sim").mkdir(parents=True)
    shutil.copytree(EXAMPLE / "apps", repo / "apps")
    (repo / "clusters/sim/source.yaml").write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: flux-system, namespace: flux-system}\n"
        "spec: {interval: 1m, url: https://git.example.com/platform/mesh-gitops.git, ref: {branch: main}}\n"
    )
    (repo / "apps/source.yaml").write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: banzaicloud, namespace: flux-system}\n"
        "spec: {interval: 1h, url: https://kubernetes-charts.banzaicloud.com}\n"
    )
    edit_yaml(repo / "apps/kustomization.yaml", lambda d: d[0]["resources"].append("source.yaml"))
    (repo / "clusters/sim/apps.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": "apps", "namespace": "flux-system"},
                "spec": {"interval": "1m", "path": "./apps", "prune": True, "wait": True, "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
            }
        )
    )  # fmt: skip
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    sha = commit(repo, "flux")

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        syncer.sync_once()
        await sim.settle()
        ks = sim.store.get("Kustomization", "flux-system", "apps")
        assert ks is not None
        status = ks["status"]
        assert (
            status["lastAppliedRevision"] == status["lastAttemptedRevision"] == f"main@sha1:{sha}"
        )
        assert status["observedGeneration"] == ks["metadata"]["generation"]
        (ready,) = status["conditions"]
        assert (ready["type"], ready["status"], ready["reason"]) == (
            "Ready",
            "True",
            "ReconciliationSucceeded",
        )
        assert {"id": "demo-a_app-a_apps_Deployment", "v": "v1"} in status["inventory"]["entries"]
        deployment = sim.store.get("Deployment", "demo-a", "app-a")
        assert deployment is not None
        assert deployment["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"
        # `flux reconcile`: a requestedAt token makes it sync now and echo the token.
        edit_yaml(repo / "apps/demo-b/app-b.yaml", lambda d: d[0]["spec"].update(replicas=2))
        newer = commit(repo, "scale b")
        sim.edit(
            "Kustomization",
            "flux-system",
            "apps",
            lambda k: (
                k["metadata"]
                .setdefault("annotations", {})
                .update({"reconcile.fluxcd.io/requestedAt": "token-1"})
            ),
        )
        await sim.settle()
        status = (sim.store.get("Kustomization", "flux-system", "apps") or {})["status"]
        assert status["lastHandledReconcileAt"] == "token-1"
        assert status["lastAppliedRevision"] == f"main@sha1:{newer}"
        syncer.close()

    run(scenario())


def test_harness_boots_the_example_repo_meshed_in_one_settle(tmp_path: pathlib.Path) -> None:
    """The CR's namespace comes from the operator release and the apps wait for the injector;
    both are retried on the events that unblock them, not on the next sync tick."""
    from simcluster.harness import SimCluster

    repo = make_repo(tmp_path)
    with SimCluster(repo=repo, sync_interval=30.0, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        pods = sim.call(lambda s: {p["metadata"]["namespace"]: p for p in s.list("Pod")[0]})
        for ns in ("demo-a", "demo-b"):
            names = [c["name"] for c in pods[ns]["spec"]["containers"]]
            assert names == ["echo-service", "istio-proxy"], ns
        status = sim.call(
            lambda s: (s.get("Istio", "istio-system", "istio-sample") or {}).get("status")
        )
        assert status is not None and status["Status"] == "Available"


def test_argo_refresh_annotation_and_flux_requested_at_sync_at_once(tmp_path: pathlib.Path) -> None:
    repo = make_repo(tmp_path)

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        await converge(sim, syncer)
        edit_yaml(repo / "apps/demo-a/app-a.yaml", lambda d: d[0]["spec"].update(replicas=2))
        sha = commit(repo, "scale a")
        sim.edit(
            "Application",
            "argocd",
            "demo-apps",
            lambda a: (
                a["metadata"]
                .setdefault("annotations", {})
                .update({"argocd.argoproj.io/refresh": "hard"})
            ),
        )
        await sim.settle()
        app = sim.store.get("Application", "argocd", "demo-apps")
        assert app is not None and app["status"]["operationState"]["syncResult"]["revision"] == sha
        assert "argocd.argoproj.io/refresh" not in (app["metadata"].get("annotations") or {})
        assert len(sim.pods("demo-a")) == 2
        # With no-sync the refresh clears the annotation but applies nothing.
        sim.faults.set("no-sync", True)
        edit_yaml(repo / "apps/demo-a/app-a.yaml", lambda d: d[0]["spec"].update(replicas=3))
        commit(repo, "scale a more")
        sim.edit(
            "Application",
            "argocd",
            "demo-apps",
            lambda a: (
                a["metadata"]
                .setdefault("annotations", {})
                .update({"argocd.argoproj.io/refresh": "normal"})
            ),
        )
        await sim.settle()
        app = sim.store.get("Application", "argocd", "demo-apps")
        assert app is not None and app["status"]["sync"]["revision"] == sha
        assert "argocd.argoproj.io/refresh" not in (app["metadata"].get("annotations") or {})
        syncer.close()

    run(scenario())


def test_deleting_an_app_with_the_resources_finalizer_deletes_its_resources(
    tmp_path: pathlib.Path,
) -> None:
    repo = make_repo(tmp_path)
    edit_yaml(
        repo / "argocd/apps.yaml",
        lambda d: d[0]["metadata"].update(finalizers=["resources-finalizer.argocd.argoproj.io"]),
    )
    commit(repo, "cascade apps")

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        await converge(sim, syncer)
        assert sim.store.get("Deployment", "demo-b", "app-b") is not None
        keep = sim.store.get("Istio", "istio-system", "istio-sample")
        (repo / "argocd/apps.yaml").unlink()
        commit(repo, "drop the demo apps")
        syncer.sync_once()
        await sim.settle()
        assert sim.store.get("Application", "argocd", "demo-apps") is None
        assert sim.store.get("Namespace", None, "demo-b") is None
        assert sim.store.get("Deployment", "demo-a", "app-a") is None
        assert (
            keep is not None and sim.store.get("Istio", "istio-system", "istio-sample") is not None
        )
        syncer.close()

    run(scenario())


@pytest.mark.parametrize(
    "finalizers,cascade",
    [
        ([], False),  # Argo CD orphans: the resources keep running
        (["resources-finalizer.argocd.argoproj.io/background"], True),
        (["resources-finalizer.argocd.argoproj.io/foreground"], True),
        (["resources-finalizer.argocd.argoproj.io/typo"], False),  # not Argo CD's: stuck
    ],
)
def test_only_argo_cds_own_finalizers_cascade_a_deleted_app(
    tmp_path: pathlib.Path, finalizers: list[str], cascade: bool
) -> None:
    """argo-cd isPropagationPolicyFinalizer: the plain name and its /foreground, /background."""
    repo = make_repo(tmp_path)
    edit_yaml(repo / "argocd/apps.yaml", lambda d: d[0]["metadata"].update(finalizers=finalizers))
    commit(repo, "apps with its finalizers")

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        await converge(sim, syncer)
        (repo / "argocd/apps.yaml").unlink()
        commit(repo, "drop the demo apps")
        syncer.sync_once()
        await sim.settle()
        left = sim.store.get("Deployment", "demo-a", "app-a")
        assert (left is None) == cascade
        app = sim.store.get("Application", "argocd", "demo-apps")
        if finalizers and not cascade:  # nobody removes a finalizer Argo CD does not know
            assert app is not None and app["metadata"].get("deletionTimestamp")
        else:
            assert app is None
        syncer.close()

    run(scenario())
