"""Helm releases of Istio's charts synced from a GitOps repo, read back over real HTTP.

Each test builds a small repo the way users write it (real git), serves it with ``SimCluster``
and reads the cluster with the real ``kubernetes`` client, as the verifier will.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from kubernetes import client, config

from simcluster.charts.istio import render
from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster import helmrepo

Obj = dict[str, Any]


def api(sim: SimCluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(sim.kubeconfig))


def pods(core: client.CoreV1Api, ns: str) -> list[Obj]:
    return [p.to_dict() for p in core.list_namespaced_pod(ns).items]


def proxy_of(pod: Obj) -> Obj | None:
    return next((c for c in pod["spec"]["containers"] if c["name"] == "istio-proxy"), None)


def custom(sim: SimCluster, group: str, version: str, ns: str, plural: str, name: str) -> Obj:
    obj: Obj = client.CustomObjectsApi(api(sim)).get_namespaced_custom_object(
        group, version, ns, plural, name
    )
    return obj


def sync_status(sim: SimCluster, name: str) -> str:
    app = custom(sim, "argoproj.io", "v1alpha1", "argocd", "applications", name)
    return str(((app.get("status") or {}).get("sync") or {}).get("status"))


def injected(pod: Obj, revision: str, version: str) -> bool:
    proxy = proxy_of(pod)
    annotations = pod["metadata"].get("annotations") or {}
    return (
        proxy is not None
        and proxy["image"] == f"docker.io/istio/proxyv2:{version}"
        and annotations.get("istio.io/rev") == revision
        and json.loads(annotations.get("sidecar.istio.io/status", "{}")).get("revision") == revision
    )


def test_argo_revisioned_istiod_with_tag_and_gateway(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "repo"
    helmrepo.argo_revisioned(repo, tags=("prod-stable",), ns_label={"istio.io/rev": "prod-stable"})
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        core = client.CoreV1Api(api(sim))
        apps = client.AppsV1Api(api(sim))
        adm = client.AdmissionregistrationV1Api(api(sim))
        istiod = apps.read_namespaced_deployment("istiod-1-26-4", "istio-system")
        assert istiod.metadata.labels["app"] == "istiod"
        assert istiod.metadata.labels["istio.io/rev"] == "1-26-4"
        assert core.read_namespaced_service("istiod-1-26-4", "istio-system").spec.selector == {
            "app": "istiod", "istio.io/rev": "1-26-4"
        }  # fmt: skip
        tags = adm.list_mutating_webhook_configuration(label_selector="istio.io/tag").items
        assert [(t.metadata.name, t.metadata.labels["istio.io/rev"]) for t in tags] == [
            ("istio-revision-tag-prod-stable", "1-26-4")
        ]
        # namespaces labelled with the tag get the tag's revision, not the tag's name
        (app_a,) = wait_for(
            lambda: pods(core, "demo-a"),
            lambda ps: len(ps) == 1 and bool(proxy_of(ps[0])),
            what="app-a injected",
        )
        assert injected(app_a, "1-26-4", "1.26.4"), app_a["metadata"]
        env = {e["name"]: e.get("value") for e in proxy_of(app_a)["env"] or []}  # type: ignore[index]
        assert env["CA_ADDR"] == "istiod-1-26-4.istio-system.svc:15012"
        assert [c["name"] for c in app_a["spec"]["init_containers"]] == ["istio-init"]
        # the gateway's image: auto was filled in by the gateway template
        (gw,) = pods(core, "istio-ingress")
        assert gw["metadata"]["labels"]["istio.io/rev"] == "1-26-4"
        assert injected(gw, "1-26-4", "1.26.4") and not gw["spec"]["init_containers"]
        # istiod wrote its trust into its webhooks once it served
        injector = wait_for(
            lambda: adm.read_mutating_webhook_configuration("istio-sidecar-injector-1-26-4"),
            lambda m: all(w.client_config.ca_bundle for w in m.webhooks),
            what="caBundle in every injector webhook",
        )
        assert all(w.client_config.ca_bundle for w in injector.webhooks)
        default = wait_for(
            lambda: adm.read_validating_webhook_configuration("istiod-default-validator"),
            lambda v: v.webhooks[0].failure_policy == "Fail",
            what="the default validator switched to Fail",
        )
        assert default.webhooks[0].client_config.service.name == "istiod-1-26-4"
        assert default.webhooks[0].failure_policy == "Fail"
        # ...which leaves istio-base (no ignoreDifferences) OutOfSync, not istiod (it has them)
        assert (
            wait_for(
                lambda: sync_status(sim, "istio-base"),
                lambda s: s == "OutOfSync",
                what="istio-base OutOfSync",
            )
            == "OutOfSync"
        )
        assert sync_status(sim, "istiod-1-26-4") == "Synced"
        app = custom(sim, "argoproj.io", "v1alpha1", "argocd", "applications", "istio-base")
        drifted = [r for r in app["status"]["resources"] if r["status"] == "OutOfSync"]
        assert [(r["kind"], r["name"]) for r in drifted] == [
            ("ValidatingWebhookConfiguration", "istiod-default-validator")
        ]
        assert (
            app["status"]["sync"]["revision"] == "1.26.4"
        )  # a Helm source records its chart version


def test_flux_default_revision_from_the_moved_chart_repository(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "repo"
    helmrepo.flux_default(repo, version="1.31.1", url=helmrepo.NEW_REPO)
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        core = client.CoreV1Api(api(sim))
        (app_b,) = wait_for(
            lambda: pods(core, "demo-b"),
            lambda ps: len(ps) == 1 and bool(proxy_of(ps[0])),
            what="app-b injected",
        )
        assert injected(app_b, "default", "1.31.1")
        env = {e["name"]: e.get("value") for e in proxy_of(app_b)["env"] or []}  # type: ignore[index]
        assert env["CA_ADDR"] == "istiod.istio-system.svc:15012"
        # the gateway's namespace comes from install.createNamespace and has no injection label:
        # the pod's own sidecar.istio.io/inject=true selects the default revision's object. webhook
        (gw,) = wait_for(
            lambda: pods(core, "istio-gateways"),
            lambda ps: len(ps) == 1 and bool(proxy_of(ps[0])),
            what="the gateway pod injected",
        )
        assert injected(gw, "default", "1.31.1")
        hr = wait_for(
            lambda: custom(sim, "helm.toolkit.fluxcd.io", "v2", "flux-system", "helmreleases", "istiod"),
            lambda h: any(c["type"] == "Ready" and c["status"] == "True" for c in (h.get("status") or {}).get("conditions") or []), what='istiod HelmRelease Ready')  # fmt: skip
        ready = {c["type"]: c for c in hr["status"]["conditions"]}["Ready"]
        assert ready["status"] == "True", ready
        assert ready["message"] == (
            "Helm install succeeded for release istio-system/istiod.v1 with chart istiod@1.31.1"
        )
        assert hr["status"]["history"][0]["chartVersion"] == "1.31.1"
        dep = client.AppsV1Api(api(sim)).read_namespaced_deployment("istiod", "istio-system")
        assert dep.metadata.labels["helm.toolkit.fluxcd.io/name"] == "istiod"
        assert dep.metadata.annotations["meta.helm.sh/release-name"] == "istiod"


def test_gateway_revision_moves_in_place_keeping_service_uid_and_address(
    tmp_path: pathlib.Path,
) -> None:
    repo = tmp_path / "repo"
    helmrepo.argo_revisioned(repo)
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        core = client.CoreV1Api(api(sim))
        before = wait_for(
            lambda: core.read_namespaced_service("istio-ingress", "istio-ingress"),
            lambda s: bool(s.status.load_balancer.ingress),
            what="the gateway's load-balancer address",
        )
        address = before.status.load_balancer.ingress[0].ip
        # control plane: a second istiod beside the first; then the gateway release moves to it
        helmrepo.write(repo, "argocd/istiod-new.yaml", helmrepo.argo_chart_app(
            "istiod-1-28-2", "istiod", "1.28.2",
            helm={"releaseName": "istiod-1-28-2", "values": "revision: 1-28-2\n"},
            ignore=helmrepo.WEBHOOK_IGNORES))  # fmt: skip
        helmrepo.commit(repo, "control plane 1-28-2")
        sim.sync_now()
        sim.wait_settled()
        helmrepo.write(repo, "argocd/gateway.yaml", helmrepo.argo_chart_app(
            "istio-ingress", "gateway", "1.28.2", "istio-ingress",
            helm={"parameters": [{"name": "revision", "value": "1-28-2"}]}))  # fmt: skip
        helmrepo.commit(repo, "gateway to 1-28-2")
        sim.sync_now()
        sim.wait_settled()
        gateways = wait_for(
            lambda: pods(core, "istio-ingress"),
            lambda ps: len(ps) == 1 and injected(ps[0], "1-28-2", "1.28.2"),
            what="the gateway pod on 1-28-2",
        )
        assert len(gateways) == 1 and injected(gateways[0], "1-28-2", "1.28.2")
        after = core.read_namespaced_service("istio-ingress", "istio-ingress")
        assert after.metadata.uid == before.metadata.uid
        assert after.status.load_balancer.ingress[0].ip == address
        # the apps stay on the revision they were injected with until they restart
        (app_a,) = pods(core, "demo-a")
        assert injected(app_a, "1-26-4", "1.26.4")


def test_plain_tag_webhook_and_plain_gateway_deployment(tmp_path: pathlib.Path) -> None:
    """`istioctl tag generate` output and a hand-written gateway are only manifests + injection."""
    repo = tmp_path / "repo"
    helmrepo.argo_revisioned(repo, ns_label={"istio.io/rev": "prod-canary"})
    objs = render(
        "istiod",
        "istiod",
        "istio-system",
        "1.26.4",
        {"revision": "1-26-4", "revisionTags": ["prod-canary"]},
    )
    (tag,) = [o for o in objs if o["metadata"]["name"] == "istio-revision-tag-prod-canary"]
    gateway = helmrepo.app_deployment("ingressgateway", "istio-gateways")
    template = gateway["spec"]["template"]
    template["metadata"]["labels"].update(
        {"istio.io/rev": "prod-canary", "sidecar.istio.io/inject": "true"}
    )
    template["metadata"]["annotations"] = {"inject.istio.io/templates": "gateway"}
    template["spec"]["containers"] = [{"name": "istio-proxy", "image": "auto"}]
    helmrepo.write(repo, "istio/tag.yaml", tag)
    helmrepo.write(repo, "argocd/tags.yaml", helmrepo.argo_path_app("istio-tags", "istio"))
    helmrepo.write(repo, "apps/gateway.yaml", helmrepo.namespace("istio-gateways"), gateway)
    helmrepo.commit(repo, "tag and gateway as manifests")
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        core = client.CoreV1Api(api(sim))
        (app_a,) = wait_for(
            lambda: pods(core, "demo-a"),
            lambda ps: len(ps) == 1 and bool(proxy_of(ps[0])),
            what="app-a injected",
        )
        assert injected(app_a, "1-26-4", "1.26.4")
        (gw,) = wait_for(
            lambda: pods(core, "istio-gateways"),
            lambda ps: len(ps) == 1 and bool(proxy_of(ps[0])),
            what="the plain gateway injected",
        )
        assert injected(gw, "1-26-4", "1.26.4")
        assert [c["name"] for c in gw["spec"]["containers"]] == ["istio-proxy"]


def test_flux_substituted_v2beta1_release_in_a_kustomization_path(tmp_path: pathlib.Path) -> None:
    """The common Flux layout: the version in a ConfigMap, substituted by postBuild into a
    v2beta1 HelmRelease the Kustomization applies; Istio config in an older version too."""
    repo = tmp_path / "repo"
    helmrepo.init(repo)
    ks = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "istio", "namespace": "flux-system"},
        "spec": {
            "interval": "10m", "path": "./istio", "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            "postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "istio-version"}]},
        },
    }  # fmt: skip
    version = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio-version", "namespace": "flux-system"},
        "data": {"version": "1.29.8"},
    }
    helmrepo.write(repo, "clusters/sim/istio.yaml", ks, version)
    release = """\
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: HelmRepository
metadata: {name: istio, namespace: istio-system}
spec: {interval: 1h, url: https://istio-release.storage.googleapis.com/charts}
---
apiVersion: helm.toolkit.fluxcd.io/v2beta1
kind: HelmRelease
metadata: {name: istiod, namespace: istio-system}
spec:
  chart:
    spec:
      chart: istiod
      version: "${version}"
      sourceRef: {kind: HelmRepository, name: istio}
---
apiVersion: helm.toolkit.fluxcd.io/v2beta1
kind: HelmRelease
metadata: {name: broken, namespace: istio-system}
spec:
  chart:
    spec:
      chart: gateway
      version: "${missing:=1.29.99}"
      sourceRef: {kind: HelmRepository, name: istio}
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
"""
    helmrepo.write(repo, "istio/releases.yaml", text=release)
    helmrepo.write(repo, "istio/namespace.yaml", helmrepo.namespace("istio-system"))
    helmrepo.commit(repo, "istio from a version ConfigMap")
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        apps = client.AppsV1Api(api(sim))
        dep = wait_for(
            lambda: [d for d in apps.list_namespaced_deployment("istio-system").items],
            lambda ds: len(ds) == 1,
            what="the istiod Deployment",
        )
        assert [d.metadata.name for d in dep] == ["istiod"]
        image = dep[0].spec.template.spec.containers[0].image
        assert image == "docker.io/istio/pilot:1.29.8"
        broken = custom(
            sim, "helm.toolkit.fluxcd.io", "v2", "istio-system", "helmreleases", "broken"
        )
        ready = {c["type"]: c for c in broken["status"]["conditions"]}["Ready"]
        assert ready["status"] == "False"
        assert ready["message"].startswith(
            "no 'gateway' chart with version matching '1.29.99' found"
        )
        gateway = custom(sim, "networking.istio.io", "v1", "istio-system", "gateways", "public")
        assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}


def test_argo_multi_source_values_from_git_and_revisions(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "repo"
    helmrepo.init(repo)
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "istiod-1-31-1", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "sources": [
                {"repoURL": "https://git.example.com/mesh.git", "targetRevision": "main", "ref": "values"},
                {"repoURL": "ghcr.io/istio/release/charts", "chart": "istiod", "targetRevision": "1.31.1",
                 "helm": {"releaseName": "istiod-1-31-1", "valueFiles": ["$values/values/istiod.yaml"]}},
            ],
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "istio-system"},
            "syncPolicy": {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]},
        },
    }  # fmt: skip
    helmrepo.write(repo, "argocd/istiod.yaml", app)
    helmrepo.write(
        repo, "values/istiod.yaml", text="# kept by the platform team\nrevision: 1-31-1\n"
    )
    sha = helmrepo.commit(repo, "istiod from OCI with values in git")
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        apps = client.AppsV1Api(api(sim))
        dep = apps.read_namespaced_deployment("istiod-1-31-1", "istio-system")
        assert dep.spec.template.spec.containers[0].image == "docker.io/istio/pilot:1.31.1"
        status = wait_for(
            lambda: custom(sim, "argoproj.io", "v1alpha1", "argocd", "applications", "istiod-1-31-1")["status"],
            lambda s: "revisions" in s.get("sync", {}), what='multi-source revisions in the status')  # fmt: skip
        assert status["sync"]["revisions"] == [sha, "1.31.1"]
        assert status["operationState"]["syncResult"]["revisions"] == [sha, "1.31.1"]
        assert status["sourceType"] == "Helm"
