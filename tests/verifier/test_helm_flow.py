"""The Helm flavour's gate on simcluster over real HTTP: every stage of the upgrade passes its
gate and its postconditions with the Helm checks, and each check says what it saw.

Repos are the generator's Helm test repos (`tests/generator/helmrepos.py`) made runnable on a
cluster (`helmsim.py`); the stage loop is `rehearsal.Pipeline`'s, with the real generator, the
real verifier CLI and kubectl where a human would use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.verifier.helmsim import HelmFlow, helm_cluster

pytestmark = pytest.mark.slow

HELM_CHECKS = (
    "control-planes",
    "revision-tags",
    "webhooks",
    "data-plane",
    "namespace-labels",
    "gateways",
)


def _passed(flow: HelmFlow, index: int) -> dict[str, str]:
    after = flow.verify("stage", str(index))
    assert after.exit_code == 0, after.reason
    return {c["name"]: c["message"] for c in after.data["checks"]}


def _evidence(flow: HelmFlow, index: int, check: str) -> list[dict[str, Any]]:
    return list(flow.verify("stage", str(index)).check(check)["evidence"])


def test_a_plain_argocd_install_passes_every_gate_to_the_end(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "argocd", "plain") as flow:
        start = _passed(flow, 0)
        # the Helm checks judge it; the Banzai ones (Istio CRs, MeshGateways) do not
        assert list(start) == ["gitops-sync", *HELM_CHECKS, "connectivity"]
        assert "istiod (1.26.4)" in start["control-planes"]
        flow.promote_to("control-plane")
        cp = _passed(flow, 1)["control-planes"]
        assert "istiod (1.26.4)" in cp and "istiod-1-28-2 (1.28.2)" in cp
        # the new istiod's Application is judged from control-plane on, the old one's until cleanup
        synced = {e["object"] for e in _evidence(flow, 1, "gitops-sync")}
        assert {"Application argocd/istiod", "Application argocd/istiod-1-28-2"} <= synced
        flow.promote_to("namespaces-1")
        pods = [
            e for e in _evidence(flow, 2, "data-plane") if e.get("pod", "").startswith("demo-a/")
        ]
        assert pods and all(p["revision"] == "1-28-2" and p["version"] == "1.28.2" for p in pods)
        flow.promote_to("gateways")
        gw = {e["gateway"]: e for e in _evidence(flow, 5, "gateways")}
        assert {p["revision"] for e in gw.values() for p in e["pods"]} == {"1-28-2"}
        assert gw["istio-ingress/istio-ingressgateway"]["service"]["address"]
        flow.promote_to("default-revision")
        tags = _passed(flow, 6)["revision-tags"]
        assert tags.startswith("default revision 1-28-2")
        cleanup = flow.promote_to("cleanup")
        assert cleanup.check("cleanup-safety")["status"] == "passed"
        end = _passed(flow, 7)
        synced = {e["object"] for e in _evidence(flow, 7, "gitops-sync")}
        assert "Application argocd/istiod-1-28-2" in synced
        assert "Application argocd/istiod" not in synced
        assert "removed: istiod" in end["control-planes"]
        assert "default -> 1-28-2" in end["revision-tags"]  # the new release took the default tag
        assert "cleanup-safety" in end and "connectivity" in end


def test_a_tagged_flux_install_moves_its_tags_and_passes_every_gate(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "flux", "tagged") as flow:
        _passed(flow, 0)
        flow.promote_to("namespaces-1")
        labels = {e["namespace"]: e for e in _evidence(flow, 2, "namespace-labels")}
        assert labels["demo-a"]["labels"] == "istio.io/rev=prod-canary"
        flow.promote_to("tags-drop")
        tags = {e.get("tag"): e for e in _evidence(flow, 6, "revision-tags")}
        assert tags["prod-stable"]["webhooks"] == []  # no release renders it between the two
        assert tags["prod-canary"]["calls"] == ["1-28-2"]
        flow.promote_to("tags-take")
        tags = {e.get("tag"): e for e in _evidence(flow, 7, "revision-tags")}
        assert tags["prod-stable"]["calls"] == ["1-28-2"]
        flow.promote_to("cleanup")
        end = _passed(flow, 10)
        assert "nothing uses 1-26-4" in end["cleanup-safety"]


def test_a_tag_kept_as_manifests_moves_in_one_commit_and_passes_every_gate(tmp_path: Path) -> None:
    with helm_cluster(tmp_path, "flux", "tag-manifests") as flow:
        flow.promote_to("gateways")
        tags = {e.get("tag"): e for e in _evidence(flow, 5, "revision-tags")}
        assert tags["prod-stable"]["webhooks"] == ["istio-revision-tag-prod-stable"]
        assert tags["prod-stable"]["calls"] == ["1-26-4"]  # the repo's manifest, not moved yet
        flow.promote_to("tags-take")
        tags = {e.get("tag"): e for e in _evidence(flow, 6, "revision-tags")}
        assert tags["prod-stable"]["calls"] == ["1-28-2"]
        assert tags["prod-stable"]["labelled"] == ["1-28-2"]
        flow.promote_to("cleanup")
        assert _passed(flow, 9)["cleanup-safety"].startswith("nothing uses 1-26-4")
