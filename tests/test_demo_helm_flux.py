"""`istio-canary demo --flavour helm --example helm-flux-tags`: the tagged Flux example's whole
upgrade through the real CLI (tags handed over, namespaces back on their stable tag without a
restart), and each Helm fault stopped by the gate of the stage it breaks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from rehearsal.cli import EXAMPLE_NAMES, main
from rehearsal.demo import EXAMPLES, SCENARIOS
from rehearsal.faults import HELM_FAULTS

STAGES = [
    "control-plane",
    "namespaces-1",
    "namespaces-2",
    "gateways",
    "tags-drop",
    "tags-take",
    "tags-return",
    "default-revision",
    "cleanup",
]


def demo(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["demo", "--flavour", "helm", "--example", "helm-flux-tags", *args]
    )
    return result.exit_code, result.output


@pytest.mark.slow
def test_the_tagged_flux_demo_walks_every_stage_to_the_new_revision(tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, out = demo("--workdir", str(run))
    assert code == 0, out
    assert "Istio 1.26 (Helm, Flux, revision tags) -> 1.28.2 canary upgrade of " in out
    assert "examples/helm-flux-tags" in out
    assert "it syncs main like Flux" in out and "simulated Flux syncs" in out
    assert f"{len(STAGES)} stages: {', '.join(STAGES)}" in out
    assert f"Done: all {len(STAGES)} stages merged and verified" in out
    for i, name in enumerate(STAGES, 1):
        assert f"passed: stage {i}/{len(STAGES)} {name}" in out, name
    rows = [
        line.split() for line in out.splitlines() if line.startswith(("demo-", "istio-ingress"))
    ]
    assert {r[0] for r in rows} == {"demo-a", "demo-b", "istio-ingress"}
    assert all(r[4:] == ["1-28-2", "1.28.2"] for r in rows), rows
    # the end state in Git: the namespaces are back on the stable tag, which the new release
    # lists with the default tag; the gateway waits for the new istiod, not the deleted one
    work = run / "work"
    labels = [
        d["metadata"]["labels"]["istio.io/rev"]
        for d in yaml.safe_load_all((work / "apps/namespaces.yaml").read_text())
    ]
    assert labels == ["prod-stable", "prod-stable"]
    istio = work / "infrastructure/istio"
    assert not (istio / "istiod.yaml").exists()
    new = yaml.safe_load((istio / "istiod-1-28-2.yaml").read_text())
    assert new["spec"]["values"]["revisionTags"] == ["prod-canary", "prod-stable", "default"]
    assert new["spec"]["valuesFrom"] == [{"kind": "ConfigMap", "name": "istiod-values"}]
    assert new["spec"]["dependsOn"][0]["name"] == "istio-base"
    gateway = yaml.safe_load((istio / "gateway.yaml").read_text())
    assert gateway["spec"]["dependsOn"][0]["name"] == "istiod-1-28-2"
    base = yaml.safe_load((istio / "base.yaml").read_text())
    assert base["spec"]["values"]["defaultRevision"] == "1-28-2"
    assert sorted(p.name for p in (run / "prs").iterdir()) == sorted(
        f"{i}-{n}.md" for i, n in enumerate(STAGES, 1)
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault,caught",
    [
        ("webhook-overlap", "webhooks: double injection in demo-a"),
        ("dangling-validator", "calls Service istio-system/istiod-retired, which does not exist"),
        ("cabundle-drift", "changed during this run: something keeps rewriting istiod's CA bundle"),
    ],
)
def test_each_helm_fault_is_stopped_by_the_first_gate(fault: str, caught: str) -> None:
    # both break what the control-plane stage's gate judges: the injection of the tagged
    # namespaces (whose pods the next stage restarts) and the validator base renders
    code, out = demo("--fault", fault)
    assert code == 1, out
    assert f"stopped at the gate of stage 1/{len(STAGES)} control-plane" in out
    assert caught in out
    assert re.search(r"^demo-a\s.*\s1-26-4\s+1\.26\.4$", out, re.M), out  # nothing moved


def test_every_helm_fault_is_covered_here() -> None:
    assert set(HELM_FAULTS) == {"webhook-overlap", "dangling-validator", "cabundle-drift"}


def test_examples_offered_are_the_rehearsals_and_each_flavours_default_is_one() -> None:
    assert tuple(EXAMPLES) == EXAMPLE_NAMES
    for flavour, scenario in SCENARIOS.items():
        assert (flavour, scenario) in EXAMPLES.values()
    for name, (_, scenario) in EXAMPLES.items():
        assert scenario.repo.endswith(name)


def test_an_example_of_another_flavour_is_refused() -> None:
    result = CliRunner().invoke(main, ["demo", "--example", "helm-flux-tags"])
    assert result.exit_code == 2
    assert "example 'helm-flux-tags' is for the helm flavour, not banzai" in result.output
    result = CliRunner().invoke(main, ["demo", "--example", "nope"])
    assert result.exit_code == 2 and "'nope' is not one of" in result.output


# The HelmRelease v2 fields the example may use, as fluxcd/helm-controller declares them
# (api/v2/helmrelease_types.go, HelmReleaseSpec and HelmChartTemplateSpec; DependencyReference
# and ValuesReference from fluxcd/pkg/apis/meta), at helm-controller 0f61a8607a62. A misspelt
# field (`dependOn`) is pruned by the API server's schema and silently does nothing.
HELMRELEASE_SPEC = {
    "chart", "chartRef", "interval", "kubeConfig", "suspend", "releaseName", "targetNamespace",
    "storageNamespace", "dependsOn", "timeout", "maxHistory", "serviceAccountName",
    "persistentClient", "driftDetection", "install", "upgrade", "test", "rollback", "uninstall",
    "valuesFrom", "values", "commonMetadata", "postRenderers", "postRenderStrategy",
    "waitStrategy", "healthCheckExprs",
}  # fmt: skip
CHART_SPEC = {
    "chart", "version", "sourceRef", "interval", "reconcileStrategy", "valuesFiles",
    "ignoreMissingValuesFiles", "verify",
}  # fmt: skip
DEPENDENCY = {"name", "namespace", "readyExpr"}
VALUES_REFERENCE = {"kind", "name", "valuesKey", "targetPath", "optional", "literal"}


def test_the_example_uses_only_helm_controllers_v2_fields() -> None:
    root = Path(__file__).resolve().parents[1] / "examples/helm-flux-tags"
    releases = [
        doc
        for path in sorted(root.rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "HelmRelease"
    ]
    assert {r["metadata"]["name"] for r in releases} == {
        "istio-base",
        "istiod-1-26-4",
        "istio-ingressgateway",
    }
    for release in releases:
        spec = release["spec"]
        assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
        assert set(spec) <= HELMRELEASE_SPEC, release["metadata"]["name"]
        assert set(spec["chart"]["spec"]) <= CHART_SPEC
        assert all(set(d) <= DEPENDENCY for d in spec.get("dependsOn", []))
        assert all(set(v) <= VALUES_REFERENCE for v in spec.get("valuesFrom", []))
        if release["metadata"]["name"] != "istio-base":
            assert spec["dependsOn"], "every release waits for what it needs (CRDs first)"
