"""The seed's flow on a copy of example-repo: init + 5 next, each commit as docs/stages.md says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from core.plan import load_plan
from tests.generator.helpers import changed_files, example_repo, git, head_message, run

KUBECTL = shutil.which("kubectl")
REV_NEW = "istio-sample-v17x.istio-system"


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _kustomize_builds(root: Path) -> list[str]:
    """Object names of every kustomize directory built with the real kubectl."""
    names: list[str] = []
    if KUBECTL is None:
        return names
    for d in ("apps", "istio-system"):
        out = subprocess.run(
            [KUBECTL, "kustomize", str(root / d)], check=True, capture_output=True, text=True
        ).stdout
        names.extend(f"{o['kind']}/{o['metadata']['name']}" for o in yaml.safe_load_all(out) if o)
    return sorted(names)


@pytest.mark.slow
def test_init_and_five_stages_follow_the_stage_model(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    r = run("init", "--repo", str(repo), "--to-version", "1.7.7")
    assert r.exit_code == 0, r.output
    assert head_message(repo).rstrip().endswith("Istio-Canary-Stage: 0/5 plan")
    plan = load_plan((repo / ".istio-canary/plan.yaml").read_text())
    assert [s.name for s in plan.stages] == [
        "control-plane",
        "gateways",
        "namespaces-1",
        "namespaces-2",
        "cleanup",
    ]
    assert plan.stage(3).namespaces == ("demo-a",) and plan.stage(4).namespaces == ("demo-b",)
    labels = {c.label for c in plan.stage(3).checks}
    assert labels == {"demo-a -> app-b.demo-b", "demo-b -> app-a.demo-a"}
    assert plan.target.operator.version == "0.7.14"

    # 1: control-plane -- new CR + new operator release, nothing else moved.
    assert run("next", "--repo", str(repo)).exit_code == 0
    assert head_message(repo).rstrip().endswith("Istio-Canary-Stage: 1/5 control-plane")
    assert changed_files(repo) == {
        ".istio-canary/plan.yaml": "M",
        "argocd/istio-operator-v17x.yaml": "A",
        "istio-system/istio-sample-v17x.yaml": "A",
        "istio-system/kustomization.yaml": "M",
    }
    (cr,) = _docs(repo / "istio-system/istio-sample-v17x.yaml")
    spec = cr["spec"]
    assert cr["metadata"]["name"] == "istio-sample-v17x" and spec["global"] is False
    assert spec["version"] == "1.7.7"
    assert spec["pilot"]["image"] == "docker.io/istio/pilot:1.7.7"
    assert spec["proxy"]["image"] == spec["proxyInit"]["image"] == "docker.io/istio/proxyv2:1.7.7"
    assert spec["gateways"]["ingress"]["enabled"] is False
    assert spec["gateways"]["egress"]["enabled"] is False
    assert spec["controlPlaneAuthPolicy"] == "NONE" and "controlPlaneSecurityEnabled" not in spec
    assert "autoInjectionNamespaces" not in spec
    (app,) = _docs(repo / "argocd/istio-operator-v17x.yaml")
    helm = app["spec"]["source"]["helm"]
    assert app["metadata"]["name"] == helm["releaseName"] == "istio-operator-v17x"
    assert {p["name"]: p["value"] for p in helm["parameters"]} == {"operator.image.tag": "0.7.14"}
    assert (
        "istio-sample-v17x.yaml" in _docs(repo / "istio-system/kustomization.yaml")[0]["resources"]
    )
    _kustomize_builds(repo)

    # 2: gateways -- the operator-made ingress gateway is adopted, the old CR lets go of it.
    assert run("next", "--repo", str(repo)).exit_code == 0
    msg = head_message(repo)
    assert msg.rstrip().endswith("Istio-Canary-Stage: 2/5 gateways")
    assert "not owned by" in " ".join(msg.split()) or "no longer owned by" in msg
    # The seed's 0.6.12 operator ignores createOnly (0.6.17+): the message must not promise it.
    assert "predates `createOnly`" in msg and "drops its ownerReference" not in msg
    (mgw,) = _docs(repo / "istio-system/istio-ingressgateway.yaml")
    assert mgw["kind"] == "MeshGateway" and mgw["metadata"]["name"] == "istio-ingressgateway"
    assert mgw["spec"]["istioControlPlane"] == {
        "name": "istio-sample-v17x",
        "namespace": "istio-system",
    }
    assert mgw["spec"]["type"] == "ingress" and mgw["spec"]["serviceType"] == "LoadBalancer"
    assert [p["port"] for p in mgw["spec"]["ports"]] == [15021, 80, 443, 15443]
    (old,) = _docs(repo / "istio-system/istio.yaml")
    assert old["spec"]["gateways"]["ingress"]["createOnly"] is True
    diff = git(repo, "show", "--format=", "HEAD", "--", "istio-system/istio.yaml")
    assert [ln for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")] == [
        "+      createOnly: true"
    ]
    _kustomize_builds(repo)

    # 3 and 4: namespaces, one per wave.
    for index, ns, app_file in (
        (3, "demo-a", "apps/demo-a/app-a.yaml"),
        (4, "demo-b", "apps/demo-b/app-b.yaml"),
    ):
        assert run("next", "--repo", str(repo)).exit_code == 0
        assert (
            head_message(repo)
            .rstrip()
            .endswith(f"Istio-Canary-Stage: {index}/5 namespaces-{index - 2}")
        )
        assert changed_files(repo) == {
            ".istio-canary/plan.yaml": "M",
            "apps/namespaces.yaml": "M",
            app_file: "M",
            "istio-system/istio.yaml": "M",
        }
        nss = {d["metadata"]["name"]: d for d in _docs(repo / "apps/namespaces.yaml")}
        assert nss[ns]["metadata"]["labels"] == {"istio.io/rev": REV_NEW}
        (dep, _svc) = _docs(repo / app_file)
        assert dep["spec"]["template"]["metadata"]["annotations"] == {
            "istio-canary.io/revision": REV_NEW
        }
        (old,) = _docs(repo / "istio-system/istio.yaml")
        assert ns not in (old["spec"]["autoInjectionNamespaces"] or [])
        _kustomize_builds(repo)
    nss = {d["metadata"]["name"]: d for d in _docs(repo / "apps/namespaces.yaml")}
    assert nss["demo-a"]["metadata"]["labels"] == {"istio.io/rev": REV_NEW}

    # 5: cleanup -- the old CR and the old operator release are gone, and unlisted.
    assert run("next", "--repo", str(repo)).exit_code == 0
    assert head_message(repo).rstrip().endswith("Istio-Canary-Stage: 5/5 cleanup")
    assert changed_files(repo) == {
        ".istio-canary/plan.yaml": "M",
        "argocd/istio-operator-v16x.yaml": "D",
        "istio-system/istio.yaml": "D",
        "istio-system/kustomization.yaml": "M",
    }
    assert "istio.yaml" not in _docs(repo / "istio-system/kustomization.yaml")[0]["resources"]
    _kustomize_builds(repo)
    plan = load_plan((repo / ".istio-canary/plan.yaml").read_text())
    assert plan.complete

    done = run("next", "--repo", str(repo))
    assert done.exit_code == 2 and "nothing to do" in done.stderr
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds_every_stage(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    seen = [_kustomize_builds(repo)]
    for _ in range(5):
        assert run("next", "--repo", str(repo)).exit_code == 0
        seen.append(_kustomize_builds(repo))
    assert "Istio/istio-sample-v17x" not in seen[0] and "Istio/istio-sample-v17x" in seen[1]
    assert "MeshGateway/istio-ingressgateway" in seen[2]
    assert "Istio/istio-sample" in seen[4] and "Istio/istio-sample" not in seen[5]


def test_status_text_and_json(tmp_path: Path) -> None:
    import json

    repo = example_repo(tmp_path / "repo")
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    text = run("status", "--repo", str(repo)).output
    assert "1/5 stages applied" in text and "[x] 1/5 control-plane" in text
    assert "next: 2 gateways" in text
    report = json.loads(run("status", "--repo", str(repo), "--output", "json").output)
    assert report["applied"] == 1 and report["next"]["name"] == "gateways"
    assert [s["applied"] for s in report["stages"]] == [True, False, False, False, False]


def test_status_without_plan_is_exit_2(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    r = run("status", "--repo", str(repo))
    assert r.exit_code == 2 and "run `istio-canary init` first" in r.stderr
