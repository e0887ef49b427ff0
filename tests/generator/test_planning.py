"""Pure pieces of planning: names, versions, waves, probes, and the derived canary CR."""

from __future__ import annotations

import pytest
import yaml

from core.errors import UsageError
from generator.naming import canary_name, honours_create_only, retag
from generator.planning import MAX_FULL_PAIRS, MAX_STAGE_PAIRS, probe_pairs, split_waves
from generator.resources import example_repo_dir
from generator.stages.control_plane import derive_spec
from generator.stages.gateways import adopted_spec


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("istio-sample", "1.7.7", "istio-sample-v17x"),
        ("istio-sample-v16x", "1.7.0", "istio-sample-v17x"),
        ("mesh-v16x", "1.8.1", "mesh-v18x"),
        ("cp", "1.10.0", "cp-v110x"),
    ],
)
def test_canary_name_follows_the_vNNx_convention(name: str, version: str, expected: str) -> None:
    assert canary_name(name, version) == expected


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("docker.io/istio/pilot:1.6.14", "docker.io/istio/pilot:1.7.7"),
        ("my.registry:5000/istio/proxyv2:1.6.14", "my.registry:5000/istio/proxyv2:1.7.7"),
        ("my.registry:5000/istio/proxyv2", "my.registry:5000/istio/proxyv2:1.7.7"),
    ],
)
def test_retag_keeps_registry_and_repository(image: str, expected: str) -> None:
    assert retag(image, "1.7.7") == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.6.12", False),
        ("0.6.16", False),
        ("0.6.17", True),
        ("0.6.22", True),
        ("0.7.1", False),
        ("0.7.2", True),
        ("0.7.14", True),
        ("not-a-version", False),
    ],
)
def test_create_only_is_honoured_from_0_6_17_and_0_7_2(version: str, expected: bool) -> None:
    assert honours_create_only(version) is expected


def test_waves_explicit_first_then_the_rest_by_size() -> None:
    names = ["a", "b", "c", "d", "e"]
    assert split_waves(names, [["d"]], 2) == [["d"], ["a", "b"], ["c", "e"]]
    assert split_waves(names, [], 1) == [["a"], ["b"], ["c"], ["d"], ["e"]]
    with pytest.raises(UsageError, match="twice"):
        split_waves(names, [["a"], ["a"]], 1)
    with pytest.raises(UsageError, match="at least 1"):
        split_waves(names, [], 0)


def test_small_meshes_probe_every_pair_big_ones_a_bounded_spread() -> None:
    assert probe_pairs(["a", "b"], ["c"], ["b"]) == [("a", "c"), ("b", "c")]
    wave = [f"w{i:03d}" for i in range(250)]
    rest = [f"r{i:04d}" for i in range(2000)]
    pairs = probe_pairs(wave, rest, wave)
    assert MAX_FULL_PAIRS < len(pairs) <= MAX_STAGE_PAIRS
    assert all(a in wave and b in rest for a, b in pairs)
    assert len({a for a, _ in pairs}) == len(pairs)  # each probed namespace once


def test_derived_spec_of_the_seed_sample() -> None:
    (cr,) = yaml.safe_load_all((example_repo_dir() / "istio-system/istio.yaml").read_text())
    spec = derive_spec(cr["spec"], "1.6.14", "1.7.7")
    assert list(spec)[:2] == ["version", "global"] and spec["global"] is False
    assert spec["policy"]["image"] == "docker.io/istio/mixer:1.7.7"
    assert spec["controlPlaneAuthPolicy"] == "MUTUAL_TLS"  # as the 1.7 operator and samples
    assert "controlPlaneSecurityEnabled" not in spec and "autoInjectionNamespaces" not in spec
    assert spec["gateways"]["ingress"]["enabled"] is False
    assert spec["gateways"]["ingress"]["ports"] == cr["spec"]["gateways"]["ingress"]["ports"]
    # The old spec is left alone.
    assert cr["spec"]["gateways"]["ingress"]["enabled"] is True


def test_adopted_gateway_matches_what_the_operator_generated() -> None:
    (cr,) = yaml.safe_load_all((example_repo_dir() / "istio-system/istio.yaml").read_text())
    block = cr["spec"]["gateways"]["ingress"]
    spec = adopted_spec("ingress", block, "istio-sample-v17x", "istio-system")
    assert spec["istioControlPlane"] == {"name": "istio-sample-v17x", "namespace": "istio-system"}
    assert spec["labels"] == {"app": "istio-ingressgateway", "istio": "ingressgateway"}
    assert spec["serviceType"] == "LoadBalancer" and spec["runAsRoot"] is True
    assert "enabled" not in spec and "loadBalancerIP" not in spec
