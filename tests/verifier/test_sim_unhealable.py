"""States that will not heal, on simcluster over real HTTP: the gate fails early and says why.

An Istio patch that was never released cannot be pulled, so the new istiod never starts: the
verifier must FAIL before its deadline naming ImagePullBackOff and the image, not wait it out.
A CR no running operator supports is never reconciled, and the report names exactly that.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from tests.verifier.simseed import git, seed_cluster

pytestmark = pytest.mark.slow


def test_an_unreleased_istio_version_fails_early_naming_the_image(tmp_path: Path) -> None:
    with seed_cluster(tmp_path, to_version="1.7.99") as seed:
        seed.promote()  # the control-plane stage: istiod-istio-sample-v17x at pilot:1.7.99
        started = time.monotonic()
        r = seed.verify("stage", "1", timeout=30)
        elapsed = time.monotonic() - started
        assert r.exit_code == 1
        assert elapsed < 15, f"waited {elapsed:.1f}s for a state that will not heal"
        msg = r.message("control-planes")
        assert r.check("control-planes")["status"] == "failed"
        assert "istiod istio-system/istiod-istio-sample-v17x cannot start:" in msg
        assert ": ImagePullBackOff (docker.io/istio/pilot:1.7.99)" in msg


def test_a_crash_looping_app_after_the_move_fails_the_stage_early(tmp_path: Path) -> None:
    with seed_cluster(tmp_path) as seed:
        seed.promote()
        seed.promote()
        seed.open_pr()  # namespaces-1 (demo-a); its workloads also get a crash-looping app
        app = seed.work / "apps/demo-a/app-a.yaml"
        docs = list(yaml.safe_load_all(app.read_text()))
        docs[0]["spec"]["template"]["metadata"]["annotations"][
            "simcluster.istio-canary.dev/crash-loop"
        ] = "echo-service"
        app.write_text(yaml.safe_dump_all(docs))
        git(seed.work, "commit", "-qam", "app-a now crashes at start")
        seed.merge()
        started = time.monotonic()
        r = seed.verify("stage", "3", timeout=30)
        assert r.exit_code == 1 and time.monotonic() - started < 15
        assert "echo-service: CrashLoopBackOff" in r.message("data-plane")


def test_a_cr_no_running_operator_supports_is_reported_as_such(tmp_path: Path) -> None:
    with seed_cluster(tmp_path) as seed:
        seed.open_pr()  # control-plane stage, then the CR is hand-edited to a 1.8 version
        cr = seed.work / "istio-system/istio-sample-v17x.yaml"
        cr.write_text(cr.read_text().replace('version: "1.7.7"', 'version: "1.8.0"'))
        assert 'version: "1.8.0"' in cr.read_text()
        git(seed.work, "commit", "-qam", "try Istio 1.8 instead")
        seed.merge()
        r = seed.verify("stage", "1", timeout=3)
        assert r.exit_code == 1
        assert (
            "Istio istio-system/istio-sample-v17x is not reconciled yet (no running operator "
            "supports Istio 1.8.0; running: istio-operator-v16x-0 0.6.12, istio-operator-v17x-0 0.7.14)"
        ) in r.message("control-planes")
