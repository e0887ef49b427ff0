"""The gate says why a new operator crash-loops: the pod, CrashLoopBackOff and the unknown flag.

The seed's stage 1 on simcluster with the new operator's release pinned to chart 0.0.88 (operator
0.10.3's chart, default istioVersion "1.10"), which passes `--webhook-service-address`, a flag
operator 0.7.x does not know (issue 8). `stage 1` must fail at once naming all three, not only
"no running operator supports Istio 1.7.x".
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV
from tests.verifier.simseed import git, seed_cluster

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]


def _pin_chart_0088(release: Path) -> None:
    """Chart 0.0.88 and no istioVersion: the chart's own default, "1.10", decides the flags."""
    lines = release.read_text().splitlines(keepends=True)
    out: list[str] = []
    skip = 0
    for line in lines:
        if skip:
            skip -= 1
            continue
        if line.strip().startswith("targetRevision:"):
            line = line.split("targetRevision:")[0] + "targetRevision: 0.0.88\n"
        if line.strip() == "- name: istioVersion":
            skip = 2  # its value and forceString lines
            continue
        out.append(line)
    text = "".join(out)
    assert "istioVersion" not in text and "targetRevision: 0.0.88" in text, text
    release.write_text(text)


def test_a_crash_looping_new_operator_is_named_with_its_unknown_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.fspath(tmp_path / ".gitconfig"))
    monkeypatch.setenv("KUBECACHEDIR", os.fspath(tmp_path / "kubecache"))
    with seed_cluster(tmp_path) as seed:
        assert seed.open_pr() == "1"
        release = next(
            p for p in (seed.work / "argocd").glob("istio-operator-*.yaml") if "v16x" not in p.name
        )
        _pin_chart_0088(release)
        git(seed.work, "commit", "-q", "-am", "stage 1 with a chart too new for operator 0.7")
        seed.merge()
        bad = seed.verify("stage", "1", timeout=10)
        assert bad.exit_code == 1, bad.output
        check = bad.check("control-planes")
        assert check["status"] == "failed", check
        msg = check["message"]
        name = release.stem  # the release's StatefulSet pod is <release>-0
        assert f"operator pod istio-system/{name}-0 container manager: CrashLoopBackOff" in msg
        assert "flag provided but not defined: -webhook-service-address" in msg
        # the pod and the message are the cluster's, as kubectl shows them
        last = seed.kubectl(
            "get",
            "pod",
            "-n",
            "istio-system",
            f"{name}-0",
            "-o",
            "jsonpath={.status.containerStatuses[?(@.name=='manager')].lastState.terminated.message}",
        )
        assert last == "flag provided but not defined: -webhook-service-address"
