"""Every release-1.6 sample CR of the operator upgrades into objects the 1.7 CRDs accept.

Each sample takes the place of example-repo's CR; istio-canary plans 1.6.14 -> 1.7.8 and applies
every stage. The new CR and every adopted MeshGateway must validate strictly (unknown fields
count: the 1.7 CRDs prune them), stage 1 must create no gateway under 1.7's defaults, and no
field of an old gateway may be lost. The schema and the samples are facts built in the tests;
when the operator's repository is fetched, the same runs against its real files too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from core.plan import load_plan
from tests.banzai.crdfacts import ISTIO, MESHGATEWAY
from tests.banzai.samples import MIRROR, fact_samples, mirror_crd, mirror_samples
from tests.banzai.structural import problems
from tests.generator.helpers import example_repo, git, run

# What a 1.6 operator served when a gateway block has no ports (release-1.6 defaults.go).
_DEFAULT_PORTS = {
    "ingress": {(15021, 15021), (80, 8080), (443, 8443), (15443, 15443)},
    "egress": {(80, 8080), (443, 8443), (15443, 15443)},
}
_MESH_EXPANSION_PORTS = {(853, 8853), (15012, 15012), (15011, 15011)}


def _gateways_created(spec: dict[str, Any]) -> list[str]:
    """The gateways a 1.7 operator creates for this CR (1.7 defaults: ingress and egress off,
    meshExpansion as spec.meshExpansion)."""
    gateways = spec.get("gateways") or {}
    if gateways.get("enabled") is False:
        return []
    defaults = {"ingress": False, "egress": False, "meshExpansion": bool(spec.get("meshExpansion"))}
    out = []
    for kind, default in defaults.items():
        block = gateways.get(kind) or {}
        if block.get("enabled", default):
            out.append(kind)
    return out


def _made_by_16(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{type: block} of the gateways a 1.6 operator made (1.6 defaults: ingress on)."""
    gateways = spec.get("gateways") or {}
    if gateways.get("enabled") is False:
        return {}
    out = {}
    for kind, default in (("ingress", True), ("egress", False)):
        block = gateways.get(kind) or {}
        if block.get("enabled", default):
            out[kind] = block
    return out


