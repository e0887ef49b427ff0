"""The generator's generic refusals: exit 2, a one-line reason, and nothing written or committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.generator.helpers import build_tree, example_repo, git, run, snapshot
from tests.generator.test_big_mesh import big_mesh

MINI = {
    "istio.yaml": """
        apiVersion: istio.banzaicloud.io/v1beta1
        kind: Istio
        metadata:
          name: mesh
          namespace: istio-system
        spec:
          version: "1.6.14"
          autoInjectionNamespaces: [a]
        """,
    "operator.yaml": """
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: istio-operator
          namespace: istio-system
        spec:
          template:
            spec:
              containers:
              - name: manager
                image: ghcr.io/banzaicloud/istio-operator:0.6.12
        """,
    "ns.yaml": """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: a
          labels:
            istio-injection: enabled
        """,
}


def _refused(repo: Path, args: list[str], reason: str) -> None:
    before, head = snapshot(repo), git(repo, "rev-parse", "HEAD")
    r = run(*args, "--repo", str(repo))
    assert r.exit_code == 2, r.output
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("istio-canary: error: "), line
    assert reason in line, line
    assert snapshot(repo) == before
    assert git(repo, "rev-parse", "HEAD") == head


def _initialised(tmp_path: Path) -> Path:
    repo = example_repo(tmp_path / "repo")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    return repo


def _commit_all(repo: Path, msg: str = "hand edit") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", msg)


def test_dirty_tree(tmp_path: Path) -> None:
    repo = _initialised(tmp_path)
    (repo / "apps/namespaces.yaml").write_text(
        "# edited\n" + (repo / "apps/namespaces.yaml").read_text()
    )
    _refused(repo, ["next"], "uncommitted changes (apps/namespaces.yaml)")


def test_untracked_file_counts_as_dirty(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    (repo / "apps/new.yaml").write_text("a: 1\n")
    _refused(repo, ["init", "--to-version", "1.7.7"], "uncommitted changes")


def test_detached_head_without_branch(tmp_path: Path) -> None:
    repo = _initialised(tmp_path)
    git(repo, "checkout", "-q", "--detach")
    _refused(repo, ["next"], "HEAD is detached")


def test_invalid_yaml_in_a_file_to_edit_names_file_and_line(tmp_path: Path) -> None:
    repo = _initialised(tmp_path)
    path = repo / "apps/demo-a/app-a.yaml"
    path.write_text(path.read_text().replace("  replicas: 1\n", "  replicas: [1\n"))
    _commit_all(repo)
    _refused(repo, ["next"], "apps/demo-a/app-a.yaml:10: invalid YAML")


def test_two_objects_with_the_same_identity(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    extra = (repo / "apps/namespaces.yaml").read_text().split("---")[0]
    (repo / "apps/more-namespaces.yaml").write_text(extra)
    _commit_all(repo)
    _refused(
        repo,
        ["init", "--to-version", "1.7.7"],
        "Namespace demo-a: two objects with the same identity (apps/more-namespaces.yaml:",
    )


def test_plan_that_does_not_match_the_repo(tmp_path: Path) -> None:
    repo = _initialised(tmp_path)
    path = repo / "apps/namespaces.yaml"
    path.write_text(
        path.read_text().replace(
            "    istio-injection: enabled", "    istio.io/rev: istio-sample-v17x.istio-system", 1
        )
    )
    _commit_all(repo)
    _refused(repo, ["next"], "plan.yaml does not match the repo: Namespace demo-a has istio.io/rev")


def test_a_gone_old_cr_is_named_among_many_namespace_problems(tmp_path: Path) -> None:
    repo = big_mesh(tmp_path / "repo", namespaces=8)
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    git(repo, "rm", "-q", "-r", "istio-system/istio.yaml", "apps")
    git(repo, "commit", "-q", "-m", "oops")
    _refused(repo, ["next"], "the old Istio CR istio-fleet is not in the repo")


def test_plan_whose_old_cr_is_gone(tmp_path: Path) -> None:
    repo = _initialised(tmp_path)
    git(repo, "rm", "-q", "istio-system/istio.yaml")
    git(repo, "commit", "-q", "-m", "oops")
    _refused(repo, ["next"], "the old Istio CR istio-sample is not in the repo")


def test_no_istio_cr(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, {k: v for k, v in MINI.items() if k != "istio.yaml"})
    _refused(
        repo, ["init", "--to-version", "1.7.7"], "no Istio CR (istio.banzaicloud.io/v1beta1) found"
    )


def test_object_in_a_kustomize_base_shared_by_overlays(tmp_path: Path) -> None:
    files = {f"base/{k}": v for k, v in MINI.items()}
    files["base/kustomization.yaml"] = "resources: [istio.yaml, operator.yaml, ns.yaml]\n"
    files["overlays/prod/kustomization.yaml"] = "resources: [../../base]\n"
    files["overlays/dev/kustomization.yaml"] = "resources: [../../base]\n"
    repo = build_tree(tmp_path, files)
    _refused(
        repo,
        ["init", "--to-version", "1.7.7"],
        "base/istio.yaml: lives in a kustomize base shared by overlays overlays/dev, overlays/prod",
    )


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("1.6.20", "is a patch release of 1.6.14"),
        ("1.5.0", "is not newer than the running 1.6.14"),
        ("1.6.14", "is not newer"),
        ("1.9.0", "jumps more than 2 minors"),
        ("2.0.0", "jumps more than 2 minors"),
        ("seven", "is not a version"),
    ],
)
def test_target_version_refusals(tmp_path: Path, version: str, reason: str) -> None:
    repo = build_tree(tmp_path, MINI)
    _refused(repo, ["init", "--to-version", version], reason)


def test_two_minor_jump_is_allowed_with_an_operator_version(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, MINI)
    r = run("init", "--repo", str(repo), "--to-version", "1.8.1", "--operator-version", "0.8.3")
    assert r.exit_code == 0, r.stderr


def test_second_plan_in_progress(tmp_path: Path) -> None:
    repo = _initialised(tmp_path)
    _refused(
        repo, ["init", "--to-version", "1.7.8"], "an upgrade to 1.7.7 is in progress (0/5 applied)"
    )


def test_unknown_wave_namespace(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    _refused(
        repo, ["init", "--to-version", "1.7.7", "--wave", "demo-a,nope"], "--wave names 'nope'"
    )


@pytest.mark.parametrize(
    ("wave", "reason"),
    [
        (",", "--wave ',' names no namespace"),
        (" , ,", "--wave ' , ,' names no namespace"),
        ("", "--wave '' names no namespace"),
        ("istio-system", "--wave names 'istio-system', which is not a namespace of the old"),
    ],
)
def test_wave_naming_no_meshed_namespace(tmp_path: Path, wave: str, reason: str) -> None:
    repo = example_repo(tmp_path / "repo")
    _refused(repo, ["init", "--to-version", "1.7.7", "--wave", wave], reason)


def test_rollback_of_a_namespace_not_moved(tmp_path: Path) -> None:
    repo = _initialised(tmp_path)
    _refused(repo, ["rollback", "--namespace", "demo-a"], "demo-a is not on istio-sample-v17x")


def test_existing_branch(tmp_path: Path) -> None:
    repo = _initialised(tmp_path)
    git(repo, "branch", "taken")
    _refused(repo, ["next", "--branch", "taken"], "the branch already exists")


def test_injected_namespace_without_manifest(tmp_path: Path) -> None:
    repo = build_tree(
        tmp_path, {**MINI, "istio.yaml": MINI["istio.yaml"].replace("[a]", "[a, ghost]")}
    )
    _refused(repo, ["init", "--to-version", "1.7.7"], "autoInjectionNamespaces lists ghost")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--name", "Istio_New"], "is not a valid object name"),
        (["--name", "istio-sample"], "is the name of the running control plane"),
        (["--operator-version", "latest"], "--operator-version 'latest' is not a version"),
        (["--operator-version", "0.6.22"], "reconciles Istio 1.6, not 1.7"),
        (["--wave-size", "0"], "--wave-size must be at least 1"),
    ],
)
def test_bad_init_options(tmp_path: Path, args: list[str], reason: str) -> None:
    repo = example_repo(tmp_path / "repo")
    _refused(repo, ["init", "--to-version", "1.7.7", *args], reason)


def test_canary_cr_already_in_the_repo(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    text = (repo / "istio-system/istio.yaml").read_text()
    new = text.replace("name: istio-sample\n", "name: istio-sample-v17x\n").replace(
        'version: "1.6.14"', 'version: "1.7.2"\n  global: false'
    )
    (repo / "istio-system/stale.yaml").write_text(new)
    _commit_all(repo)
    _refused(
        repo, ["init", "--to-version", "1.7.7"], "an Istio CR istio-sample-v17x already exists"
    )


def test_unsafe_edit_in_a_stage_is_refused_and_nothing_written(tmp_path: Path) -> None:
    gateway = """
        apiVersion: istio.banzaicloud.io/v1beta1
        kind: MeshGateway
        metadata:
          name: gw
          namespace: istio-system
          labels: &cp {name: mesh, namespace: istio-system}
        spec:
          type: ingress
          istioControlPlane: *cp
        """
    repo = build_tree(tmp_path, {**MINI, "gateway.yaml": gateway})
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    # The gateways stage would have to edit through an alias, which also changes the labels.
    _refused(repo, ["next"], "gateway.yaml:spec.istioControlPlane: value is an alias")


def test_plan_whose_new_operator_release_was_removed(tmp_path: Path) -> None:
    repo = _initialised(tmp_path)
    assert run("next", "--repo", str(repo)).exit_code == 0
    git(repo, "rm", "-q", "argocd/istio-operator-v17x.yaml")
    git(repo, "commit", "-q", "-m", "oops")
    _refused(
        repo,
        ["next"],
        "operator release istio-operator-v17x (argocd/istio-operator-v17x.yaml) is missing",
    )


def test_a_moved_namespace_that_lost_its_revision_label_names_the_missing_label(
    tmp_path: Path,
) -> None:
    repo = _initialised(tmp_path)
    for _ in range(3):  # control-plane, gateways, namespaces-1 (demo-a)
        assert run("next", "--repo", str(repo)).exit_code == 0
    path = repo / "apps/namespaces.yaml"
    text = path.read_text()
    path.write_text(
        text.replace(
            "    istio.io/rev: istio-sample-v17x.istio-system", "    istio-injection: enabled", 1
        )
    )
    _commit_all(repo)
    _refused(
        repo,
        ["next"],
        "Namespace demo-a has no istio.io/rev label (istio-injection=enabled) but the plan says "
        "moved (it should carry istio.io/rev=istio-sample-v17x.istio-system)",
    )
