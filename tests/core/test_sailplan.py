"""The Sail plan section: revision names as the operator makes them, round trip, strict loader,
and the queries the verifier asks after each stage."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import yaml

from core.errors import PlanError
from core.helmplan import ChartRelease
from core.plan import (
    ControlPlane,
    MeshNamespace,
    OperatorRelease,
    Plan,
    Stage,
    WorkloadRef,
    dump_plan,
    load_plan,
)
from core.sailplan import (
    SailCNI,
    SailGateway,
    SailIstio,
    SailMesh,
    SailOperator,
    SailTag,
    revision_name,
)
from simcluster.sail import versions as simsail

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_NO_OPERATOR = OperatorRelease("", "", "", "plain")


# Cases of the operator's own unit test (controllers/istio/istio_controller_test.go,
# TestGetActiveRevisionName) plus the alias and `default` cases the docs and sail#2262 describe.
@pytest.mark.parametrize(
    ("name", "strategy", "version", "expected"),
    [
        ("test-istio", "", "1.0.0", "test-istio"),  # no strategy: InPlace
        ("test-istio", "InPlace", "1.0.0", "test-istio"),
        ("test-istio", "RevisionBased", "1.0.0", "test-istio-1-0-0"),
        ("test-istio", "RevisionBased", "2.0.0", "test-istio-2-0-0"),
        ("default", "RevisionBased", "v1.28.6", "default-v1-28-6"),
        ("default", "InPlace", "v1.28.6", "default"),
        ("default", "RevisionBased", "v1.28-latest", "default-v1-28-latest"),
    ],
)
def test_revision_names_follow_the_operator(
    name: str, strategy: str, version: str, expected: str
) -> None:
    assert revision_name(name, strategy, version) == expected
    # simcluster models the operator separately; the two must agree
    assert simsail.revision_name(name, strategy or None, version) == expected


def _sail(strategy: str = "InPlace", cni: bool = True) -> SailMesh:
    return SailMesh(
        istio=SailIstio("default", "istio-system", "infra/istio.yaml", strategy, 5),  # type: ignore[arg-type]
        operator=SailOperator(
            "argocd-application", "sail-operator", "argocd", "infra/sail-operator.yaml", "1.29.2"
        ),
        tags=(
            SailTag("prod", "infra/tag-prod.yaml", "Istio", "default"),
            SailTag(
                "pinned",
                "infra/tag-pinned.yaml",
                "IstioRevision",
                "default" if strategy == "InPlace" else "default-v1-27-9",
            ),
        ),
        cni=SailCNI("default", "istio-cni", "infra/cni.yaml", "1.27.9", "1.28.6") if cni else None,
        gateways=(SailGateway("ingress", "istio-ingress", "apps/gw.yaml", "prod"),),
        gateway_releases=(
            ChartRelease(
                "egress", "istio-egress", "gateway", "1.27.9", "helmrelease", "apps/egress.yaml",
                "egress-gw", "default",
            ),
        ),
    )  # fmt: skip


def _plan(strategy: str = "InPlace", cni: bool = True) -> Plan:
    sail = _sail(strategy, cni)
    old = ControlPlane(
        "default",
        "istio-system",
        "1.27.9",
        _NO_OPERATOR,
        file="infra/istio.yaml",
        rev=sail.old_revision("1.27.9"),
    )
    new = replace(old, version="1.28.6", rev=sail.new_revision("1.28.6"))
    namespaces = (
        MeshNamespace("a", (WorkloadRef("Deployment", "app-a", "apps/a.yaml"),), (), "apps/a.yaml",
                      ("istio-injection",), ""),
        MeshNamespace("b", (), (), "apps/b.yaml", ("istio.io/rev",), "prod"),
        MeshNamespace("c", (), (), "apps/c.yaml", ("istio.io/rev",), "pinned"),
    )  # fmt: skip
    kinds: list[tuple[str, str, tuple[str, ...]]] = [
        ("control-plane", "control-plane", ()),
        ("namespaces-1", "namespaces", ("a", "b")),
        ("namespaces-2", "namespaces", ("c",)),
        ("gateways", "gateways", ()),
        ("cleanup", "cleanup", ()),
    ]
    if strategy == "InPlace":
        kinds.insert(0, ("strategy", "strategy", ()))
    if cni:
        kinds.append(("cni", "cni", ()))
    stages = tuple(
        Stage(i, name, kind, namespaces=ns)  # type: ignore[arg-type]
        for i, (name, kind, ns) in enumerate(kinds, 1)
    )
    return Plan(
        source=old,
        target=new,
        stages=stages,
        namespaces=namespaces,
        gitops_engine="argocd",
        flavour="sail",
        sail=sail,
    )


def test_revisions_of_an_in_place_default_istio() -> None:
    plan = _plan("InPlace")
    assert plan.source.revision == "default"
    assert plan.source.istiod == "istiod"  # revision `default` renders a plain istiod
    assert plan.via_revision == "default-v1-27-9"
    assert plan.target.revision == "default-v1-28-6"
    assert plan.target.istiod == "istiod-default-v1-28-6"
    # the strategy switch alone makes the active revision change
    assert [plan.active_revision(n) for n in range(0, 4)] == [
        "default",
        "default-v1-27-9",
        "default-v1-28-6",
        "default-v1-28-6",
    ]


def test_revisions_of_a_revision_based_istio() -> None:
    plan = _plan("RevisionBased")
    assert plan.source.revision == "default-v1-27-9"
    assert plan.via_revision == ""
    assert plan.stages[0].kind == "control-plane"
    assert [plan.active_revision(n) for n in (0, 1)] == ["default-v1-27-9", "default-v1-28-6"]


def test_namespaces_labels_and_tags_after_each_stage() -> None:
    plan = _plan("InPlace")
    # stages: 1 strategy, 2 control-plane, 3 wave a+b, 4 wave c, 5 gateways, 6 cleanup, 7 cni
    rows = []
    for upto in range(0, plan.total + 1):
        rows.append(
            (
                tuple(plan.expected_revision(ns, upto) for ns in ("a", "b", "c")),
                tuple(plan.expected_label(ns, upto) for ns in ("a", "b", "c")),
                (plan.tag_revision("prod", upto), plan.tag_revision("pinned", upto)),
                plan.expected_gateway_label("ingress", upto),
                plan.cni_version(upto),
            )
        )
    old, via, new = "default", "default-v1-27-9", "default-v1-28-6"
    assert rows == [
        ((old, old, old), ("", "prod", "pinned"), (old, old), "prod", "1.27.9"),
        ((old, old, old), ("", "prod", "pinned"), (via, old), "prod", "1.27.9"),
        ((old, old, old), ("", "prod", "pinned"), (new, old), "prod", "1.27.9"),
        ((new, new, old), (new, "prod", "pinned"), (new, old), "prod", "1.27.9"),
        ((new, new, new), (new, "prod", new), (new, old), "prod", "1.27.9"),
        ((new, new, new), (new, "prod", new), (new, old), "prod", "1.27.9"),
        # cleanup: the pinned tag is retargeted and namespace c gets its tag label back
        ((new, new, new), (new, "prod", "pinned"), (new, new), "prod", "1.27.9"),
        ((new, new, new), (new, "prod", "pinned"), (new, new), "prod", "1.28.6"),
    ]
    assert plan.tag_revision("nope", 3) == ""


def test_round_trip_is_exact_and_matches_pyyaml() -> None:
    for plan in (_plan("InPlace"), _plan("RevisionBased", cni=False)):
        text = dump_plan(plan)
        assert load_plan(text) == plan
        body = yaml.dump(
            plan.to_dict(), Dumper=_DUMPER, sort_keys=False, default_flow_style=False, width=1000
        )
        assert text.split("\n", 2)[2] == body
    data = _plan().to_dict()
    assert data["flavour"] == "sail"
    assert data["sail"]["istio"] == {
        "name": "default",
        "namespace": "istio-system",
        "file": "infra/istio.yaml",
        "updateStrategy": "InPlace",
        "inactiveRevisionDeletionGracePeriodSeconds": 5,
    }
    assert "operator" not in data["from"] and data["from"]["controlPlane"]["revision"] == "default"
    assert data["sail"]["gatewayReleases"] == [
        {
            "name": "egress",
            "namespace": "istio-egress",
            "version": "1.27.9",
            "form": "helmrelease",
            "file": "apps/egress.yaml",
            "object": "egress-gw",
            "revision": "default",
        }
    ]


def _mutated(edit: Any) -> str:
    data = _plan().to_dict()
    edit(data)
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["sail"].update(extra=1), "sail has unknown field(s) extra"),
        (lambda d: d["sail"]["istio"].update(revision="x"), "sail.istio has unknown field(s) revision"),
        (lambda d: d["sail"]["tags"][0].update(target="x"), "sail.tags[1] has unknown field(s) target"),
        (lambda d: d["sail"]["cni"].update(image="x"), "sail.cni has unknown field(s) image"),
        (lambda d: d["sail"]["gateways"][0].update(rev="x"), "sail.gateways[1] has unknown field(s) rev"),
        (lambda d: d["sail"]["gatewayReleases"][0].update(chart="x"), "sail.gatewayReleases[1] has unknown field(s) chart"),
        (lambda d: d["sail"]["gatewayReleases"][0].update(form="deployment"), "sail.gatewayReleases[1].form 'deployment' is not one of"),
        (lambda d: d["sail"]["gatewayReleases"][0].pop("revision"), "sail.gatewayReleases[1].revision is missing"),
        (lambda d: d["sail"].update(gatewayReleases="x"), "sail.gatewayReleases must be a list"),
        (lambda d: d["sail"]["operator"].update(form="kustomize"), "sail.operator.form 'kustomize' is not one of"),
        (lambda d: d["sail"]["istio"].update(updateStrategy="Canary"), "sail.istio.updateStrategy 'Canary'"),
        (lambda d: d["sail"]["tags"][0].update(targetKind="Pod"), "sail.tags[1].targetKind 'Pod'"),
        (lambda d: d["sail"]["istio"].update(inactiveRevisionDeletionGracePeriodSeconds=-1), "must be an integer >= 0"),
        (lambda d: d.pop("sail"), "sail is missing"),
        (lambda d: d["from"]["controlPlane"].update(revision="default-v1-27-9"), "is not 'default', the revision the Sail operator runs"),
        (lambda d: d["to"]["controlPlane"].update(revision="canary"), "is not 'default-v1-28-6'"),
        (lambda d: d["stages"][0].update(kind="tags-drop"), "'tags-drop' is not a kind of the sail flavour"),
        (lambda d: d["from"].update(operator={"name": "x"}), "from.operator is not part of a sail plan"),
    ],
)  # fmt: skip
def test_strict_loader_refuses(edit: Any, message: str) -> None:
    with pytest.raises(PlanError, match="^.*" + _escape(message)):
        load_plan(_mutated(edit))


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_sail_section_and_kinds_are_refused_in_other_flavours() -> None:
    data = _plan().to_dict()
    data["flavour"] = "helm"
    with pytest.raises(PlanError, match="sail is only allowed in a plan whose flavour is sail"):
        Plan.from_dict(data)
    data = _plan().to_dict()
    del data["flavour"]
    del data["sail"]
    with pytest.raises(PlanError, match="'strategy' is not a kind of the banzai flavour"):
        Plan.from_dict(data)


def test_a_default_tag_that_follows_the_istio_keeps_istio_injection() -> None:
    plan = _plan("RevisionBased")
    assert plan.sail is not None
    tags = (SailTag("default", "infra/tag.yaml", "Istio", "default"),)
    plan = replace(plan, sail=replace(plan.sail, tags=tags))
    # namespace a is labelled istio-injection=enabled, which the tag default serves
    assert [plan.expected_label("a", n) for n in (0, 2, plan.total)] == ["", "", ""]
    assert plan.expected_revision("a", 2) == "default-v1-28-6"
    assert plan.tag_revision("default", 1) == "default-v1-28-6"
