"""The Sail flavour on real git: init -> next for every stage of examples/sail-argocd and its
variants, each commit touching only the lines it must."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from core.plan import PLAN_PATH, load_plan
from tests.generator.helpers import git, head_message, run, snapshot
from tests.generator.sail.sailrepo import DEFAULT_TAG, PINNED_TAG, run_all, sail_repo

# The example as it would be written for RevisionBased from the start: labels name the revision
# the operator runs (`default-v1-27-9`); istio-injection=enabled would select no revision.
REVISION_BASED = {
    "mesh/istio.yaml": ("type: InPlace", "type: RevisionBased"),
    "apps/ingress.yaml": ("istio.io/rev: default ", "istio.io/rev: default-v1-27-9 "),
    "apps/namespaces.yaml": ("istio-injection: enabled", "istio.io/rev: default-v1-27-9"),
}


def _diff(repo: Path, rev: str = "HEAD") -> dict[str, list[str]]:
    """{file: removed/added lines} of commit `rev`, the plan file left out."""
    out: dict[str, list[str]] = {}
    names = git(repo, "show", "--name-only", "--format=", rev).split()
    for name in names:
        if name == PLAN_PATH:
            continue
        before = git(repo, "show", f"{rev}~1:{name}")
        after = git(repo, "show", f"{rev}:{name}")
        out[name] = [
            line
            for line in difflib.unified_diff(
                before.splitlines(), after.splitlines(), n=0, lineterm=""
            )
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
    return out


def _stages_with_diffs(repo: Path) -> list[tuple[str, dict[str, list[str]]]]:
    out = []
    while True:
        result = run("next", "--repo", str(repo))
        if result.exit_code != 0:
            assert "nothing to do" in result.stderr, result.stderr
            return out
        trailer = [ln for ln in head_message(repo).splitlines() if ln.startswith("Istio-Canary")]
        out.append((trailer[-1].split()[-1], _diff(repo)))


def test_the_example_goes_through_every_stage_changing_only_what_it_must(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path)
    init = run("init", "--repo", str(repo), "--to-version", "1.28.6")
    assert init.exit_code == 0, init.stderr
    assert "revision named default" in init.stderr  # the istio-injection=enabled warning
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [PLAN_PATH]
    assert _stages_with_diffs(repo) == [
        ("strategy", {"mesh/istio.yaml": ["-    type: InPlace", "+    type: RevisionBased"]}),
        ("control-plane", {"mesh/istio.yaml": ["-  version: v1.27.9", '+  version: "v1.28.6"']}),
        (
            "namespaces-1",
            {
                "apps/demo-a.yaml": [
                    "+      annotations:",
                    "+        istio-canary.io/revision: default-v1-28-6",
                ],
                "apps/namespaces.yaml": [
                    "-    istio-injection: enabled",
                    "+    istio.io/rev: default-v1-28-6",
                ],
            },
        ),
        # demo-b is on the tag prod, which follows the Istio: only its pods restart
        (
            "namespaces-2",
            {
                "apps/demo-b.yaml": [
                    "+      annotations:",
                    "+        istio-canary.io/revision: default-v1-28-6",
                ]
            },
        ),
        (
            "gateways",
            {
                "apps/ingress.yaml": [
                    "-        istio.io/rev: default  # the revision that injects it",
                    "+        istio.io/rev: default-v1-28-6  # the revision that injects it",
                ]
            },
        ),
        ("cleanup", {}),  # the operator deletes the old revision; nothing points at it
        ("cni", {"mesh/cni.yaml": ["-  version: v1.27.9", '+  version: "v1.28.6"']}),
    ]
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.complete
    assert "sail#2262" in git(repo, "log", "--format=%B", "-n", "1", "HEAD~5")  # control-plane
    status = run("status", "--repo", str(repo), "--output", "json")
    assert status.exit_code == 0 and '"flavour": "sail"' in status.stdout


def test_a_revision_based_istio_has_no_strategy_stage(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path, REVISION_BASED)
    init = run("init", "--repo", str(repo), "--to-version", "1.28.6")
    assert init.exit_code == 0, init.stderr
    assert "revision named default" not in init.stderr
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.source.revision == "default-v1-27-9"
    assert plan.sail is not None and plan.sail.gateways[0].rev_label == "default-v1-27-9"
    assert [ns.name for ns in plan.namespaces] == ["demo-a", "demo-b"]
    names = run_all(repo)
    assert names == ["control-plane", "namespaces-1", "namespaces-2", "gateways", "cleanup", "cni"]
    assert "istio.io/rev: default-v1-28-6" in (repo / "apps/ingress.yaml").read_text()


def test_labels_naming_a_revision_that_does_not_run_are_left_out(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path, {"mesh/istio.yaml": REVISION_BASED["mesh/istio.yaml"]})
    init = run("init", "--repo", str(repo), "--to-version", "1.28.6")
    assert init.exit_code == 0, init.stderr
    # RevisionBased runs default-v1-27-9: `default` and istio-injection=enabled select nothing
    assert "gateway Deployment istio-ingressgateway is not injected by the running" in init.stderr
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert [ns.name for ns in plan.namespaces] == ["demo-b"]
    assert plan.gateways == ()


def test_a_tag_pinned_to_the_old_revision_is_retargeted_at_cleanup(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path, PINNED_TAG)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.sail is not None and plan.sail.tags[0].target_kind == "IstioRevision"
    stages = dict(_stages_with_diffs(repo))
    # the wave names the new revision: the tag still points at the old one
    assert stages["namespaces-2"]["apps/namespaces.yaml"] == [
        "-    istio.io/rev: prod  # the tag: follows the Istio",
        "+    istio.io/rev: default-v1-28-6  # the tag: follows the Istio",
    ]
    # cleanup points the tag at the new revision and gives the namespace its tag back
    assert stages["cleanup"] == {
        "mesh/tag.yaml": ["-    name: default", "+    name: default-v1-28-6"],
        "apps/namespaces.yaml": [
            "-    istio.io/rev: default-v1-28-6  # the tag: follows the Istio",
            "+    istio.io/rev: prod  # the tag: follows the Istio",
        ],
    }
    tag = yaml.safe_load((repo / "mesh/tag.yaml").read_text())
    assert tag["spec"]["targetRef"] == {"kind": "IstioRevision", "name": "default-v1-28-6"}


def test_with_a_default_tag_that_follows_the_istio_waves_only_restart(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path, DEFAULT_TAG)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert [(ns.name, ns.rev_label) for ns in plan.namespaces] == [("demo-a", ""), ("demo-b", "")]
    stages = _stages_with_diffs(repo)
    restart = ["+      annotations:", "+        istio-canary.io/revision: default-v1-28-6"]
    assert stages[1:4] == [
        ("namespaces-1", {"apps/demo-a.yaml": restart}),
        ("namespaces-2", {"apps/demo-b.yaml": restart}),
        # the gateway's pod label names the tag default: it keeps it and restarts
        ("gateways", {"apps/ingress.yaml": ["+        istio-canary.io/revision: default-v1-28-6"]}),
    ]
    assert "istio-injection=enabled kept (its tag follows Istio default)" in git(
        repo, "log", "--format=%B", "-n", "1", "HEAD~4"
    )


def test_without_istio_cni_there_is_no_cni_stage(tmp_path: Path) -> None:
    repo = sail_repo(
        tmp_path,
        {"mesh/cni.yaml": None, "mesh/istio.yaml": ("enabled: true", "enabled: false")},
    )
    assert run("init", "--repo", str(repo), "--to-version", "1.29.2").exit_code == 0
    assert run_all(repo)[-2:] == ["gateways", "cleanup"]


FLUX_OPERATOR = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: sail-operator
  namespace: sail-operator
spec:
  interval: 10m
  chart:
    spec:
      chart: sail-operator
      version: 1.29.2
      sourceRef: {kind: HelmRepository, name: sail-operator}
"""
OLM_OPERATOR = """\
apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata:
  name: sailoperator
  namespace: openshift-operators
spec:
  channel: stable
  name: sailoperator
  source: community-operators
  sourceNamespace: openshift-marketplace
"""


