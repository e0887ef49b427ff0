"""The built-in renderers of Istio's charts against the facts of the real templates.

Facts from istio/istio ``manifests/charts`` (1.22.0 - 1.30.x): the names, labels and selectors of
istiod, its injector, tag and validator webhooks, base's default validator and the gateway.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.errors import InputError
from simcluster.argodiff import differences, ignored, jq_path, rules_for
from simcluster.charts.istio import is_istio_repository, render
from simcluster.charts.sources import argo_release, flux_release, resolve_version
from simcluster.substitution import DISABLED, substitute, variables

Obj = dict[str, Any]


def by(objs: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [(o["kind"], o["metadata"]["name"]) for o in objs])
    return found[0]


def hook_names(config: Obj) -> list[str]:
    return [h["name"] for h in config["webhooks"]]


def test_revisioned_istiod_names_labels_and_selectors() -> None:
    objs = render("istiod", "istiod-1-28-2", "istio-system", "1.28.2", {"revision": "1-28-2"})
    dep = by(objs, "Deployment", "istiod-1-28-2")
    assert dep["metadata"]["labels"]["app"] == "istiod"
    assert dep["metadata"]["labels"]["istio.io/rev"] == "1-28-2"
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "istiod", "istio.io/rev": "1-28-2"}
    assert dep["spec"]["template"]["metadata"]["labels"]["istio"] == "istiod"
    assert (
        dep["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/istio/pilot:1.28.2"
    )
    svc = by(objs, "Service", "istiod-1-28-2")
    assert svc["spec"]["selector"] == {"app": "istiod", "istio.io/rev": "1-28-2"}
    assert {p["port"] for p in svc["spec"]["ports"]} == {15010, 15012, 443, 15014}
    mwc = by(objs, "MutatingWebhookConfiguration", "istio-sidecar-injector-1-28-2")
    assert hook_names(mwc) == [
        "rev.namespace.sidecar-injector.istio.io",
        "rev.object.sidecar-injector.istio.io",
    ]
    assert mwc["webhooks"][0]["namespaceSelector"]["matchExpressions"] == [
        {"key": "istio.io/rev", "operator": "In", "values": ["1-28-2"]},
        {"key": "istio-injection", "operator": "DoesNotExist"},
    ]
    assert mwc["webhooks"][0]["clientConfig"]["service"]["name"] == "istiod-1-28-2"
    assert all("caBundle" not in h["clientConfig"] for h in mwc["webhooks"])
    vwc = by(objs, "ValidatingWebhookConfiguration", "istio-validator-1-28-2-istio-system")
    assert hook_names(vwc) == ["rev.validation.istio.io"]
    assert vwc["webhooks"][0]["failurePolicy"] == "Ignore"
    assert vwc["webhooks"][0]["objectSelector"]["matchExpressions"][0]["values"] == ["1-28-2"]
    assert not [o for o in objs if o["metadata"]["name"] == "istio-sidecar-injector"]


def test_default_istiod_adds_the_legacy_webhooks_and_selects_by_istio_pilot() -> None:
    objs = render("istiod", "istiod", "istio-system", "1.24.3", {})
    assert by(objs, "Deployment", "istiod")["spec"]["selector"]["matchLabels"] == {"istio": "pilot"}
    assert by(objs, "Service", "istiod")["spec"]["selector"] == {"app": "istiod", "istio": "pilot"}
    mwc = by(objs, "MutatingWebhookConfiguration", "istio-sidecar-injector")
    assert mwc["metadata"]["labels"]["istio.io/rev"] == "default"
    assert hook_names(mwc) == [
        "rev.namespace.sidecar-injector.istio.io",
        "rev.object.sidecar-injector.istio.io",
        "namespace.sidecar-injector.istio.io",
        "object.sidecar-injector.istio.io",
    ]
    legacy = mwc["webhooks"][2]["namespaceSelector"]["matchExpressions"]
    assert legacy == [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]
    assert by(objs, "ValidatingWebhookConfiguration", "istio-validator-istio-system")


def test_revision_tags_become_tag_webhooks_and_from_1_28_tag_services() -> None:
    values = {"revision": "1-27-1", "revisionTags": ["prod-stable", "default"]}
    objs = render("istiod", "istiod-1-27-1", "istio-system", "1.27.1", values)
    stable = by(objs, "MutatingWebhookConfiguration", "istio-revision-tag-prod-stable")
    assert stable["metadata"]["labels"]["istio.io/tag"] == "prod-stable"
    assert stable["metadata"]["labels"]["istio.io/rev"] == "1-27-1"
    assert stable["webhooks"][0]["clientConfig"]["service"]["name"] == "istiod-1-27-1"
    assert stable["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "prod-stable"
    ]
    assert len(stable["webhooks"]) == 2
    default = by(objs, "MutatingWebhookConfiguration", "istio-revision-tag-default")
    assert len(default["webhooks"]) == 4  # the default tag also takes istio-injection=enabled
    assert not [o for o in objs if o["metadata"]["name"].startswith("istiod-revision-tag-")]
    newer = render(
        "istiod", "istiod-1-28-0", "istio-system", "1.28.0", {**values, "revision": "1-28-0"}
    )
    assert (
        by(newer, "Service", "istiod-revision-tag-prod-stable")["metadata"]["labels"][
            "istio.io/tag"
        ]
        == "prod-stable"
    )


def test_base_default_revision_names_the_default_validator_target() -> None:
    (svc_default,) = [
        o for o in render("base", "istio-base", "istio-system", "1.26.0", {})
        if o["kind"] == "ValidatingWebhookConfiguration"
    ]  # fmt: skip
    assert svc_default["metadata"]["name"] == "istiod-default-validator"
    assert svc_default["webhooks"][0]["name"] == "validation.istio.io"
    assert svc_default["webhooks"][0]["clientConfig"]["service"]["name"] == "istiod"
    assert "objectSelector" not in svc_default["webhooks"][0]
    objs = render("base", "istio-base", "istio-system", "1.26.0", {"defaultRevision": "1-26-0"})
    vwc = by(objs, "ValidatingWebhookConfiguration", "istiod-default-validator")
    assert vwc["webhooks"][0]["clientConfig"]["service"]["name"] == "istiod-1-26-0"
    assert vwc["metadata"]["labels"]["istio.io/rev"] == "1-26-0"
    none = render("base", "istio-base", "istio-system", "1.26.0", {"defaultRevision": ""})
    assert not [o for o in none if o["kind"] == "ValidatingWebhookConfiguration"]


def test_gateway_chart_pod_template_asks_for_the_gateway_injection() -> None:
    objs = render(
        "gateway", "istio-ingressgateway", "istio-ingress", "1.28.2", {"revision": "1-28-2"}
    )
    dep = by(objs, "Deployment", "istio-ingressgateway")
    template = dep["spec"]["template"]
    assert template["metadata"]["labels"]["istio.io/rev"] == "1-28-2"
    assert template["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"
    assert template["metadata"]["annotations"]["inject.istio.io/templates"] == "gateway"
    assert template["spec"]["containers"][0] == {
        "name": "istio-proxy", "image": "auto",
        "ports": [{"containerPort": 15090, "protocol": "TCP", "name": "http-envoy-prom"}],
    }  # fmt: skip
    assert dep["spec"]["selector"]["matchLabels"] == {
        "app": "istio-ingressgateway",
        "istio": "ingressgateway",
    }
    svc = by(objs, "Service", "istio-ingressgateway")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["spec"]["selector"] == {"app": "istio-ingressgateway", "istio": "ingressgateway"}
    assert by(objs, "ServiceAccount", "istio-ingressgateway")
    plain = render("gateway", "gw", "istio-ingress", "1.28.2", {"name": "ingress"})
    assert (
        "istio.io/rev"
        not in by(plain, "Deployment", "ingress")["spec"]["template"]["metadata"]["labels"]
    )


@pytest.mark.parametrize(
    ("url", "known"),
    [
        ("https://istio-release.storage.googleapis.com/charts", True),
        ("https://istio-release.storage.googleapis.com/charts/", True),
        ("https://blob.istio.io/istio-release/charts", True),
        ("oci://ghcr.io/istio/release/charts", True),
        ("ghcr.io/istio/release/charts", True),  # Argo CD's spelling of an OCI Helm repository
        ("https://charts.example.com/istio", False),
    ],
)
def test_both_chart_repositories_are_istio_s(url: str, known: bool) -> None:
    assert is_istio_repository(url) is known


def test_argo_values_merge_lowest_first_and_parameters_are_typed() -> None:
    app = {
        "kind": "Application",
        "metadata": {"name": "istiod"},
        "spec": {
            "destination": {"namespace": "istio-system"},
            "sources": [
                {"repoURL": "https://git.example.com/mesh.git", "ref": "values", "targetRevision": "main"},
                {
                    "repoURL": "ghcr.io/istio/release/charts", "chart": "istiod", "targetRevision": "1.31.1",
                    "helm": {
                        "releaseName": "istiod-1-31-1",
                        "valueFiles": ["$values/istio/istiod.yaml"],
                        "values": "revision: from-text\npilot:\n  replicaCount: 2\n",
                        "valuesObject": {"revision": "from-object"},
                        "parameters": [{"name": "revisionTags", "value": "{prod-stable}"},
                                       {"name": "pilot.replicaCount", "value": "3"}],
                    },
                },
            ],
        },
    }  # fmt: skip
    files = {"istio/istiod.yaml": "revision: from-file\nmeshConfig: {accessLogFile: /dev/stdout}\n"}
    rel = argo_release(app, files.get)
    assert rel is not None
    assert (rel.chart, rel.version, rel.release, rel.namespace) == (
        "istiod",
        "1.31.1",
        "istiod-1-31-1",
        "istio-system",
    )
    assert rel.values["revision"] == "from-object"
    assert rel.values["revisionTags"] == ["prod-stable"]
    assert rel.values["pilot"] == {"replicaCount": 3}
    assert rel.values["meshConfig"] == {"accessLogFile": "/dev/stdout"}
    app["spec"]["sources"][1]["repoURL"] = "https://charts.example.com"
    assert argo_release(app, files.get) is None


def test_flux_values_from_configmap_then_values_and_helm_controller_error() -> None:
    repos = [{
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "istio", "namespace": "flux-system"},
        "spec": {"url": "https://blob.istio.io/istio-release/charts"},
    }]  # fmt: skip
    hr = {
        "kind": "HelmRelease",
        "metadata": {"name": "istiod", "namespace": "flux-system"},
        "spec": {
            "targetNamespace": "istio-system",
            "chart": {"spec": {"chart": "istiod", "version": "1.31.x", "sourceRef": {"kind": "HelmRepository", "name": "istio"}}},
            "valuesFrom": [{"kind": "ConfigMap", "name": "istiod-values"}],
            "values": {"revision": "1-31-1"},
        },
    }  # fmt: skip
    cms = {
        ("ConfigMap", "flux-system", "istiod-values"): {
            "data": {"values.yaml": "revision: x\nrevisionTags: [stable]\n"}
        }
    }
    rel = flux_release(hr, repos, lambda k, ns, n: cms.get((k, ns, n)))
    assert rel is not None
    assert (rel.release, rel.namespace) == ("istio-system-istiod", "istio-system")
    assert rel.values == {"revision": "1-31-1", "revisionTags": ["stable"]}
    assert resolve_version(rel.version, {"1.31.0", "1.31.1", "1.30.5"}) == "1.31.1"
    with pytest.raises(
        InputError,
        match=re.escape(
            "could not resolve ConfigMap chart values reference 'flux-system/istiod-values' "
            "with key 'values.yaml'"
        ),
    ):
        flux_release(hr, repos, lambda k, ns, n: None)
    oci = {
        "kind": "HelmRelease", "metadata": {"name": "gw", "namespace": "istio-ingress"},
        "spec": {"chartRef": {"kind": "OCIRepository", "name": "gateway", "namespace": "flux-system"}},
    }  # fmt: skip
    oci_repo = {
        "kind": "OCIRepository", "metadata": {"name": "gateway", "namespace": "flux-system"},
        "spec": {"url": "oci://ghcr.io/istio/release/charts/gateway", "ref": {"tag": "1.31.1"}},
    }  # fmt: skip
    rel = flux_release(oci, [oci_repo])
    assert rel is not None and (rel.chart, rel.version, rel.namespace) == (
        "gateway",
        "1.31.1",
        "istio-ingress",
    )


def test_argo_differences_and_ignore_rules_as_argo_cd_specifies_them() -> None:
    desired = render("base", "istio-base", "istio-system", "1.26.0", {})[1]
    live = {**desired, "webhooks": [{**desired["webhooks"][0], "failurePolicy": "Fail",
                                       "clientConfig": {**desired["webhooks"][0]["clientConfig"], "caBundle": "Zm9v"}}]}  # fmt: skip
    diffs = differences(desired, live)
    assert diffs == ["/webhooks/0/failurePolicy", "/webhooks/0/clientConfig/caBundle"]
    app = {"spec": {"ignoreDifferences": [
        {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration", "name": "istiod-default-validator",
         "jsonPointers": ["/webhooks/0/failurePolicy"]},
        {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration",
         "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"]},
        {"group": "", "kind": "ValidatingWebhookConfiguration", "jsonPointers": ["/webhooks"]},
    ]}}  # fmt: skip
    rules = rules_for(app, desired)
    assert len(rules) == 2  # the core-group rule does not select an admissionregistration kind
    assert [d for d in diffs if not ignored(d, rules)] == []
    assert [d for d in diffs if not ignored(d, rules[1:])] == ["/webhooks/0/failurePolicy"]
    assert jq_path('.webhooks[1]["clientConfig"].caBundle') == [
        "webhooks",
        "1",
        "clientConfig",
        "caBundle",
    ]
    assert jq_path(".webhooks | map(.x)") is None
    wildcard = {
        "spec": {
            "ignoreDifferences": [
                {"group": "*", "kind": "*Webhook*", "jsonPointers": ["/webhooks"]}
            ]
        }
    }
    assert [d for d in diffs if not ignored(d, rules_for(wildcard, desired))] == []


def test_flux_post_build_substitution_defaults_sources_and_opt_out() -> None:
    ks = {
        "metadata": {"name": "infra", "namespace": "flux-system"},
        "spec": {"postBuild": {
            "substitute": {"region": "eu"},
            "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}, {"kind": "Secret", "name": "nope", "optional": True}],
        }},
    }  # fmt: skip
    found = {("ConfigMap", "flux-system", "vars"): {"data": {"version": "1.30.5", "region": "us"}}}
    values = variables(ks, lambda k, ns, n: found.get((k, ns, n)))
    assert values == {"version": "1.30.5", "region": "eu"}
    docs = [
        {"kind": "HelmRelease", "metadata": {"name": "a"}, "spec": {"version": "${version}", "x": "${unset:=d}", "y": "${unset}"}},
        {"kind": "ConfigMap", "metadata": {"name": "b", "annotations": {DISABLED: "disabled"}}, "data": {"v": "${version}"}},
    ]  # fmt: skip
    out = substitute(docs, values)
    # an unset variable is empty text in the serialised YAML, which parses as null (as in Flux)
    assert out[0]["spec"] == {"version": "1.30.5", "x": "d", "y": None}
    assert out[1]["data"] == {"v": "${version}"}
    with pytest.raises(InputError, match="ConfigMap 'flux-system/vars' not found"):
        variables(ks, lambda k, ns, n: None)
