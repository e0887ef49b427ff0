"""What the Sail flavour refuses: one line naming the object and what to change, exit 2, and
nothing written (the repo's files and HEAD are as they were)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.generator.helpers import git, run, snapshot
from tests.generator.sail.sailrepo import sail_repo

ZTUNNEL = """\
apiVersion: sailoperator.io/v1
kind: ZTunnel
metadata:
  name: default
spec:
  version: v1.27.9
  namespace: ztunnel
"""
SECOND_ISTIO = """\
apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: other
spec:
  version: v1.27.9
"""
SECOND_OPERATOR = """\
apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata:
  name: servicemeshoperator3
  namespace: openshift-operators
spec:
  name: servicemeshoperator3
  channel: stable
"""
CASES: list[tuple[str, Mapping[str, tuple[str, str] | str | None], list[str], str]] = [
    (
        "alias",
        {"mesh/istio.yaml": ("version: v1.27.9", "version: v1.27-latest")},
        ["1.28.6"],
        "mesh/istio.yaml:2: Istio default: spec.version v1.27-latest is an alias, so the repo "
        "does not say which Istio Istio default runs, and the operator would put it literally "
        "in a revision name (default-v1-27-latest, sail#2262); pin it",
    ),
    (
        "no v",
        {"mesh/istio.yaml": ("version: v1.27.9", "version: 1.27.9")},
        ["1.28.6"],
        "spec.version '1.27.9' is not a release like v1.27.9",
    ),
    (
        "no version",
        {"mesh/istio.yaml": ("  version: v1.27.9\n", "")},
        ["1.28.6"],
        "Istio default has no spec.version; pin the version it runs",
    ),
    (
        "cni alias",
        {"mesh/cni.yaml": ("version: v1.27.9", "version: v1.27-latest")},
        ["1.28.6"],
        "mesh/cni.yaml:1: IstioCNI default: spec.version v1.27-latest is an alias",
    ),
    (
        "broken yaml",
        {"mesh/istio.yaml": ("  namespace: istio-system", "  namespace: [istio-system")},
        ["1.28.6"],
        "mesh/istio.yaml:9: invalid YAML",
    ),
    (
        "no operator",
        {"argocd/sail-operator.yaml": None},
        ["1.28.6"],
        "no Sail operator release in the repo",
    ),
    (
        "two operators",
        {"operator.yaml": SECOND_OPERATOR},
        ["1.28.6"],
        "several Sail operator releases (Application sail-operator",
    ),
    ("two istios", {"mesh/other.yaml": SECOND_ISTIO}, ["1.28.6"], "several Sail Istio objects"),
    ("ambient", {"mesh/ztunnel.yaml": ZTUNNEL}, ["1.28.6"], "ZTunnel default: an ambient mesh"),
    (
        "strategy",
        {"mesh/istio.yaml": ("type: InPlace", "type: Canary")},
        ["1.28.6"],
        "updateStrategy.type 'Canary' is not InPlace or RevisionBased",
    ),
    ("not newer", {}, ["1.27.9"], "--to-version 1.27.9 is not newer than 1.27.9"),
    ("three minors", {}, ["1.30.3"], "skips more than one minor"),
    (
        "cni skew",
        {"argocd/sail-operator.yaml": ("1.29.2  #", "1.30.3  #")},
        ["1.29.6"],
        "IstioCNI default (mesh/cni.yaml:1) runs 1.27.9, which works with control planes 1.27 "
        "and 1.28 only",
    ),
    (
        "operator too old",
        {"argocd/sail-operator.yaml": ("1.29.2  #", "1.27.5  #")},
        ["1.28.6"],
        "Sail operator 1.27.5 (Application sail-operator at argocd/sail-operator.yaml:1) installs "
        "Istio 1.25 to 1.27, not 1.28.6; upgrade the operator first",
    ),
    (
        "source end of life",
        {"argocd/sail-operator.yaml": ("1.29.2  #", "1.30.3  #")},
        ["1.28.6"],
        "no longer installs the running 1.27.9",
    ),
    (
        "tag named like the new revision",
        {"mesh/tag.yaml": ("name: prod", "name: default-v1-28-6")},
        ["1.28.6"],
        "IstioRevisionTag default-v1-28-6 has the name of a revision the upgrade makes",
    ),
    (
        "alias target",
        {},
        ["v1.28-latest"],
        "--to-version 'v1.28-latest' is a Sail version alias: the operator would name the "
        "revision after it (default-v1-28-latest) and move that revision in place to whatever "
        "patch a later operator release maps v1.28-latest to in its versions.yaml; pin a 1.28 "
        "release X.Y.Z (like 1.28.6",
    ),
    ("alias target without v", {}, ["1.28-latest"], "is a Sail version alias"),
    ("minor only", {}, ["1.28"], "--to-version '1.28' is not a release like 1.7.7"),
    ("name", {}, ["1.28.6", "--name", "canary"], "--name is not used for Sail"),
    ("operator version", {}, ["1.28.6", "--operator-version", "1.29.2"], "--operator-version is"),
]


@pytest.mark.parametrize(
    ("edits", "args", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_init_refuses(
    tmp_path: Path, edits: Mapping[str, tuple[str, str] | str | None], args: list[str], message: str
) -> None:
    repo = sail_repo(tmp_path, edits)
    before, head = snapshot(repo), git(repo, "rev-parse", "HEAD")
    result = run("init", "--repo", str(repo), "--to-version", *args)
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert snapshot(repo) == before and git(repo, "rev-parse", "HEAD") == head


def test_a_plan_whose_sail_section_was_edited_wrongly_is_refused(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    plan = repo / ".istio-canary/plan.yaml"
    plan.write_text(plan.read_text().replace("updateStrategy: InPlace", "updateStrategy: Rolling"))
    git(repo, "commit", "-qam", "edit")
    before = snapshot(repo)
    result = run("next", "--repo", str(repo))
    assert result.exit_code == 2
    assert (
        "sail.istio.updateStrategy 'Rolling' is not one of InPlace, RevisionBased" in result.stderr
    )
    assert snapshot(repo) == before
