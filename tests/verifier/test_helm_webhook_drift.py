"""An Argo CD repo without the `ignoreDifferences` for istiod's webhook rewrites, upgraded gate by
gate on simcluster: istiod patches `caBundle` into its webhooks and flips the validator's
`failurePolicy`, so the running istiod's Application is OutOfSync before the upgrade starts.

The control-plane stage adds the `ignoreDifferences`, but its own gate runs before it is merged;
the gate must still tell that drift (live facts: Argo CD's per-resource status and the object's
last applied configuration) from a real one, and every later gate must find Argo CD Synced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rehearsal.commands import generate
from rehearsal.pipeline import Pipeline, simulated_cluster
from rehearsal.repos import copy_helm_example, make_repos
from tests.verifier.helmsim import HelmFlow

pytestmark = pytest.mark.slow

_IGNORES = re.compile(r"  ignoreDifferences:\n(?:    .*\n|      .*\n)+")


def _without_ignores(root: Path) -> None:
    copy_helm_example(root)
    for name in ("istiod.yaml", "istio-base.yaml"):
        path = root / "argocd" / name
        text, n = _IGNORES.subn("", path.read_text(encoding="utf-8"))
        assert n == 1, name
        path.write_text(text, encoding="utf-8")


@contextmanager
def _naive_cluster(tmp_path: Path) -> Iterator[HelmFlow]:
    repos = make_repos(
        tmp_path / "origin", tmp_path / "ci", populate=_without_ignores, message="no ignores"
    )
    generate("init", "--repo", str(repos.work), "--to-version", "1.28.2")
    repos.push_main()
    with simulated_cluster(repos.origin, tmp_path / "sim") as sim:
        yield HelmFlow(Pipeline(repos, sim, reports=tmp_path / "reports"))


def _sync_status(flow: HelmFlow, app: str) -> str:
    return flow.kubectl(
        "get", "application", "-n", "argocd", app, "-o", "jsonpath={.status.sync.status}"
    )


def test_istiods_own_webhook_drift_does_not_hold_the_upgrade_back(tmp_path: Path) -> None:
    with _naive_cluster(tmp_path) as flow:
        # the starting point really is what users complain about
        assert _sync_status(flow, "istiod") == "OutOfSync"
        gate = flow.promote()  # control-plane: the gate judges the unmerged PR on this cluster
        judged = {e["object"]: e for e in gate.check("gitops-sync")["evidence"]}
        drift = judged["Application argocd/istiod"]
        assert drift["syncStatus"] == "OutOfSync"
        assert drift["istiodWebhookDrift"], drift
        # once merged, Argo CD ignores the fields for the old and the new istiod alike
        for app in ("istiod", "istio-base", "istiod-1-28-2"):
            assert _sync_status(flow, app) == "Synced", app
        flow.promote()  # the next gate finds every Application Synced


def test_a_hand_edit_beside_istiods_rewrites_is_still_drift(tmp_path: Path) -> None:
    with _naive_cluster(tmp_path) as flow:
        flow.sim.set_fault("no-sync", True)  # else selfHeal puts the edit back at once
        validator = "validatingwebhookconfiguration/istio-validator-istio-system"
        flow.kubectl(
            "patch", validator, "--type=json",
            "-p", '[{"op":"replace","path":"/webhooks/0/rules/0/operations","value":["CREATE"]}]',
        )  # fmt: skip
        start = flow.verify("stage", "0", timeout=4)
        assert start.exit_code == 1, start.reason
        assert (
            "Application argocd/istiod sync status OutOfSync, not Synced (ValidatingWebhookConfiguration "
            "istio-validator-istio-system differs in webhook rev.validation.istio.io rules)"
        ) in start.reason