OSSM_OPERATOR = """\
apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata:
  name: servicemeshoperator3
  namespace: openshift-operators
spec:
  channel: stable
  name: servicemeshoperator3
  source: redhat-operators
  sourceNamespace: openshift-marketplace
  startingCSV: servicemeshoperator3.v3.1.0
"""


@pytest.mark.parametrize(
    ("text", "form", "version"),
    [
        (FLUX_OPERATOR, "helmrelease", "1.29.2"),
        (OLM_OPERATOR, "olm-subscription", ""),
        # OpenShift Service Mesh counts its own versions: no Istio-minor rule applies to them
        (OSSM_OPERATOR, "olm-subscription", "3.1.0"),
    ],
    ids=["flux", "olm", "ossm"],
)
def test_the_operator_in_other_forms_is_named_and_left_alone(
    tmp_path: Path, text: str, form: str, version: str
) -> None:
    repo = sail_repo(tmp_path, {"argocd/sail-operator.yaml": None, "operator.yaml": text})
    before = (repo / "operator.yaml").read_bytes()
    init = run("init", "--repo", str(repo), "--to-version", "1.28.6")
    assert init.exit_code == 0, init.stderr
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.sail is not None
    assert (plan.sail.operator.form, plan.sail.operator.version) == (form, version)
    if form == "olm-subscription":
        assert "leaves it alone" in head_message(repo)
    run_all(repo)
    assert (repo / "operator.yaml").read_bytes() == before


