"""The Helm flavour's pure parts: webhooks read as the API server reads them, the plan's answers
per stage, and the permissions the Helm checks need (granted by rbac.yaml, read-only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.plan import PLAN_PATH, load_plan
from tests.generator.helmrepos import helm_repo
from tests.generator.helpers import run
from verifier import rbac
from verifier.admission import hooks, injectors_matching, is_injector, revision_of_service
from verifier.admission import selector_matches as matches
from verifier.expectation import expect_stage
from verifier.resources import ISTIOS, MUTATING_WEBHOOKS, SERVICES, VALIDATING_WEBHOOKS

NOT_DISABLED = {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}]}  # fmt: skip


def injector(config: str, service: str, prefix: str, ns_selector: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": config, "labels": {"app": "sidecar-injector"}},
        "webhooks": [
            {
                "name": f"{prefix}sidecar-injector.istio.io",
                "clientConfig": {"service": {"name": service, "namespace": "istio-system"}},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                "namespaceSelector": ns_selector,
                "objectSelector": NOT_DISABLED,
            }
        ],
    }  # fmt: skip


def test_label_selectors_as_the_api_server_evaluates_them() -> None:
    rev = {"matchExpressions": [
        {"key": "istio.io/rev", "operator": "In", "values": ["1-28-2"]},
        {"key": "istio-injection", "operator": "DoesNotExist"},
    ]}  # fmt: skip
    assert matches(rev, {"istio.io/rev": "1-28-2"})
    assert not matches(rev, {"istio.io/rev": "1-28-2", "istio-injection": "enabled"})
    assert not matches(rev, {})
    assert matches(NOT_DISABLED, {}) and not matches(
        NOT_DISABLED, {"sidecar.istio.io/inject": "false"}
    )
    assert matches(None, {"a": "b"}) and matches({}, {})
    assert matches({"matchLabels": {"a": "b"}}, {"a": "b", "c": "d"})
    assert not matches(
        {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, {"a": "2"}
    )


def test_two_injectors_matching_one_namespace_are_both_called_in_name_order() -> None:
    enabled = {
        "matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]
    }
    configs = [
        injector("istio-sidecar-injector", "istiod", "namespace.", enabled),
        injector("istio-revision-tag-default", "istiod-1-28-2", "namespace.", enabled),
    ]  # fmt: skip
    found = [h for h in hooks(configs, "MutatingWebhookConfiguration") if is_injector(h)]
    hit = injectors_matching(found, {"istio-injection": "enabled"}, {})
    assert [h.config for h in hit] == ["istio-revision-tag-default", "istio-sidecar-injector"]
    assert injectors_matching(found, {"istio.io/rev": "x"}, {}) == []


def test_istiod_services_name_their_revision() -> None:
    assert revision_of_service("istiod") == "default"
    assert revision_of_service("istiod-1-28-2") == "1-28-2"
    assert revision_of_service("istiod-revision-tag-prod") == ""
    assert revision_of_service("echo") == ""


def test_a_tagged_plan_says_where_each_tag_points_after_each_stage(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "argocd", "tagged")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    plan = load_plan((repo / PLAN_PATH).read_text())
    names = {s.name: s.index for s in plan.stages}

    def at(stage: str) -> dict[str, str]:
        helm = expect_stage(plan, names[stage]).helm
        assert helm is not None
        return dict(helm.tags)

    assert expect_stage(plan, 0).helm.tags == {"prod-stable": "1-26-4", "prod-canary": ""}  # type: ignore[union-attr]
    assert at("control-plane") == {"prod-stable": "1-26-4", "prod-canary": "1-28-2"}
    assert at("tags-drop")["prod-stable"] == ""
    assert at("tags-take")["prod-stable"] == "1-28-2"
    labels = expect_stage(plan, names["namespaces-1"]).helm.labels  # type: ignore[union-attr]
    assert labels["demo-a"] == "prod-canary" and labels["demo-b"] == "prod-stable"
    returned = expect_stage(plan, names["tags-return"]).helm.labels  # type: ignore[union-attr]
    assert set(returned.values()) == {"prod-stable"}
    assert expect_stage(plan, names["default-revision"]).helm.default_revision == "1-28-2"  # type: ignore[union-attr]


def test_the_helm_checks_read_webhooks_and_services_and_rbac_yaml_grants_only_reads() -> None:
    needed = {(verb, res) for verb, res, _ in rbac.required("argocd", probes=False, flavour="helm")}
    assert {
        ("list", MUTATING_WEBHOOKS),
        ("list", VALIDATING_WEBHOOKS),
        ("list", SERVICES),
    } <= needed
    assert ("list", ISTIOS) not in needed  # a Helm cluster need not serve the Banzai CRDs
    role = yaml.safe_load((Path(rbac.__file__).parent / "rbac.yaml").read_text())
    admission = [r for r in role["rules"] if r["apiGroups"] == ["admissionregistration.k8s.io"]]
    assert admission == [
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"],
            "verbs": ["get", "list"],
        }
    ]
