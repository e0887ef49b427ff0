"""rollback, --dry-run, --branch, atomic writes and --verbose notes, on real git repos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from core.errors import InputError
from core.plan import load_plan
from generator import workflow
from tests.generator.helpers import example_repo, git, head_message, run, snapshot

OLD = "istio-sample.istio-system"
NEW = "istio-sample-v17x.istio-system"


def _at_stage(tmp_path: Path, applied: int) -> Path:
    repo = example_repo(tmp_path / "repo")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    for _ in range(applied):
        assert run("next", "--repo", str(repo)).exit_code == 0
    return repo


def test_rollback_restores_labels_list_and_restarts_pods(tmp_path: Path) -> None:
    repo = _at_stage(tmp_path, 3)  # demo-a moved
    original_ns = git(repo, "show", "HEAD~4:apps/namespaces.yaml")
    r = run("rollback", "--repo", str(repo), "--namespace", "demo-a")
    assert r.exit_code == 0, r.stderr
    assert head_message(repo).rstrip().endswith("Istio-Canary-Rollback: demo-a")
    # The namespace file is byte-for-byte back to where it started.
    assert (repo / "apps/namespaces.yaml").read_text() == original_ns
    cr = yaml.safe_load((repo / "istio-system/istio.yaml").read_text())
    assert cr["spec"]["autoInjectionNamespaces"] == ["demo-b", "demo-a"]
    dep = next(yaml.safe_load_all((repo / "apps/demo-a/app-a.yaml").read_text()))
    assert dep["spec"]["template"]["metadata"]["annotations"] == {"istio-canary.io/revision": OLD}
    plan = load_plan((repo / ".istio-canary/plan.yaml").read_text())
    assert plan.rolled_back == ("demo-a",) and plan.expected_revision("demo-a") == OLD
    # Moving on is allowed; cleanup is not, while demo-a still needs the old control plane.
    assert run("next", "--repo", str(repo)).exit_code == 0
    r = run("next", "--repo", str(repo))
    assert r.exit_code == 2 and "demo-a were rolled back" in r.stderr


def test_rollback_after_cleanup_is_refused(tmp_path: Path) -> None:
    repo = _at_stage(tmp_path, 5)
    r = run("rollback", "--repo", str(repo), "--namespace", "demo-a")
    assert r.exit_code == 2 and "cleanup is applied" in r.stderr


def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    repo = _at_stage(tmp_path, 2)
    before, head = snapshot(repo), git(repo, "rev-parse", "HEAD")
    r = run("next", "--repo", str(repo), "--dry-run")
    assert r.exit_code == 0
    assert r.output.startswith("# would commit: istio-canary 3/5: move demo-a to istio-sample-v17x")
    assert (
        "-    istio-injection: enabled\n+    istio.io/rev: istio-sample-v17x.istio-system\n"
        in r.output
    )
    assert '-  - "demo-a"\n' in r.output
    assert "+        istio-canary.io/revision: istio-sample-v17x.istio-system\n" in r.output
    assert snapshot(repo) == before and git(repo, "rev-parse", "HEAD") == head
    # The same change, for real, is exactly what the dry run showed.
    assert run("next", "--repo", str(repo)).exit_code == 0
    shown = git(repo, "show", "--format=", "HEAD", "--", "apps/namespaces.yaml")
    assert "+    istio.io/rev: istio-sample-v17x.istio-system" in shown


def test_branch_commits_on_a_new_branch(tmp_path: Path) -> None:
    repo = _at_stage(tmp_path, 0)
    main_head = git(repo, "rev-parse", "main")
    r = run("next", "--repo", str(repo), "--branch", "canary/control-plane")
    assert r.exit_code == 0, r.stderr
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "canary/control-plane"
    assert git(repo, "rev-parse", "main") == main_head
    assert git(repo, "rev-parse", "HEAD~1") == main_head
    assert "Istio-Canary-Stage: 1/5 control-plane" in head_message(repo)


def test_branch_works_from_a_detached_head(tmp_path: Path) -> None:
    repo = _at_stage(tmp_path, 0)
    git(repo, "checkout", "-q", "--detach")
    assert run("next", "--repo", str(repo), "--branch", "stage-1").exit_code == 0
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "stage-1"


def test_interrupted_write_leaves_the_tree_as_before(tmp_path: Path) -> None:
    repo = _at_stage(tmp_path, 2)
    before, head = snapshot(repo), git(repo, "rev-parse", "HEAD")
    calls: list[str] = []

    def second_rename_fails(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        os.replace(src, dst)

    with pytest.raises(InputError, match="the tree is as before"):
        workflow.next_stage(repo, rename=second_rename_fails)
    assert len(calls) == 2
    assert snapshot(repo) == before
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""


def test_failed_commit_restores_the_files(tmp_path: Path) -> None:
    repo = _at_stage(tmp_path, 1)
    before = snapshot(repo)
    hook = repo / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho refused by hook >&2\nexit 1\n")
    hook.chmod(0o755)
    r = run("next", "--repo", str(repo))
    assert r.exit_code == 2 and "git commit failed" in r.stderr
    assert snapshot(repo) == before
    assert git(repo, "status", "--porcelain") == ""


def test_verbose_notes_skipped_files(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    (repo / "charts/x/templates").mkdir(parents=True)
    (repo / "charts/x/templates/dep.yaml").write_text("name: {{ .Values.name }}\n")
    (repo / "secrets.yaml").write_text("data: ENC[AES]\nsops:\n  mac: x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")
    r = run("init", "--repo", str(repo), "--to-version", "1.7.7", "--verbose", "--dry-run")
    assert r.exit_code == 0
    assert "note: skipped charts/x/templates/dep.yaml: Helm/Go template" in r.stderr
    assert "note: skipped secrets.yaml: SOPS-encrypted" in r.stderr
    assert "note: skipped README.md: not YAML" in r.stderr
    quiet = run("init", "--repo", str(repo), "--to-version", "1.7.7", "--dry-run")
    assert "note:" not in quiet.stderr


def test_waves_and_wave_size(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    r = run("init", "--repo", str(repo), "--to-version", "1.7.7", "--wave", "demo-b,demo-a")
    assert r.exit_code == 0
    plan = load_plan((repo / ".istio-canary/plan.yaml").read_text())
    assert [(s.name, s.namespaces) for s in plan.stages if s.kind == "namespaces"] == [
        ("namespaces-1", ("demo-b", "demo-a"))
    ]
    assert plan.total == 4


def test_rerun_of_a_dry_run_init_is_deterministic(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    first = run("init", "--repo", str(repo), "--to-version", "1.7.7", "--dry-run").output
    second = run("init", "--repo", str(repo), "--to-version", "1.7.7", "--dry-run").output
    assert first == second and "+kind: UpgradePlan" in first


def test_repo_may_be_a_subdirectory_of_the_git_work_tree(tmp_path: Path) -> None:
    import shutil

    from generator.resources import example_repo_dir

    top = tmp_path / "platform"
    shutil.copytree(example_repo_dir(), top / "mesh")
    (top / "other").mkdir()
    (top / "other/notes.yaml").write_text("a: 1\n")
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "start")
    repo = top / "mesh"
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    files = git(top, "show", "--name-only", "--format=", "HEAD").split()
    assert "mesh/istio-system/istio-sample-v17x.yaml" in files
    assert all(f.startswith("mesh/") for f in files)
    # Changes outside the GitOps directory do not block it.
    (top / "other/notes.yaml").write_text("a: 2\n")
    assert run("next", "--repo", str(repo), "--dry-run").exit_code == 0


def test_crlf_files_stay_crlf_through_a_stage(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    for rel in ("apps/namespaces.yaml", "apps/demo-a/app-a.yaml"):
        path = repo / rel
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "windows")
    before = {
        rel: (repo / rel).read_bytes() for rel in ("apps/namespaces.yaml", "apps/demo-a/app-a.yaml")
    }
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    for _ in range(3):
        assert run("next", "--repo", str(repo)).exit_code == 0
    ns = (repo / "apps/namespaces.yaml").read_bytes()
    app = (repo / "apps/demo-a/app-a.yaml").read_bytes()
    assert b"\n" not in ns.replace(b"\r\n", b"") and b"\n" not in app.replace(b"\r\n", b"")
    assert ns == before["apps/namespaces.yaml"].replace(
        b"    istio-injection: enabled\r\n---",
        b"    istio.io/rev: istio-sample-v17x.istio-system\r\n---",
    )
    assert app == before["apps/demo-a/app-a.yaml"].replace(
        b"        k8s-app: app-a\r\n    spec:",
        b"        k8s-app: app-a\r\n      annotations:\r\n"
        b"        istio-canary.io/revision: istio-sample-v17x.istio-system\r\n    spec:",
    )


def test_reverting_a_rollback_commit_moves_the_namespace_again(tmp_path: Path) -> None:
    repo = _at_stage(tmp_path, 4)  # both namespaces moved
    assert run("rollback", "--repo", str(repo), "--namespace", "demo-b").exit_code == 0
    refused = run("next", "--repo", str(repo))
    assert refused.exit_code == 2 and "git revert" in refused.stderr
    git(repo, "revert", "--no-edit", "HEAD")
    r = run("next", "--repo", str(repo))
    assert r.exit_code == 0, r.stderr
    assert "Istio-Canary-Stage: 5/5 cleanup" in head_message(repo)
