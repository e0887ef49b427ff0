"""The checks istio.io's canary and revision-tag pages tell users to run, with the real kubectl.

``kubectl get pods -n istio-system -l app=istiod -L istio.io/rev`` lists one istiod per
revision with a REV column (``default`` for the non-revisioned install); ``kubectl get
mutatingwebhookconfigurations -l istio.io/tag -L istio.io/tag,istio.io/rev`` lists the tag
webhooks with NAME, WEBHOOKS, AGE, TAG and REV; a pod's ``istio.io/rev`` annotation names the
revision that injected it.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

from simcluster.harness import SimCluster
from tests.simcluster import helmrepo

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]


def kubectl(sim: SimCluster, *args: str) -> str:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(sim.kubeconfig), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def test_canary_and_tag_checks_print_the_columns_the_docs_show(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "repo"
    helmrepo.argo_revisioned(
        repo, tags=("prod-stable", "prod-canary"), ns_label={"istio.io/rev": "prod-stable"}
    )
    helmrepo.write(repo, "argocd/istiod-default.yaml", helmrepo.argo_chart_app(
        "istiod", "istiod", "1.26.4", ignore=helmrepo.WEBHOOK_IGNORES))  # fmt: skip
    helmrepo.commit(repo, "a non-revisioned istiod beside the revision")
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        pods = rows(
            kubectl(
                sim, "get", "pods", "-n", "istio-system", "-l", "app=istiod", "-L", "istio.io/rev"
            )
        )
        assert pods[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "REV"]
        by_rev = {row[-1]: row for row in pods[1:]}
        assert sorted(by_rev) == ["1-26-4", "default"]
        assert by_rev["1-26-4"][0].startswith("istiod-1-26-4-")
        assert re.fullmatch(r"istiod-[a-z0-9]{10}-[a-z0-9]{5}", by_rev["default"][0])
        assert [row[1:3] for row in pods[1:]] == [["1/1", "Running"]] * 2
        tags = rows(kubectl(
            sim, "get", "mutatingwebhookconfigurations", "-l", "istio.io/tag",
            "-L", "istio.io/tag,istio.io/rev"))  # fmt: skip
        assert tags[0] == ["NAME", "WEBHOOKS", "AGE", "TAG", "REV"]
        assert [(r[0], r[1], r[3], r[4]) for r in tags[1:]] == [
            ("istio-revision-tag-prod-canary", "2", "prod-canary", "1-26-4"),
            ("istio-revision-tag-prod-stable", "2", "prod-stable", "1-26-4"),
        ]
        revs = kubectl(
            sim, "get", "pods", "-n", "demo-a", "-o",
            r"jsonpath={range .items[*]}{.metadata.annotations.istio\.io/rev}{'\n'}{end}",
        )  # fmt: skip
        assert revs.split() == ["1-26-4"]  # the tag's revision, not the tag
        services = rows(kubectl(sim, "get", "svc", "-n", "istio-system", "-l", "app=istiod"))
        assert sorted(r[0] for r in services[1:]) == ["istiod", "istiod-1-26-4"]
