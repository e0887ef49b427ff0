"""A namespace meshed after `init` is taken into the plan by `next`, not left for cleanup to break."""

from __future__ import annotations

from pathlib import Path

from core.plan import PLAN_PATH, read_plan_file
from tests.generator.helpers import example_repo, git, run

DEMO_C = """\
---
apiVersion: v1
kind: Namespace
metadata:
  name: demo-c
  labels:
    istio-injection: enabled
"""

APP_C = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-c
  namespace: demo-c
spec:
  replicas: 1
  selector:
    matchLabels:
      k8s-app: app-c
  template:
    metadata:
      labels:
        k8s-app: app-c
    spec:
      containers:
      - name: echo-service
        image: k8s.gcr.io/echoserver:1.10
---
apiVersion: v1
kind: Service
metadata:
  name: app-c
  namespace: demo-c
spec:
  ports:
  - name: http
    port: 80
    targetPort: 8080
  selector:
    k8s-app: app-c
"""


def _add_demo_c(repo: Path) -> None:
    ns = repo / "apps/namespaces.yaml"
    ns.write_text(ns.read_text() + DEMO_C)
    (repo / "apps/demo-c").mkdir()
    (repo / "apps/demo-c/app-c.yaml").write_text(APP_C)
    kust = repo / "apps/kustomization.yaml"
    kust.write_text(kust.read_text() + "- demo-c/app-c.yaml\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a team adds demo-c to the 1.6 mesh")


def _next(repo: Path) -> str:
    r = run("next", "--repo", str(repo))
    assert r.exit_code == 0, r.output
    return r.output + r.stderr


def test_a_namespace_added_before_a_wave_joins_the_next_wave(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    _next(repo)  # control-plane
    _add_demo_c(repo)
    said = _next(repo)  # gateways: demo-c joins namespaces-1, the next wave
    assert "namespace demo-c is meshed by istio-sample but was not in the plan" in said
    plan = read_plan_file(repo / PLAN_PATH)
    assert "demo-c" in [n.name for n in plan.namespaces]
    wave = plan.stage(3)
    assert wave.name == "namespaces-1" and wave.namespaces == ("demo-a", "demo-c")
    assert any(c.source_namespace == "demo-c" for c in wave.checks)
    assert any(c.target_namespace == "demo-c" for c in wave.checks)
    assert plan.total == 5 and plan.applied_index == 2
    _next(repo)  # namespaces-1 now moves demo-c too
    text = (repo / "apps/namespaces.yaml").read_text()
    assert text.count("istio.io/rev: istio-sample-v17x.istio-system") == 2


def test_a_namespace_added_after_the_last_wave_gets_a_wave_before_cleanup(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    for _ in range(4):  # control-plane, gateways, namespaces-1, namespaces-2
        _next(repo)
    _add_demo_c(repo)
    said = _next(repo)  # not cleanup: demo-c first
    assert "taken into a new wave namespaces-3 before cleanup" in said
    plan = read_plan_file(repo / PLAN_PATH)
    assert [s.name for s in plan.stages][-2:] == ["namespaces-3", "cleanup"]
    assert plan.total == 6 and plan.applied_index == 5
    assert plan.stage(5).namespaces == ("demo-c",)
    assert "istio-canary 5/6" in git(repo, "log", "-1", "--format=%s")