def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    before, head = snapshot(repo), git(repo, "rev-parse", "HEAD")
    result = run("next", "--repo", str(repo), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "+    type: RevisionBased" in result.stdout
    assert snapshot(repo) == before and git(repo, "rev-parse", "HEAD") == head


def test_a_hand_edit_that_contradicts_the_plan_stops_next(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    istio = repo / "mesh/istio.yaml"
    istio.write_text(istio.read_text().replace("v1.27.9", "v1.28.0"))
    git(repo, "commit", "-qam", "someone bumped it by hand")
    before = snapshot(repo)
    result = run("next", "--repo", str(repo))
    assert result.exit_code == 2
    assert "Istio default has spec.version 1.28.0, the plan says 1.27.9" in result.stderr
    assert snapshot(repo) == before


def test_rollback_restores_the_labels_and_restarts_on_the_old_revision(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    for _ in range(4):  # strategy, control-plane, namespaces-1, namespaces-2
        assert run("next", "--repo", str(repo)).exit_code == 0
    result = run("rollback", "--repo", str(repo), "--namespace", "demo-a")
    assert result.exit_code == 0, result.stderr
    assert _diff(repo) == {
        "apps/demo-a.yaml": [
            "-        istio-canary.io/revision: default-v1-28-6",
            "+        istio-canary.io/revision: default",
        ],
        "apps/namespaces.yaml": [
            "-    istio.io/rev: default-v1-28-6",
            "+    istio-injection: enabled",
        ],
    }
    assert "while IstioRevision default exists" in head_message(repo)
    # demo-b's tag follows the Istio: its old revision cannot be reached through it
    refused = run("rollback", "--repo", str(repo), "--namespace", "demo-b")
    assert refused.exit_code == 2
    assert "demo-b is on tag prod (its istio.io/rev label), which follows Istio default" in (
        refused.stderr
    )
    # the next stage (gateways) still applies; cleanup waits for demo-a
    assert run("next", "--repo", str(repo)).exit_code == 0
    blocked = run("next", "--repo", str(repo))
    assert blocked.exit_code != 0 and "rolled back" in blocked.stderr


FLUX_KUSTOMIZATIONS = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: mesh
  namespace: flux-system
spec:
  interval: 5m
  path: ./mesh
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  dependsOn: [{name: mesh}]
  interval: 5m
  path: ./apps
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
"""


def test_a_flux_repo_plans_the_same_stages(tmp_path: Path) -> None:
    repo = sail_repo(
        tmp_path,
        {
            "argocd/sail-operator.yaml": None,
            "argocd/control-plane.yaml": None,
            "argocd/apps.yaml": None,
            "clusters/demo/sail-operator.yaml": FLUX_OPERATOR,
            "clusters/demo/mesh.yaml": FLUX_KUSTOMIZATIONS,
        },
    )
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.gitops_engine == "flux"
    assert [(o.kind, o.name) for o in plan.gitops_objects] == [
        ("Kustomization", "mesh"),
        ("Kustomization", "apps"),
        ("HelmRelease", "sail-operator"),
    ]
    assert run_all(repo) == [
        "strategy",
        "control-plane",
        "namespaces-1",
        "namespaces-2",
        "gateways",
        "cleanup",
        "cni",
    ]


@pytest.mark.parametrize(
    ("old", "added"),
    [
        ("    type: InPlace\n", ["+    type: RevisionBased"]),
        (
            "  updateStrategy:\n    type: InPlace\n"
            "    # short, for the rehearsal; minutes are kinder on a real cluster\n"
            "    inactiveRevisionDeletionGracePeriodSeconds: 5\n",
            ["+  updateStrategy:", "+    type: RevisionBased"],
        ),
    ],
    ids=["type unset", "no updateStrategy"],
)
def test_an_istio_in_place_by_default_gets_the_strategy_written(
    tmp_path: Path, old: str, added: list[str]
) -> None:
    repo = sail_repo(tmp_path, {"mesh/istio.yaml": (old, "")})
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    assert _diff(repo) == {"mesh/istio.yaml": added}
    istio = yaml.safe_load((repo / "mesh/istio.yaml").read_text())
    assert istio["spec"]["updateStrategy"]["type"] == "RevisionBased"


GATEWAY_RELEASE = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: edge-gateway
  namespace: argocd
spec:
  source:
    repoURL: https://istio-release.storage.googleapis.com/charts
    chart: gateway
    targetRevision: 1.27.9
  destination: {namespace: edge}
"""


def test_a_release_of_the_gateway_chart_moves_at_the_gateways_stage(tmp_path: Path) -> None:
    repo = sail_repo(tmp_path, {"argocd/edge-gateway.yaml": GATEWAY_RELEASE})
    init = run("init", "--repo", str(repo), "--to-version", "1.28.6")
    assert init.exit_code == 0, init.stderr
    assert "edge-gateway" not in init.stderr
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.sail is not None
    [rel] = plan.sail.gateway_releases
    assert (rel.name, rel.namespace, rel.version, rel.revision) == (
        "edge-gateway",
        "edge",
        "1.27.9",
        "default",  # unset: the chart's default, the InPlace Istio's revision
    )
    gateways = next(s for s in plan.stages if s.kind == "gateways")
    assert "edge-gateway" in gateways.gateways
    before = (repo / "argocd/edge-gateway.yaml").read_text()
    names = run_all(repo)
    for name, sha in zip(
        names, git(repo, "log", "--format=%H", f"-{len(names)}").split()[::-1], strict=True
    ):
        touched = git(repo, "show", "--name-only", "--format=", sha).split()
        assert ("argocd/edge-gateway.yaml" in touched) == (name == "gateways"), name
    app = yaml.safe_load((repo / "argocd/edge-gateway.yaml").read_text())
    source = app["spec"]["source"]
    assert source["targetRevision"] == "1.28.6"
    assert source["helm"]["valuesObject"] == {"revision": "default-v1-28-6"}
    assert app["spec"]["destination"] == yaml.safe_load(before)["spec"]["destination"]


@pytest.mark.parametrize(
    ("revision", "said"),
    [
        ("prod", "on tag prod, which the plan does not restart"),
        ("other-v1-27-9", "on revision other-v1-27-9, which the running revision default does "
         "not serve; left as it is"),
    ],
)  # fmt: skip
def test_a_release_of_the_gateway_chart_elsewhere_is_named_and_left_alone(
    tmp_path: Path, revision: str, said: str
) -> None:
    on_tag = GATEWAY_RELEASE.replace(
        "    targetRevision: 1.27.9\n",
        "    targetRevision: 1.27.9\n    helm:\n      parameters:\n"
        f"      - {{name: revision, value: {revision}}}\n",
    )
    repo = sail_repo(tmp_path, {"argocd/edge-gateway.yaml": on_tag})
    init = run("init", "--repo", str(repo), "--to-version", "1.28.6")
    assert init.exit_code == 0, init.stderr
    assert (
        f"Application edge-gateway (argocd/edge-gateway.yaml:1): release of Istio's gateway chart "
        f"{said}" in init.stderr
    )
    before = (repo / "argocd/edge-gateway.yaml").read_bytes()
    run_all(repo)
    assert (repo / "argocd/edge-gateway.yaml").read_bytes() == before


def test_istio_tag_and_cni_in_one_file_are_edited_in_place(tmp_path: Path) -> None:
    mesh = sail_repo(tmp_path / "src") / "mesh"
    one = "---\n".join(
        (mesh / f)
        .read_text()
        .replace("kind: Istio\n    name: default", "kind: IstioRevision\n    name: default")
        for f in ("istio.yaml", "tag.yaml", "cni.yaml")
    )
    repo = sail_repo(
        tmp_path / "repo",
        {
            "mesh/istio.yaml": None,
            "mesh/tag.yaml": None,
            "mesh/cni.yaml": None,
            "mesh/all.yaml": one,
        },
    )
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    run_all(repo)
    after = (repo / "mesh/all.yaml").read_text()
    expected = (
        one.replace("type: InPlace", "type: RevisionBased")
        .replace(
            "  version: v1.27.9\n  namespace: istio-system",
            '  version: "v1.28.6"\n  namespace: istio-system',
        )
        .replace(
            "kind: IstioRevision\n    name: default",
            "kind: IstioRevision\n    name: default-v1-28-6",
        )
        .replace(
            "  version: v1.27.9\n  namespace: istio-cni",
            '  version: "v1.28.6"\n  namespace: istio-cni',
        )
    )
    assert after == expected