def _upgrade(tmp: Path, sample: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    repo = example_repo(tmp)
    cr = yaml.safe_load(yaml.safe_dump(sample))
    cr["metadata"]["namespace"] = "istio-system"
    cr["spec"]["autoInjectionNamespaces"] = ["demo-a", "demo-b"]
    (repo / "istio-system/istio.yaml").write_text(yaml.safe_dump(cr, sort_keys=False))
    git(repo, "commit", "-qam", "the sample in place of the CR")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.8").exit_code == 0
    plan = load_plan((repo / ".istio-canary/plan.yaml").read_text())
    new_cr_file = repo / plan.target.file
    written: dict[str, Any] = {}
    for stage in plan.stages:
        result = run("next", "--repo", str(repo))
        assert result.exit_code == 0, result.output
        if stage.kind == "control-plane":
            (written["cr"],) = yaml.safe_load_all(new_cr_file.read_text())
        if stage.kind == "gateways":
            for ref in plan.gateways:
                path = repo / (ref.file or f"istio-system/{ref.name}.yaml")
                (written[f"mgw/{ref.name}"],) = yaml.safe_load_all(path.read_text())
    return repo, written


def _check(
    name: str, sample: dict[str, Any], written: dict[str, Any], istio: Any, mgw: Any
) -> None:
    new = written["cr"]
    assert problems(new, istio) == [], name
    assert _gateways_created(new["spec"]) == [], f"{name}: stage 1 would create a gateway"
    assert "controlPlaneSecurityEnabled" not in new["spec"]
    made = _made_by_16(sample["spec"])
    adopted = {k: v for k, v in written.items() if k.startswith("mgw/")}
    assert len(adopted) == len(made), name
    for doc in adopted.values():
        assert problems(doc, mgw) == [], f"{name}: {doc['metadata']['name']}"
        spec = doc["spec"]
        block = made[spec["type"]]
        for key, value in block.items():
            if key in ("enabled", "createOnly"):
                continue
            if key == "labels":
                assert value.items() <= spec["labels"].items()
            elif value not in ("", None):
                assert spec[key] == value, f"{name}: {key} lost"
        ports = {(p["port"], p.get("targetPort")) for p in spec["ports"]}
        if not block.get("ports"):
            assert _DEFAULT_PORTS[spec["type"]] <= ports, name
        if sample["spec"].get("meshExpansion") and spec["type"] == "ingress":
            assert ports >= _MESH_EXPANSION_PORTS, name
        # 1.7 defaults these differently from 1.6: they must be stated.
        assert spec["runAsRoot"] == block.get("runAsRoot", True)
        assert spec["maxReplicas"] == block.get("maxReplicas", 5)


@pytest.mark.parametrize("sample", sorted(fact_samples()))
def test_each_sample_upgrades_into_what_the_17_crds_accept(tmp_path: Path, sample: str) -> None:
    cr = fact_samples()[sample]
    _, written = _upgrade(tmp_path, cr)
    _check(sample, cr, written, ISTIO, MESHGATEWAY)


def test_status_and_analysis_move_to_istiod_fields(tmp_path: Path) -> None:
    cr = fact_samples()["istio_v1beta1_istio.yaml"]
    repo, written = _upgrade(tmp_path, cr)
    spec = written["cr"]["spec"]
    assert spec["istiod"] == {"enabled": True, "enableStatus": True, "enableAnalysis": True}
    assert "additionalEnvVars" not in spec["pilot"]
    assert spec["controlPlaneAuthPolicy"] == "MUTUAL_TLS"
    log = git(repo, "log", "--format=%B")
    assert "controlPlaneSecurityEnabled: false -> controlPlaneAuthPolicy: MUTUAL_TLS" in log
    assert "PILOT_ENABLE_STATUS -> istiod.enableStatus: true" in " ".join(log.split())
    assert "pins chart istio-operator 0.0.69, the chart that shipped istio-operator 0.7.14" in (
        " ".join(log.split())
    )


def test_a_mesh_expansion_sample_keeps_its_ports_and_gets_no_new_gateway(tmp_path: Path) -> None:
    cr = fact_samples()["istio_v1beta1_istio_meshexpansion.yaml"]
    repo, written = _upgrade(tmp_path, cr)
    assert written["cr"]["spec"]["gateways"]["meshExpansion"] == {"enabled": False}
    names = {p["name"] for p in written["mgw/istio-ingressgateway"]["spec"]["ports"]}
    assert {"tcp-dns-tls", "tcp-istiod-grpc-tls", "tcp-pilot-grpc-tls"} <= names
    assert "gateways.meshExpansion.enabled: false" in git(repo, "log", "--format=%B")
    # The old CR's mesh-expansion Gateways select the gateway by the old revision: re-made for
    # the new one, with the servers the 1.6 operator had (istiod on, so no pilot port).
    docs = list(
        yaml.safe_load_all((repo / "istio-system/istio-sample-v17x-meshexpansion.yaml").read_text())
    )
    by_name = {d["metadata"]["name"]: d for d in docs}
    assert set(by_name) == {
        "meshexpansion-gateway-istio-sample-v17x",
        "cluster-aware-gateway-istio-sample-v17x",
    }
    for doc in docs:
        assert doc["apiVersion"] == "networking.istio.io/v1alpha3" and doc["kind"] == "Gateway"
        assert doc["spec"]["selector"] == {
            "app": "istio-ingressgateway",
            "istio": "ingressgateway",
            "istio.io/rev": "istio-sample-v17x.istio-system",
        }
    servers = by_name["meshexpansion-gateway-istio-sample-v17x"]["spec"]["servers"]
    assert [(x["port"]["name"], x["port"]["number"]) for x in servers] == [("tcp-istiod", 15012)]
    kustomization = yaml.safe_load((repo / "istio-system/kustomization.yaml").read_text())
    assert "istio-sample-v17x-meshexpansion.yaml" in kustomization["resources"]


def test_a_multimesh_sample_is_told_what_cleanup_would_take(tmp_path: Path) -> None:
    repo, _ = _upgrade(tmp_path, fact_samples()["istio_v1beta1_istio_multimesh.yaml"])
    log = " ".join(git(repo, "log", "--format=%B").split())
    assert (
        "Caution, multimesh: multimesh's multimesh Gateway, EnvoyFilter and DestinationRule" in log
    )


@pytest.mark.skipif(not MIRROR.exists(), reason="the operator's repository is not fetched")
def test_the_real_samples_against_the_real_17_crds(tmp_path: Path) -> None:
    istio, mgw = mirror_crd("istios"), mirror_crd("meshgateways")
    samples = mirror_samples()
    assert set(samples) == set(fact_samples())  # the facts cover every sample
    for i, (name, cr) in enumerate(sorted(samples.items())):
        _, written = _upgrade(tmp_path / str(i), cr)
        _check(name, cr, written, istio, mgw)
        # The facts agree with the real schema on what they were built from.
        assert problems(written["cr"], ISTIO) == [], name
