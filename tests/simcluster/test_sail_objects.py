"""Sail's tags, versions and IstioCNI over real HTTP: what the operator writes for each."""

from __future__ import annotations

import pathlib

from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster.sailhelp import Cluster, istio_spec


def test_a_tag_on_a_revision_stays_and_a_tag_on_the_istio_follows(tmp_path: pathlib.Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.create("Istio", "default", istio_spec("v1.27.9", grace=600))
        c.wait_condition("IstioRevision", "default-v1-27-9", "Ready", "True")
        c.create(
            "IstioRevisionTag",
            "prod-stable",
            {"targetRef": {"kind": "IstioRevision", "name": "default-v1-27-9"}},
        )
        c.create(
            "IstioRevisionTag", "prod-canary", {"targetRef": {"kind": "Istio", "name": "default"}}
        )
        c.namespace("tagged", **{"istio.io/rev": "prod-stable"})
        c.patch("Istio", "default", {"version": "v1.28.6"})
        c.wait_condition("IstioRevision", "default-v1-28-6", "Ready", "True")
        canary = wait_for(
            lambda: c.get("IstioRevisionTag", "prod-canary"),
            lambda t: (t or {}).get("status", {}).get("istioRevision") == "default-v1-28-6",
            what="prod-canary following the Istio",
        )
        assert canary is not None
        assert canary["status"]["state"] == "NotReferencedByAnything"  # nobody uses the tag yet
        stable = c.get("IstioRevisionTag", "prod-stable")
        assert stable is not None and stable["status"]["istioRevision"] == "default-v1-27-9"
        assert stable["status"]["state"] == "Healthy"  # the namespace label names it
        hooks = {
            h.metadata.name: h
            for h in c.webhooks.list_mutating_webhook_configuration(
                label_selector="istio.io/tag"
            ).items
        }
        assert (
            hooks["istio-revision-tag-prod-stable"].metadata.labels["istio.io/rev"]
            == "default-v1-27-9"
        )
        assert (
            hooks["istio-revision-tag-prod-canary"].metadata.labels["istio.io/rev"]
            == "default-v1-28-6"
        )
        svc = hooks["istio-revision-tag-prod-canary"].webhooks[0].client_config.service
        assert (svc.name, svc.namespace) == ("istiod-default-v1-28-6", "istio-system")
        # a revision a tag points at is in use, whoever uses the tag
        assert c.condition("IstioRevision", "default-v1-27-9", "InUse")["status"] == "True"
        # a pod of the tagged namespace is injected by the tag's revision, annotated with it
        c.deployment("tagged", "app")
        wait_for(
            lambda: c.pod_revisions("tagged"),
            lambda r: r == ["default-v1-27-9"] * 2,
            what="tagged pods on the stable revision",
        )  # fmt: skip


def test_a_tag_reports_a_missing_target_and_a_name_taken_by_a_revision(
    tmp_path: pathlib.Path,
) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.create("IstioRevisionTag", "lost", {"targetRef": {"kind": "Istio", "name": "nowhere"}})
        lost = c.wait_condition("IstioRevisionTag", "lost", "Reconciled", "False")
        assert lost["reason"] == "RefNotFound"
        assert lost["message"] == "referenced Istio resource does not exist"
        unknown = c.condition("IstioRevisionTag", "lost", "InUse")
        assert (unknown["status"], unknown["reason"]) == ("Unknown", "UsageCheckFailed")
        c.create("Istio", "default", {"version": "v1.28.6"})
        c.wait_condition("IstioRevision", "default", "Ready", "True")
        c.create("IstioRevisionTag", "default", {"targetRef": {"kind": "Istio", "name": "default"}})
        clash = c.wait_condition("IstioRevisionTag", "default", "Reconciled", "False")
        assert clash["reason"] == "NameAlreadyExists"
        tag = c.get("IstioRevisionTag", "default")
        assert tag is not None and tag["status"]["state"] == "NameAlreadyExists"


def test_an_alias_lands_in_the_revision_name_and_an_eol_version_is_refused(
    tmp_path: pathlib.Path,
) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.create("Istio", "latest", istio_spec("v1.28-latest"))
        rev = c.wait_condition("IstioRevision", "latest-v1-28-latest", "Ready", "True")
        assert rev["reason"] == "Ready"
        revision = c.get("IstioRevision", "latest-v1-28-latest")
        assert revision is not None and revision["spec"]["version"] == "v1.28.6"  # 1.29.2's table
        assert c.istiod_image("istiod-latest-v1-28-latest") == "docker.io/istio/pilot:1.28.6"
        c.create("Istio", "old", istio_spec("v1.26.8"))
        refused = c.wait_condition("Istio", "old", "Reconciled", "False")
        assert refused["reason"] == "ReconcileError"
        assert refused["message"] == (
            "version 'v1.26.8' is end-of-life and cannot be installed; use a supported version"
        )
        old = c.get("Istio", "old")
        assert old is not None and old["status"]["state"] == "ReconcileError"
        ready = c.condition("Istio", "old", "Ready")
        assert (ready["status"], ready["reason"]) == ("Unknown", "ReconcileError")
        assert "old-v1-26-8" not in c.names("IstioRevision")


def test_istio_cni_is_a_daemonset_upgraded_in_place(tmp_path: pathlib.Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-cni")
        c.create("IstioCNI", "default", {"version": "v1.27.9"})
        c.wait_condition("IstioCNI", "default", "Ready", "True")
        cni = c.get("IstioCNI", "default")
        assert cni is not None and cni["spec"]["namespace"] == "istio-cni"  # the CRD's default
        assert cni["status"]["state"] == "Healthy"
        ds = c.apps.read_namespaced_daemon_set("istio-cni-node", "istio-cni")
        assert ds.spec.template.spec.containers[0].image == "docker.io/istio/install-cni:1.27.9"
        uid = ds.metadata.uid
        c.patch("IstioCNI", "default", {"version": "v1.28.6"})

        def rolled() -> tuple[str, str, int]:
            d = c.apps.read_namespaced_daemon_set("istio-cni-node", "istio-cni")
            images = {
                p.spec.containers[0].image
                for p in c.core.list_namespaced_pod("istio-cni").items
                if p.metadata.deletion_timestamp is None
            }
            return (
                d.metadata.uid,
                ",".join(sorted(images)),
                int(d.status.updated_number_scheduled or 0),
            )

        uid_after, _images, _updated = wait_for(
            rolled,
            lambda r: r[1] == "docker.io/istio/install-cni:1.28.6" and r[2] == 1,
            what="istio-cni-node rolled to 1.28.6",
        )
        assert uid_after == uid  # the same DaemonSet, updated in place
        assert c.wait_condition("IstioCNI", "default", "Ready", "True")["reason"] == "Ready"


def test_a_revision_with_cni_enabled_waits_for_a_healthy_istio_cni(tmp_path: pathlib.Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        spec = istio_spec("v1.28.6")
        spec["values"] = {"pilot": {"cni": {"enabled": True}}}
        c.create("Istio", "default", spec)
        missing = c.wait_condition(
            "IstioRevision", "default-v1-28-6", "DependenciesHealthy", "False"
        )
        assert missing["reason"] == "IstioCNINotFound"
        istio = wait_for(
            lambda: c.get("Istio", "default"),
            lambda i: (i or {}).get("status", {}).get("state") == "IstioCNINotFound",
            what="Istio state IstioCNINotFound",
        )
        assert istio is not None
        c.namespace("istio-cni")
        c.create("IstioCNI", "default", {"version": "v1.28.6"})
        c.wait_condition("IstioRevision", "default-v1-28-6", "DependenciesHealthy", "True")
        wait_for(
            lambda: c.get("Istio", "default"),
            lambda i: (i or {}).get("status", {}).get("state") == "Healthy",
            what="Istio Healthy",
        )
