"""Stage PRs on a 2,500-namespace mesh in 250-namespace waves open on both fake forges.

The fake forges refuse titles and bodies over the real limits, so this fails the way GitHub and
GitLab would if a title listed a whole wave or a body tabled every namespace of the mesh.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.headline import SUBJECT_MAX
from generator.pullrequest import parse_marker
from tests.fakeforge import GITHUB_LIMITS, GITLAB_LIMITS, FakeForge
from tests.generator.helpers import build_tree, git, run

NAMESPACES = 2_500
WAVE = 250

CR = """\
apiVersion: istio.banzaicloud.io/v1beta1
kind: Istio
metadata:
  name: istio-fleet
  namespace: istio-system
spec:
  version: "1.6.14"
  gateways:
    ingress:
      enabled: true
"""

OPERATOR = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: istio-operator-v16x
  namespace: argocd
spec:
  source:
    repoURL: https://kubernetes-charts.banzaicloud.com
    chart: istio-operator
    targetRevision: 0.0.88
    helm:
      releaseName: istio-operator-v16x
      parameters:
      - name: operator.image.tag
        value: "0.6.12"
  destination:
    namespace: istio-system
"""

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
  labels:
    istio-injection: enabled
"""

APP = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: {ns}
spec:
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
      - name: api
        image: registry.example.com/api:1.0
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: {ns}
spec:
  selector:
    app: api
  ports:
  - port: 80
"""


def big_mesh(root: Path, namespaces: int = NAMESPACES) -> Path:
    """A committed repo: one control plane, its operator, and small meshed namespaces."""
    files = {
        "istio-system/istio.yaml": CR,
        "argocd/istio-operator-v16x.yaml": OPERATOR,
    }
    for i in range(namespaces):
        ns = f"app-{i:04d}"
        files[f"apps/{ns}/namespace.yaml"] = NAMESPACE.format(ns=ns)
        files[f"apps/{ns}/app.yaml"] = APP.format(ns=ns)
    return build_tree(root, files)


def subjects(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s").splitlines()


@pytest.mark.slow
def test_stage_prs_open_on_a_big_mesh_on_both_forges(tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    work = big_mesh(tmp_path / "work")
    init = run("init", "--repo", str(work), "--to-version", "1.7.7", "--wave-size", str(WAVE))
    assert init.exit_code == 0, init.output
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "-q", "origin", "main")

    with FakeForge(bare_repo=bare) as forge:
        # The first stage's PR, whose body once tabled all 2,500 namespaces.
        gh_env = {"GITHUB_TOKEN": forge.token, "GITHUB_REPOSITORY": forge.project}
        first = _open(work, "github", forge.url, gh_env)
        assert "opened github #1: istio-canary 1/" in first

        # Merge it and the gateways stage, then the first wave's PR on each forge.
        git(work, "checkout", "-q", "main")
        git(work, "merge", "-q", "--ff-only", "istio-canary/istio-fleet-v17x/control-plane")
        assert run("next", "--repo", str(work)).exit_code == 0
        git(work, "push", "-q", "origin", "main")
        wave = _open(work, "github", forge.url, gh_env)
        again = tmp_path / "again"
        git(tmp_path, "clone", "-q", str(bare), str(again))
        gl_env = {"GITLAB_TOKEN": forge.token, "CI_PROJECT_PATH": forge.project}
        merge_request = _open(again, "gitlab", forge.url + "/api/v4", gl_env)

        assert "opened github #2: istio-canary 3/" in wave
        assert "opened gitlab #1: istio-canary 3/" in merge_request
        pull, mr = forge.pulls[2], forge.merge_requests[1]
        assert "250 namespaces (app-0000 … app-0249)" in pull["title"]
        assert len(pull["title"]) <= GITHUB_LIMITS["title"]
        assert len(pull["body"]) <= GITHUB_LIMITS["body"]
        assert len(mr["title"]) <= GITLAB_LIMITS["title"]
        assert len(mr["description"]) <= GITLAB_LIMITS["description"]
        for body in (pull["body"], mr["description"]):
            # The wave's own namespaces in full, the rest counted, the marker last.
            assert all(f"app-{i:04d}" in body for i in range(WAVE))
            assert "app-0250" not in body.split("### Namespaces")[1]
            assert "2,250 more namespaces stay on `istio-fleet.istio-system`" in body
            assert (parse_marker(body) or {}).get("name") == "namespaces-1"
            assert body.rstrip().endswith("-->")
        assert all(len(s) <= SUBJECT_MAX for s in subjects(work) + subjects(again))


def _open(repo: Path, kind: str, api: str, env: dict[str, str]) -> str:
    """`istio-canary next --open-pr KIND` in `repo`; its output."""
    args = ["next", "--repo", str(repo), "--open-pr", kind, "--api-url", api]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    return result.output
