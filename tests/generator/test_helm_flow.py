"""The Helm flavour end to end on real git: every starting point, as Argo CD and as Flux, through
every stage, with each commit touching only the lines it must."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
import yaml

from core.plan import PLAN_PATH, load_plan
from tests.generator.helmrepos import argocd_files, flux_files, helm_repo
from tests.generator.helpers import build_tree, changed_files, git, head_message, run

FORMS = [
    ("argocd", "values"),
    ("argocd", "valuesObject"),
    ("argocd", "parameters"),
    ("flux", "values"),
    ("flux", "valuesFrom"),
]
STARTS = ("plain", "revisioned", "tagged", "tag-manifests")


def _changed_lines(before: str, after: str) -> list[str]:
    """The lines a modification removed or added (unified diff, no context)."""
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0, lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def _run_all(repo: Path) -> list[str]:
    """Apply every stage; return the stage names in commit order."""
    names = []
    while True:
        result = run("next", "--repo", str(repo))
        if result.exit_code != 0:
            assert "nothing to do" in result.stderr, result.stderr
            return names
        trailer = [ln for ln in head_message(repo).splitlines() if ln.startswith("Istio-Canary")]
        names.append(trailer[-1].split()[-1])


def _docs(repo: Path, path: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((repo / path).read_text()) if d]


@pytest.mark.parametrize("engine,form", FORMS)
@pytest.mark.parametrize("start", STARTS)
def test_every_stage_touches_only_what_it_must(
    tmp_path: Path, engine: str, form: str, start: str
) -> None:
    repo = helm_repo(tmp_path, engine, start, form)
    init = run("init", "--repo", str(repo), "--to-version", "1.28.2")
    assert init.exit_code == 0, init.stderr
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.flavour == "helm"
    assert plan.source.revision == ("default" if start == "plain" else "1-26-4")
    assert plan.helm is not None
    assert plan.helm.manifest_tags == (("prod-stable",) if start == "tag-manifests" else ())
    assert plan.target.revision == "1-28-2"
    assert {n.name for n in plan.namespaces} == {"demo-a", "demo-b", "edge"}
    names = _run_all(repo)
    expected = ["control-plane", "namespaces-1", "namespaces-2", "namespaces-3", "gateways"]
    if start == "tagged":
        expected += ["tags-drop", "tags-take", "tags-return"]
    if start == "tag-manifests":
        expected += ["tags-take", "tags-return"]
    expected += ["default-revision", "cleanup"]
    assert names == expected
    # every modified file changed by a handful of lines; comments survive everywhere
    commits = git(repo, "rev-list", "--reverse", "HEAD").split()[2:]
    for sha in commits:
        for path, status in changed_files(repo, sha).items():
            if path == PLAN_PATH or status != "M":
                continue
            before = git(repo, "show", f"{sha}~1:{path}")
            after = git(repo, "show", f"{sha}:{path}")
            lines = _changed_lines(before, after)
            assert 0 < len(lines) <= 16, (sha, path, lines)
            for comment in [ln for ln in before.splitlines() if "#" in ln]:
                changed = {ln[1:] for ln in lines}
                assert comment in after.splitlines() or comment in changed, (path, comment)


@pytest.mark.parametrize("engine,form", FORMS)
def test_the_new_istiod_release_is_the_old_one_with_a_few_lines_changed(
    tmp_path: Path, engine: str, form: str
) -> None:
    repo = helm_repo(tmp_path, engine, "revisioned", form)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    folder = "argocd" if engine == "argocd" else "infra/istio"
    old = (repo / folder / "istiod-1-26-4.yaml").read_text()
    new = (repo / folder / "istiod-1-28-2.yaml").read_text()
    lines = _changed_lines(old, new)
    if form in ("values", "valuesObject"):
        assert "# mesh-wide settings reviewed by the platform team" in new
    # name, release name, version, revision (+ Argo CD's sync wave and ignoreDifferences)
    ignore = ("ignoreDifferences", "admissionregistration", "WebhookConfiguration", "webhooks[]")
    ignore += ("jqPathExpressions",)
    core = [ln for ln in lines if not any(word in ln for word in ignore)]
    assert len(core) <= 12, core
    data = _docs(repo, f"{folder}/istiod-1-28-2.yaml")[0]
    assert data["metadata"]["name"] == "istiod-1-28-2"
    if engine == "argocd":
        assert data["spec"]["source"]["targetRevision"] == "1.28.2"
        assert data["spec"]["source"]["helm"]["releaseName"] == "istiod-1-28-2"
        kinds = {r["kind"] for r in data["spec"]["ignoreDifferences"]}
        assert kinds == {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
        assert "ignoreDifferences for the webhooks" in head_message(repo)
    else:
        assert data["spec"]["chart"]["spec"]["version"] == "1.28.2"
        assert {"name": "istio-base"} in data["spec"]["dependsOn"]
        listed = _docs(repo, "infra/istio/kustomization.yaml")[0]["resources"]
        assert "istiod-1-28-2.yaml" in listed


def test_a_plain_install_ends_on_the_new_revision_with_a_default_tag(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "flux", "plain")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    _run_all(repo)
    ns = {
        d["metadata"]["name"]: d["metadata"]["labels"] for d in _docs(repo, "apps/namespaces.yaml")
    }
    assert ns["demo-a"] == {"team": "demo-a", "istio.io/rev": "1-28-2"}
    assert "istio-injection" not in ns["edge"]
    assert not (repo / "infra/istio/istiod.yaml").exists()
    new = _docs(repo, "infra/istio/istiod-1-28-2.yaml")[0]
    assert new["spec"]["values"]["revision"] == "1-28-2"
    assert new["spec"]["values"]["revisionTags"] == ["default"]
    base = _docs(repo, "infra/istio/base.yaml")[0]
    assert base["spec"]["values"]["defaultRevision"] == "1-28-2"
    gateway = _docs(repo, "infra/istio/gateway.yaml")[0]
    assert gateway["spec"]["values"]["revision"] == "1-28-2"
    assert gateway["spec"]["chart"]["spec"]["version"] == "1.28.2"
    listed = _docs(repo, "infra/istio/kustomization.yaml")[0]["resources"]
    assert "istiod.yaml" not in listed and "istiod-1-28-2.yaml" in listed
    app = _docs(repo, "apps/demo-a.yaml")[0]
    assert app["spec"]["template"]["metadata"]["annotations"] == {
        "istio-canary.io/revision": "1-28-2"
    }


def test_tagged_namespaces_restart_once_and_return_to_their_stable_tag(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "argocd", "tagged", "valuesObject")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.helm is not None and plan.helm.istiod_to.tags == ("prod-canary",)
    for _ in range(2):
        assert run("next", "--repo", str(repo)).exit_code == 0
    labels = _docs(repo, "apps/namespaces.yaml")[0]["metadata"]["labels"]
    assert labels["istio.io/rev"] == "prod-canary"
    names = _run_all(repo)
    log = git(repo, "log", "--format=%H %s").splitlines()
    back = next(line.split()[0] for line in log if "back to tags prod-stable" in line)
    assert set(changed_files(repo, back)) == {"apps/namespaces.yaml", PLAN_PATH}
    assert "tags-return" in names
    labels = _docs(repo, "apps/namespaces.yaml")[0]["metadata"]["labels"]
    assert labels["istio.io/rev"] == "prod-stable"
    new = _docs(repo, "argocd/istiod-1-28-2.yaml")[0]
    assert new["spec"]["source"]["helm"]["valuesObject"]["revisionTags"] == [
        "prod-canary",
        "prod-stable",
    ]


def test_the_tag_leaves_the_old_release_one_commit_before_the_new_one_takes_it(
    tmp_path: Path,
) -> None:
    repo = helm_repo(tmp_path, "flux", "tagged")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    _run_all(repo)
    log = git(repo, "log", "--reverse", "--format=%H %s").splitlines()
    drop = next(line.split()[0] for line in log if "lets go of tags" in line)
    take = next(line.split()[0] for line in log if "point tags prod-stable" in line)
    assert set(changed_files(repo, drop)) == {"infra/istio/istiod-1-26-4.yaml", PLAN_PATH}
    assert set(changed_files(repo, take)) == {"infra/istio/istiod-1-28-2.yaml", PLAN_PATH}
    assert git(repo, "rev-parse", f"{take}~1").strip() == drop


def test_a_1_31_target_follows_the_chart_repository_move(tmp_path: Path) -> None:
    argo = helm_repo(tmp_path / "argo", "argocd", "revisioned", version="1.29.6")
    assert run("init", "--repo", str(argo), "--to-version", "1.31.1").exit_code == 0
    assert run("next", "--repo", str(argo)).exit_code == 0
    new = _docs(argo, "argocd/istiod-1-31-1.yaml")[0]
    assert new["spec"]["source"]["repoURL"] == "https://blob.istio.io/istio-release/charts"
    base = _docs(argo, "argocd/istio-base.yaml")[0]
    assert base["spec"]["source"]["repoURL"] == "https://blob.istio.io/istio-release/charts"
    old = _docs(argo, "argocd/istiod-1-26-4.yaml")[0]  # the fixture keeps its file name
    assert "storage.googleapis.com" in old["spec"]["source"]["repoURL"]
    flux = helm_repo(tmp_path / "flux", "flux", "plain", version="1.29.6")
    assert run("init", "--repo", str(flux), "--to-version", "1.31.1").exit_code == 0
    assert run("next", "--repo", str(flux)).exit_code == 0
    repo_doc = _docs(flux, "infra/istio/repository.yaml")[0]
    assert repo_doc["spec"]["url"] == "https://blob.istio.io/istio-release/charts"


def test_a_1_28_target_keeps_the_chart_repository(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "argocd", "plain")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    new = _docs(repo, "argocd/istiod-1-28-2.yaml")[0]
    assert "storage.googleapis.com" in new["spec"]["source"]["repoURL"]


def test_name_overrides_the_revision(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "flux", "plain")
    result = run("init", "--repo", str(repo), "--to-version", "1.28.2", "--name", "canary")
    assert result.exit_code == 0, result.stderr
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.target.revision == "canary" and plan.target.name == "istiod-canary"


def test_status_json_shows_the_flavour(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "argocd", "plain")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    report = json.loads(run("status", "--repo", str(repo), "--output", "json").output)
    assert report["flavour"] == "helm"
    assert report["to"]["revision"] == "1-28-2"


@pytest.mark.parametrize("engine", ["argocd", "flux"])
def test_rollback_moves_a_namespace_back_to_its_old_labels(tmp_path: Path, engine: str) -> None:
    repo = helm_repo(tmp_path, engine, "plain")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    for _ in range(2):
        assert run("next", "--repo", str(repo)).exit_code == 0
    before = (repo / "apps/namespaces.yaml").read_text()
    result = run("rollback", "--repo", str(repo), "--namespace", "demo-a")
    assert result.exit_code == 0, result.stderr
    after = (repo / "apps/namespaces.yaml").read_text()
    assert _changed_lines(before, after) == [
        "-    istio.io/rev: 1-28-2",
        "+    istio-injection: enabled",
    ]
    app = _docs(repo, "apps/demo-a.yaml")[0]
    assert app["spec"]["template"]["metadata"]["annotations"]["istio-canary.io/revision"] == (
        "default"
    )
    assert "Istio-Canary-Rollback: demo-a" in head_message(repo)
    assert load_plan((repo / PLAN_PATH).read_text()).rolled_back == ("demo-a",)
    # the next wave still applies; cleanup waits for demo-a
    names = []
    while (r := run("next", "--repo", str(repo))).exit_code == 0:
        names.append(r.output)
    assert "rolled back" in r.stderr and r.exit_code == 2


def test_tagged_rollback_is_refused_once_the_tags_left_the_old_release(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "flux", "tagged")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    for _ in range(6):  # control-plane, three waves, gateways, tags-drop
        assert run("next", "--repo", str(repo)).exit_code == 0
    result = run("rollback", "--repo", str(repo), "--namespace", "demo-a")
    assert result.exit_code == 2
    assert "no longer point at 1-26-4" in result.stderr and "tags have moved" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("engine", ["argocd", "flux"])
def test_a_tag_kept_as_manifests_moves_in_one_commit(tmp_path: Path, engine: str) -> None:
    repo = helm_repo(tmp_path, engine, "tag-manifests")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    _run_all(repo)
    folder = "argocd" if engine == "argocd" else "infra/istio"
    path = f"{folder}/tag-prod-stable.yaml"
    log = git(repo, "log", "--reverse", "--format=%H %s").splitlines()
    take = next(line.split()[0] for line in log if "point tags prod-stable" in line)
    assert set(changed_files(repo, take)) == {path, PLAN_PATH}
    before = git(repo, "show", f"{take}~1:{path}")
    lines = _changed_lines(before, (repo / path).read_text())
    assert sorted(lines) == sorted(
        ["-    istio.io/rev: 1-26-4", "+    istio.io/rev: 1-28-2"] * 3
        + ["-        name: istiod-1-26-4", "+        name: istiod-1-28-2"]
    )
    assert "# generated by `istioctl tag generate" in (repo / path).read_text()


@pytest.mark.parametrize("engine,form", FORMS[:2] + FORMS[3:4])
def test_values_the_target_no_longer_reads_are_left_out_of_the_new_release(
    tmp_path: Path, engine: str, form: str
) -> None:
    files = (argocd_files if engine == "argocd" else flux_files)("revisioned", form)
    path = "argocd/istiod-1-26-4.yaml" if engine == "argocd" else "infra/istio/istiod-1-26-4.yaml"
    indent = " " * (8 if engine == "argocd" else 4)
    files[path] = files[path].replace(
        f"{indent}pilot:\n",
        f"{indent}global:\n{indent}  multiCluster:\n{indent}    enabled: true  # old switch\n"
        f"{indent}    clusterName: east\n{indent}pilot:\n",
    )
    repo = build_tree(tmp_path, files)
    assert run("init", "--repo", str(repo), "--to-version", "1.27.9").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    new = (repo / path.replace("1-26-4", "1-27-9")).read_text()
    assert "clusterName: east" in new and "old switch" not in new
    assert "without global.multiCluster.enabled" in head_message(repo)
    assert "old switch" in (repo / path).read_text()


def test_a_default_tag_moves_with_the_default_revision(tmp_path: Path) -> None:
    files = flux_files("tagged")
    path = "infra/istio/istiod-1-26-4.yaml"
    files[path] = files[path].replace(
        "      - prod-stable\n", "      - prod-stable\n      - default\n"
    )
    repo = build_tree(tmp_path, files)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    plan = load_plan((repo / PLAN_PATH).read_text())
    stages = {s.name: s for s in plan.stages}
    assert stages["tags-drop"].tags == ("prod-stable", "default")
    assert stages["tags-take"].tags == ("prod-stable",)
    at = stages["default-revision"].index
    assert plan.tag_revision("default", at - 1) == ""
    assert plan.tag_revision("default", at) == plan.default_revision(at) == "1-28-2"
    _run_all(repo)
    log = git(repo, "log", "--reverse", "--format=%H %s").splitlines()
    default = next(line.split()[0] for line in log if "the default revision" in line)
    assert set(changed_files(repo, default)) == {
        "infra/istio/base.yaml",
        "infra/istio/istiod-1-28-2.yaml",
        PLAN_PATH,
    }
    new = _docs(repo, "infra/istio/istiod-1-28-2.yaml")[0]
    assert new["spec"]["values"]["revisionTags"] == ["prod-canary", "prod-stable", "default"]


def test_a_default_tag_kept_as_manifests_moves_with_the_default_revision(tmp_path: Path) -> None:
    from tests.generator.helmrepos import TAG_MANIFEST

    files = flux_files("revisioned")
    files["infra/istio/tag-default.yaml"] = TAG_MANIFEST.replace("prod-stable", "default")
    files["infra/istio/kustomization.yaml"] += "  - tag-default.yaml\n"
    repo = build_tree(tmp_path, files)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    names = _run_all(repo)
    assert "tags-take" not in names and "tags-drop" not in names
    log = git(repo, "log", "--reverse", "--format=%H %s").splitlines()
    default = next(line.split()[0] for line in log if "the default revision" in line)
    assert set(changed_files(repo, default)) == {
        "infra/istio/base.yaml",
        "infra/istio/tag-default.yaml",
        PLAN_PATH,
    }
    hook = _docs(repo, "infra/istio/tag-default.yaml")[0]
    assert hook["webhooks"][0]["clientConfig"]["service"]["name"] == "istiod-1-28-2"
    # the new release does not take a default tag at cleanup: the manifest is the default tag
    new = _docs(repo, "infra/istio/istiod-1-28-2.yaml")[0]
    assert "revisionTags" not in new["spec"]["values"]


def test_namespaces_labelled_by_their_argo_cd_application(tmp_path: Path) -> None:
    files = argocd_files("plain")
    files["argocd/shop.yaml"] = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop
  namespace: argocd
spec:
  source: {repoURL: https://git.example.com/fleet.git, path: shop}
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
  syncPolicy:
    syncOptions: [CreateNamespace=true]
    managedNamespaceMetadata:
      labels:
        istio-injection: enabled  # meshed
"""
    repo = build_tree(tmp_path, files)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.namespace("shop").file == "argocd/shop.yaml"
    names = _run_all(repo)
    assert "namespaces-4" in names
    app = (repo / "argocd/shop.yaml").read_text()
    assert "        istio.io/rev: 1-28-2  # meshed\n" in app
    assert "istio-injection" not in app
