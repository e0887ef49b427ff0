"""Broken repos a real user brings: each refusal is one line naming the file:line, exit 2, nothing
written. (The generic refusals of every command live in test_refusals.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.generator.helpers import example_repo, git, run, snapshot
from tests.generator.test_refusals import _commit_all, _refused


def test_duplicate_key_in_the_istio_cr_is_refused_at_its_line(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    cr = repo / "istio-system" / "istio.yaml"
    text = cr.read_text()
    cr.write_text(
        text.replace('  version: "1.6.14"\n', '  version: "1.6.14"\n  version: "1.5.0"\n')
    )
    line = cr.read_text().splitlines().index('  version: "1.5.0"') + 1
    _commit_all(repo)
    _refused(
        repo,
        ["init", "--to-version", "1.7.7"],
        f"istio-system/istio.yaml:{line}: invalid YAML (found duplicate key 'version')",
    )


def test_duplicate_key_in_a_namespace_is_named_not_reported_as_missing(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    ns = repo / "apps" / "namespaces.yaml"
    ns.write_text(ns.read_text().replace("  name: demo-a\n", "  name: demo-a\n  name: demo-x\n", 1))
    _commit_all(repo)
    _refused(
        repo,
        ["init", "--to-version", "1.7.7"],
        "apps/namespaces.yaml:7: invalid YAML (found duplicate key 'name')",
    )


def test_yaml_merge_keys_are_not_mistaken_for_duplicates(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    (repo / "apps" / "anchors.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n"
        "data:\n  base: &b {a: '1', b: '2'}\n  over:\n    <<: *b\n    a: '3'\n"
    )
    _commit_all(repo)
    r = run("init", "--repo", str(repo), "--to-version", "1.7.7")
    assert r.exit_code == 0, r.stderr
    assert "anchors.yaml" not in r.stderr


def test_non_utf8_file_to_edit_is_named_with_its_line(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    ns = repo / "apps" / "namespaces.yaml"
    ns.write_bytes(ns.read_bytes() + b"# caf\xe9\n")
    line = ns.read_bytes().count(b"\n")
    _commit_all(repo)
    _refused(
        repo,
        ["init", "--to-version", "1.7.7"],
        f"apps/namespaces.yaml:{line}: not UTF-8 (byte 0xe9)",
    )


def test_non_utf8_file_elsewhere_is_a_warning_not_silence(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    (repo / "apps" / "latin1.yaml").write_bytes(b"# caf\xe9\nkind: ConfigMap\n")
    _commit_all(repo)
    r = run("init", "--repo", str(repo), "--to-version", "1.7.7")
    assert r.exit_code == 0, r.stderr
    assert "apps/latin1.yaml:1: not UTF-8 (byte 0xe9)" in r.stderr


def test_no_istio_cr_names_the_file_that_could_not_be_parsed(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    cr = repo / "istio-system" / "istio.yaml"
    cr.write_text(cr.read_text() + "foo: [\n")
    _commit_all(repo)
    _refused(repo, ["init", "--to-version", "1.7.7"], "istio-system/istio.yaml:")
    head = git(repo, "rev-parse", "HEAD")
    before = snapshot(repo)
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 2
    assert snapshot(repo) == before and git(repo, "rev-parse", "HEAD") == head


def _plan_edited(tmp_path: Path, edit: bytes | None = None, old: str = "", new: str = "") -> Path:
    repo = example_repo(tmp_path / "repo")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    plan = repo / ".istio-canary" / "plan.yaml"
    if edit is not None:
        plan.write_bytes(plan.read_bytes() + edit)
    else:
        text = plan.read_text()
        assert old in text
        plan.write_text(text.replace(old, new, 1))
    _commit_all(repo)
    return repo


def test_plan_with_a_non_utf8_byte_is_a_one_line_plan_error(tmp_path: Path) -> None:
    repo = _plan_edited(tmp_path, edit=b"# caf\xe9\n")
    for cmd in (["status"], ["next"], ["rollback", "--namespace", "demo-a"]):
        _refused(repo, cmd, ".istio-canary/plan.yaml:")
        _refused(repo, cmd, "not UTF-8 (byte 0xe9)")


def test_plan_with_a_duplicate_key_is_refused_at_its_line(tmp_path: Path) -> None:
    repo = _plan_edited(tmp_path, edit=b"kind: Other\n")
    _refused(repo, ["next"], "invalid YAML (found duplicate key 'kind')")


def test_plan_applied_must_be_a_boolean(tmp_path: Path) -> None:
    # `applied: maybe` read as True would skip the control-plane stage.
    repo = _plan_edited(tmp_path, old="applied: false", new="applied: maybe")
    _refused(repo, ["status"], "stages[1].applied must be true or false")
    _refused(repo, ["next"], "stages[1].applied must be true or false")


def test_plan_version_that_is_not_a_version_names_the_plan_field(tmp_path: Path) -> None:
    repo = _plan_edited(tmp_path, old="version: 1.7.7", new="version: 1.x")
    _refused(repo, ["status"], ".istio-canary/plan.yaml: to.controlPlane.version '1.x' is not")


# A pre-commit hook that presses Ctrl-C: SIGINT to the whole process group (istio-canary, git,
# the hook), exactly what a terminal sends, at the worst moment (files written, git committing).
CTRL_C_HOOK = """#!/bin/sh
kill -INT -$(ps -o pgid= -p $$ | tr -d ' ') || exit 1
exec sleep 30
"""


@pytest.mark.parametrize("extra", [[], ["--branch", "stage-1"]])
def test_ctrl_c_while_committing_a_stage_leaves_the_tree_as_before(
    tmp_path: Path, extra: list[str]
) -> None:
    repo = example_repo(tmp_path / "repo")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(CTRL_C_HOOK)
    hook.chmod(0o755)
    before, head = snapshot(repo), git(repo, "rev-parse", "HEAD")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "istio-canary"), "next", "--repo", str(repo), *extra],
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=60,
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "istio-canary: interrupted; the tree is as before"
    assert snapshot(repo) == before
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert "stage-1" not in git(repo, "branch", "--list")


@pytest.mark.parametrize(
    ("script", "args", "reason"),
    [
        ("istio-canary", ["status", "--repo", "{file}"], "Invalid value for '--repo'"),
        ("istio-canary", ["init"], "Missing option '--to-version'"),
        ("istio-canary", ["nxt"], "No such command 'nxt'"),
        ("istio-canary-verify", ["stage", "-1"], "No such option '-1'"),
        ("istio-canary-verify", ["stage", "1", "--successes", "0"], "0 is not in the range x>=1"),
        ("simcluster", ["serve", "--port", "99999"], "99999 is not in the range 0<=x<=65535"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(
    tmp_path: Path, script: str, args: list[str], reason: str
) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("x")
    argv = [str(Path(sys.executable).parent / script), *(a.format(file=afile) for a in args)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith(f"{script}: error: "), line
    assert reason in line, line


def test_status_of_a_missing_repo_says_so_rather_than_run_init(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    r = run("status", "--repo", str(missing))
    assert r.exit_code == 2
    assert r.stderr.strip() == f"istio-canary: error: --repo {missing}: not a directory"
    assert not missing.exists()


def test_a_revisioned_old_cr_whose_namespaces_it_cannot_inject_is_warned_about(
    tmp_path: Path,
) -> None:
    # global: false: the operator ignores autoInjectionNamespaces and istio-injection=enabled,
    # so the plan moves no namespace; say why instead of silently planning straight to cleanup.
    repo = example_repo(tmp_path / "repo")
    cr = repo / "istio-system" / "istio.yaml"
    cr.write_text(cr.read_text().replace("\nspec:\n", "\nspec:\n  global: false\n", 1))
    _commit_all(repo)
    r = run("init", "--repo", str(repo), "--to-version", "1.7.7")
    assert r.exit_code == 0, r.stderr
    assert (
        "istio-canary: warning: istio-system/istio.yaml:4: istio-sample is revisioned "
        "(global: false), so it injects only namespaces labelled "
        "istio.io/rev=istio-sample.istio-system; it ignores autoInjectionNamespaces "
        "(demo-a, demo-b) and istio-injection=enabled (demo-a, demo-b): the plan moves no namespace"
    ) in r.stderr


@pytest.mark.parametrize("body", ["", "- a\n", "just text\n"])
def test_a_kustomization_that_is_not_a_mapping_is_refused_not_bypassed(
    tmp_path: Path, body: str
) -> None:
    # kustomize cannot build such a directory; the control-plane stage used to create the new
    # CR next to it, unlisted, and commit as if Argo CD would apply it.
    repo = example_repo(tmp_path / "repo")
    (repo / "istio-system" / "kustomization.yaml").write_text(body)
    _commit_all(repo)
    r = run("init", "--repo", str(repo), "--to-version", "1.7.7")
    assert r.exit_code == 0, r.stderr
    assert "istio-system/kustomization.yaml:1: not a kustomization" in r.stderr
    _refused(repo, ["next"], "istio-system/kustomization.yaml:1: not a kustomization")


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        (
            "v1.7.7",
            "--to-version 'v1.7.7' is not a release like 1.7.7 (Istio images are tagged X.Y.Z)",
        ),
        ("1.7", "--to-version '1.7' is not a release like 1.7.7 (Istio images are tagged X.Y.Z)"),
    ],
)
def test_to_version_must_be_an_image_tag(tmp_path: Path, version: str, reason: str) -> None:
    # v1.7.7 or 1.7 went into spec.version and the proxy/pilot image tags: ImagePullBackOff.
    repo = example_repo(tmp_path / "repo")
    _refused(repo, ["init", "--to-version", version], reason)


def _symlinked_namespaces(tmp_path: Path, target: str) -> Path:
    repo = example_repo(tmp_path / "repo")
    (repo / "shared").mkdir()
    git(repo, "mv", "apps/namespaces.yaml", f"shared/{target}")
    (repo / "apps" / "namespaces.yaml").symlink_to(f"../shared/{target}")
    _commit_all(repo)
    return repo


def test_a_symlinked_manifest_seen_twice_is_named_as_a_link(tmp_path: Path) -> None:
    repo = _symlinked_namespaces(tmp_path, "namespaces.yaml")
    _refused(
        repo,
        ["init", "--to-version", "1.7.7"],
        "apps/namespaces.yaml is a symlink to shared/namespaces.yaml",
    )


def test_a_stage_never_replaces_a_symlink_with_a_file(tmp_path: Path) -> None:
    # The link is the only YAML name of the Namespaces; os.replace would turn it into a regular
    # file (a mode change in git) and leave the real file unedited.
    repo = _symlinked_namespaces(tmp_path, "namespaces.txt")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    for _ in range(2):
        assert run("next", "--repo", str(repo)).exit_code == 0
    _refused(repo, ["next", "--dry-run"], "apps/namespaces.yaml: a symlink (to ../shared/")
    _refused(repo, ["next"], "apps/namespaces.yaml: a symlink (to ../shared/namespaces.txt)")
    assert (repo / "apps" / "namespaces.yaml").is_symlink()
