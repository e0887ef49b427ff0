"""Moving a revision tag from one istiod release to another in one commit, as the engines do it.

Argo CD applies the tag webhook under the Application that now renders it and prunes only what
still carries its own tracking id, so the webhook moves without being deleted when the new owner
syncs first. Helm refuses to adopt an object another release owns, so with Flux the new
release fails until the old one has upgraded (and deleted the webhook): a gap with no tag.
"""

from __future__ import annotations

import pathlib
from typing import Any

from simcluster.gitops import TRACKING_ID, Syncer
from tests.simcluster import helmrepo
from tests.simcluster.simhelp import Sim, run
from tests.simcluster.test_gitops import converge

Obj = dict[str, Any]
TAG = "istio-revision-tag-prod-stable"


def flux_release(name: str, version: str, revision: str, tags: list[str]) -> Obj:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "istio-system"},
        "spec": {
            "chart": {"spec": {"chart": "istiod", "version": version,
                               "sourceRef": {"kind": "HelmRepository", "name": "istio", "namespace": "flux-system"}}},
            "values": {"revision": revision, "revisionTags": tags},
        },
    }  # fmt: skip


def test_argo_moves_the_tag_webhook_without_deleting_it(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "repo"
    helmrepo.argo_revisioned(repo, tags=("prod-stable",))

    def new_app(tags: str) -> Obj:
        values = "revision: 1-28-2\n" + (f"revisionTags: [{tags}]\n" if tags else "")
        return helmrepo.argo_chart_app(
            "istiod-1-28-2", "istiod", "1.28.2",
            helm={"releaseName": "istiod-1-28-2", "values": values}, ignore=helmrepo.WEBHOOK_IGNORES,
        )  # fmt: skip

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        # the new revision's Application sorts (and so syncs) before the old one
        helmrepo.write(repo, "argocd/a-istiod-new.yaml", new_app(""))
        helmrepo.commit(repo, "control plane 1-28-2")
        await converge(sim, syncer)
        before = sim.store.get("MutatingWebhookConfiguration", None, TAG)
        assert before is not None and before["metadata"]["labels"]["istio.io/rev"] == "1-26-4"
        old = helmrepo.argo_chart_app(
            "istiod-1-26-4", "istiod", "1.26.4",
            helm={"releaseName": "istiod-1-26-4", "values": "revision: 1-26-4\n"},
            ignore=helmrepo.WEBHOOK_IGNORES,
        )  # fmt: skip
        helmrepo.write(repo, "argocd/istiod.yaml", old)
        helmrepo.write(repo, "argocd/a-istiod-new.yaml", new_app("prod-stable"))
        helmrepo.commit(repo, "prod-stable -> 1-28-2")
        syncer.sync_once()
        await sim.settle()
        after = sim.store.get("MutatingWebhookConfiguration", None, TAG)
        assert after is not None
        assert after["metadata"]["uid"] == before["metadata"]["uid"]  # moved, never deleted
        assert after["metadata"]["labels"]["istio.io/rev"] == "1-28-2"
        assert after["metadata"]["annotations"][TRACKING_ID].startswith("istiod-1-28-2:")
        assert after["webhooks"][0]["clientConfig"]["service"]["name"] == "istiod-1-28-2"
        syncer.close()

    run(scenario())


def test_helm_refuses_a_tag_another_release_owns_until_the_old_release_lets_go(
    tmp_path: pathlib.Path,
) -> None:
    repo = tmp_path / "repo"
    helmrepo.init(repo)
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": "istio", "namespace": "flux-system"},
        "spec": {"url": helmrepo.NEW_REPO},
    }
    helmrepo.write(repo, "clusters/sim/0-source.yaml", source, helmrepo.namespace("istio-system"))
    helmrepo.write(
        repo,
        "clusters/sim/2-old.yaml",
        flux_release("istiod-1-30-5", "1.30.5", "1-30-5", ["prod-stable"]),
    )
    helmrepo.write(
        repo, "clusters/sim/1-new.yaml", flux_release("istiod-1-31-1", "1.31.1", "1-31-1", [])
    )
    helmrepo.commit(repo, "two revisions")

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        await converge(sim, syncer)
        assert (
            sim.store.get("MutatingWebhookConfiguration", None, TAG)["metadata"]["labels"][
                "istio.io/rev"
            ]
            == "1-30-5"
        )  # type: ignore[index]
        helmrepo.write(
            repo, "clusters/sim/2-old.yaml", flux_release("istiod-1-30-5", "1.30.5", "1-30-5", [])
        )
        helmrepo.write(
            repo,
            "clusters/sim/1-new.yaml",
            flux_release("istiod-1-31-1", "1.31.1", "1-31-1", ["prod-stable"]),
        )
        helmrepo.commit(repo, "prod-stable -> 1-31-1")
        syncer.sync_once()  # the new release goes first, is refused; the old one then deletes the tag
        await sim.settle()
        new = sim.store.get("HelmRelease", "istio-system", "istiod-1-31-1")
        assert new is not None
        ready = {c["type"]: c for c in new["status"]["conditions"]}["Ready"]
        assert ready["status"] == "False"
        assert ready["message"] == (
            "rendered manifests contain a resource that already exists. Unable to continue with "
            f'update: MutatingWebhookConfiguration "{TAG}" in namespace "" exists and cannot be '
            "imported into the current release: invalid ownership metadata; annotation validation "
            'error: key "meta.helm.sh/release-name" must equal "istiod-1-31-1": current value is '
            '"istiod-1-30-5"'
        )
        assert sim.store.get("MutatingWebhookConfiguration", None, TAG) is None  # the gap
        syncer.sync_once()  # the retry installs it under the new release
        await sim.settle()
        tag = sim.store.get("MutatingWebhookConfiguration", None, TAG)
        assert tag is not None and tag["metadata"]["labels"]["istio.io/rev"] == "1-31-1"
        syncer.close()

    run(scenario())
