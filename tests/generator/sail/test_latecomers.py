"""A namespace labelled for the old Sail revision (or one of its tags) after `init` is taken into
the plan by `next`, as in the other flavours, instead of being left on a revision cleanup ends."""

from __future__ import annotations

from pathlib import Path

from core.plan import PLAN_PATH, read_plan_file
from tests.generator.helpers import git, run
from tests.generator.sail.sailrepo import sail_repo

APP = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
  labels:
    {label}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: {ns}
spec:
  selector:
    matchLabels: {{app: app}}
  template:
    metadata:
      labels: {{app: app}}
    spec:
      containers:
      - name: app
        image: registry.k8s.io/e2e-test-images/agnhost:2.45
---
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: {ns}
spec:
  selector: {{app: app}}
  ports:
  - {{name: http, port: 80, targetPort: 8080}}
"""


def _add(repo: Path, ns: str, label: str) -> None:
    (repo / f"apps/{ns}.yaml").write_text(APP.format(ns=ns, label=label))
    kust = repo / "apps/kustomization.yaml"
    kust.write_text(kust.read_text() + f"  - {ns}.yaml\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"a team meshes {ns} on the running revision")


def _next(repo: Path) -> str:
    r = run("next", "--repo", str(repo))
    assert r.exit_code == 0, r.stderr
    return r.output + r.stderr


def _stages(repo: Path) -> list[str]:
    return [s.name for s in read_plan_file(repo / PLAN_PATH).stages]


def test_a_namespace_on_the_old_revision_joins_the_next_wave(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    _next(repo)  # strategy
    _add(repo, "demo-c", "istio.io/rev: default")  # the InPlace Istio's revision
    said = _next(repo)  # control-plane; demo-c joins namespaces-1
    assert "namespace demo-c is meshed by default but was not in the plan" in said
    plan = read_plan_file(repo / PLAN_PATH)
    wave = plan.stage(3)
    assert wave.name == "namespaces-1" and "demo-c" in wave.namespaces
    assert any(c.source_namespace == "demo-c" for c in wave.checks)
    assert plan.namespace("demo-c").meshed_by == ("istio.io/rev",)
    assert plan.namespace("demo-c").rev_label == "default"
    _next(repo)  # namespaces-1 moves demo-c too
    text = (repo / "apps/demo-c.yaml").read_text()
    assert "istio.io/rev: default-v1-28-6" in text
    assert "istio-canary.io/revision: default-v1-28-6" in text


def test_a_namespace_on_a_tag_after_the_last_wave_gets_a_wave_before_cleanup(
    tmp_path: Path,
) -> None:
    repo = sail_repo(tmp_path)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    before = _stages(repo)
    waves = [n for n in before if n.startswith("namespaces-")]
    for _ in range(before.index("cleanup")):  # up to cleanup, gateways included
        _next(repo)
    _add(repo, "demo-d", "istio.io/rev: prod")  # the tag that follows the Istio
    said = _next(repo)  # not cleanup: demo-d first
    assert f"taken into a new wave namespaces-{len(waves) + 1} before cleanup" in said
    stages = _stages(repo)
    assert stages[stages.index("cleanup") - 1] == f"namespaces-{len(waves) + 1}"
    text = (repo / "apps/demo-d.yaml").read_text()
    assert "istio.io/rev: prod" in text  # the tag already points at the new revision
    assert "istio-canary.io/revision: default-v1-28-6" in text  # so the pods only restart
    assert read_plan_file(repo / PLAN_PATH).next_stage.name == "cleanup"  # type: ignore[union-attr]


def test_after_cleanup_nothing_is_taken_in(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    stages = _stages(repo)
    for _ in range(stages.index("cleanup") + 1):
        _next(repo)
    _add(repo, "demo-e", "istio.io/rev: default")
    said = _next(repo)  # cni
    assert "demo-e" not in said
    assert _stages(repo) == stages
    assert "istio.io/rev: default\n" in (repo / "apps/demo-e.yaml").read_text()
