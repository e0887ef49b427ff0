"""The Helm node agents on simcluster over real HTTP: a copy of examples/helm-argocd with cni
and ztunnel Applications, rendered with the istio/istio charts' DaemonSet names, labels and
images; every gate passes, the cni stage rolls both DaemonSets in place, and the node-agents
check judges each stage (source version before the stage, target version after it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rehearsal.commands import generate
from rehearsal.pipeline import Pipeline, simulated_cluster
from rehearsal.repos import make_repos
from tests.generator.helm.cnirepo import write_cni_example
from tests.generator.helmrepos import _flux_release
from tests.verifier.helmsim import HelmFlow, sim_ready_files

pytestmark = pytest.mark.slow


@contextmanager
def cni_cluster(tmp_path: Path, target: str = "1.27.9") -> Iterator[HelmFlow]:
    repos = make_repos(
        tmp_path / "origin", tmp_path / "ci", populate=write_cni_example, message="with agents"
    )
    generate("init", "--repo", str(repos.work), "--to-version", target)
    repos.push_main()
    with simulated_cluster(repos.origin, tmp_path / "sim", ()) as sim:
        yield HelmFlow(Pipeline(repos, sim, reports=tmp_path / "reports"))


def _daemonsets(flow: HelmFlow) -> dict[str, dict[str, Any]]:
    listed = json.loads(flow.kubectl("get", "daemonsets", "-n", "istio-system", "-o", "json"))
    return {d["metadata"]["name"]: d for d in listed["items"]}


def _pods(flow: HelmFlow, selector: str) -> list[dict[str, Any]]:
    out = flow.kubectl("get", "pods", "-n", "istio-system", "-l", selector, "-o", "json")
    return list(json.loads(out)["items"])


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"].get("template", {}).get("spec") or obj["spec"]
    return dict(spec["containers"][0])


def _env(obj: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(obj).get("env", [])}


def test_the_cni_stage_rolls_both_daemonsets_in_place_and_every_gate_passes(
    tmp_path: Path,
) -> None:
    with cni_cluster(tmp_path) as flow:
        ds = _daemonsets(flow)
        cni, zt = ds["istio-cni-node"], ds["ztunnel"]
        # the charts' names, labels, selectors and images (istio/istio manifests/charts, 1.28.0)
        assert cni["spec"]["selector"]["matchLabels"] == {"k8s-app": "istio-cni-node"}
        assert cni["metadata"]["labels"]["istio.io/rev"] == "default"
        assert _container(cni)["name"] == "install-cni"
        assert _container(cni)["image"] == "docker.io/istio/install-cni:1.26.4"
        assert zt["spec"]["selector"]["matchLabels"] == {"app": "ztunnel"}
        assert _container(zt)["name"] == "istio-proxy"
        assert _container(zt)["image"] == "docker.io/istio/ztunnel:1.26.4"
        assert _env(zt)["CA_ADDRESS"] == "istiod.istio-system.svc:15012"
        cni_uid, zt_uid = cni["metadata"]["uid"], zt["metadata"]["uid"]
        before = {p["metadata"]["name"] for p in _pods(flow, "k8s-app=istio-cni-node")}
        assert len(before) == 1

        start = flow.verify("stage", "0")
        assert start.exit_code == 0, start.reason
        assert start.message("node-agents").startswith("cni istio-cni, ztunnel ztunnel on their")

        flow.promote_to("default-revision")  # every gate, the node-agents check included
        gate = flow.promote_to("cni")
        assert gate.check("node-agents")["status"] == "passed"
        index = next(s.index for s in flow.pipeline.plan().stages if s.kind == "cni")
        after = flow.verify("stage", str(index))
        assert after.exit_code == 0, after.reason
        assert "on 1.27.9 on every node, rollout finished" in after.message("node-agents")

        ds = _daemonsets(flow)
        # rolled in place: the same DaemonSets, new pods on the target images
        assert ds["istio-cni-node"]["metadata"]["uid"] == cni_uid
        assert ds["ztunnel"]["metadata"]["uid"] == zt_uid
        assert _container(ds["istio-cni-node"])["image"] == "docker.io/istio/install-cni:1.27.9"
        assert _container(ds["ztunnel"])["image"] == "docker.io/istio/ztunnel:1.27.9"
        assert _env(ds["ztunnel"])["CA_ADDRESS"] == "istiod-1-27-9.istio-system.svc:15012"
        pods = _pods(flow, "k8s-app=istio-cni-node")
        assert {p["metadata"]["name"] for p in pods}.isdisjoint(before)
        assert [_container(p)["image"] for p in pods] == ["docker.io/istio/install-cni:1.27.9"]

        end = flow.promote_to("cleanup")
        assert end.check("node-agents")["status"] == "passed"


def test_an_agent_bumped_before_its_stage_fails_at_once(tmp_path: Path) -> None:
    with cni_cluster(tmp_path) as flow:
        path = flow.work / "argocd" / "ztunnel.yaml"
        path.write_text(path.read_text().replace("1.26.4", "1.27.9"))
        flow.pipeline.repos.git("commit", "-qam", "Renovate: ztunnel 1.27.9")
        flow.pipeline.repos.push_main()
        flow.pipeline.sync()
        verdict = flow.verify("stage", "0", timeout=60)
        assert verdict.exit_code == 1
        check = verdict.check("node-agents")
        assert check["status"] == "failed"
        assert "istio-system/ztunnel template runs 1.27.9, expected 1.26.4" in check["message"]


def test_a_missing_daemonset_is_never_a_pass(tmp_path: Path) -> None:
    with cni_cluster(tmp_path) as flow:
        flow.sim.set_fault("no-sync", True)  # nothing puts it back
        flow.kubectl("delete", "daemonset", "-n", "istio-system", "istio-cni-node")
        verdict = flow.verify("stage", "0", timeout=3)
        assert verdict.exit_code == 1
        check = verdict.check("node-agents")
        assert check["status"] == "pending"
        assert (
            "DaemonSet istio-system/istio-cni-node of cni release istio-cni not found"
            in (check["message"])
        )


def test_flux_agents_of_a_revisioned_istiod_move_with_it(tmp_path: Path) -> None:
    # HelmReleases this time, and a ztunnel bound to the old revision by its `revision` value
    files = sim_ready_files("flux", "revisioned")
    files["infra/istio/cni.yaml"] = _flux_release("istio-cni", "cni", "1.26.4", "")
    files["infra/istio/ztunnel.yaml"] = _flux_release(
        "ztunnel", "ztunnel", "1.26.4", "  values:\n    revision: 1-26-4\n"
    )
    files["infra/istio/kustomization.yaml"] += "  - cni.yaml\n  - ztunnel.yaml\n"

    def populate(root: Path) -> None:
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")

    repos = make_repos(tmp_path / "origin", tmp_path / "ci", populate=populate, message="flux")
    generate("init", "--repo", str(repos.work), "--to-version", "1.27.9")
    repos.push_main()
    with simulated_cluster(repos.origin, tmp_path / "sim", ()) as sim:
        flow = HelmFlow(Pipeline(repos, sim, reports=tmp_path / "reports"))
        zt = _daemonsets(flow)["ztunnel"]
        assert _env(zt)["CA_ADDRESS"] == "istiod-1-26-4.istio-system.svc:15012"
        assert zt["spec"]["template"]["metadata"]["annotations"]["istio.io/rev"] == "1-26-4"
        gate = flow.promote_to("cni")
        assert gate.check("node-agents")["status"] == "passed"
        index = next(s.index for s in flow.pipeline.plan().stages if s.kind == "cni")
        after = flow.verify("stage", str(index))
        assert after.exit_code == 0, after.reason
        zt = _daemonsets(flow)["ztunnel"]
        assert _env(zt)["CA_ADDRESS"] == "istiod-1-27-9.istio-system.svc:15012"
        assert _container(zt)["image"] == "docker.io/istio/ztunnel:1.27.9"
        evidence = {e["release"]: e for e in after.check("node-agents")["evidence"]}
        assert evidence["ztunnel"]["caAddress"] == "istiod-1-27-9.istio-system.svc:15012"
        assert [p["version"] for p in evidence["istio-cni"]["pods"]] == ["1.27.9"]
        flow.promote_to("cleanup")
