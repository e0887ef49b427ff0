"""The chart/operator pair: which chart ships which operator, and what a wrong pair does."""

from __future__ import annotations

from pathlib import Path

from core.operatorchart import SHIPPED_CHART, chart_flags, pair_problem
from generator.chartpin import chart_version, helm_values, new_chart, pair_warning
from simcluster.controllers.kubelet import pod_ready
from simcluster.controllers.operator_chart import UNKNOWN_FLAGS
from tests.generator.helpers import example_repo, git
from tests.generator.helpers import run as cli
from tests.simcluster.simhelp import Obj, Sim, run


def _app(name: str, chart: str, tag: str, istio: str | None) -> Obj:
    params = [{"name": "operator.image.tag", "value": tag}]
    if istio is not None:
        params.append({"name": "istioVersion", "value": istio})
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "source": {
                "repoURL": "https://kubernetes-charts.banzaicloud.com",
                "chart": "istio-operator",
                "targetRevision": chart,
                "helm": {"releaseName": name, "parameters": params},
            },
            "destination": {"namespace": "istio-system"},
        },
    }


def test_the_chart_that_shipped_each_operator() -> None:
    assert SHIPPED_CHART["0.6.12"] == SHIPPED_CHART["0.6.22"] == SHIPPED_CHART["0.7.0"] == "0.0.60"
    assert SHIPPED_CHART["0.7.8"] == SHIPPED_CHART["0.7.14"] == "0.0.69"
    old = _app("istio-operator-v16x", "0.0.88", "0.6.12", "1.6")
    assert new_chart(old, "0.7.14") == "0.0.69"
    git = _app("op", "0.6.12", "0.6.12", "1.6")
    del git["spec"]["source"]["chart"]
    git["spec"]["source"]["path"] = "deploy/charts/istio-operator"
    assert new_chart(git, "0.7.14") == "0.7.14"  # the chart directory at the operator's tag
    assert chart_version(git) == "0.0.60"
    assert helm_values(old) == {"operator": {"image": {"tag": "0.6.12"}}, "istioVersion": "1.6"}


def test_a_chart_too_new_for_the_operator_is_named_with_the_flag() -> None:
    # 0.0.88 defaults to istioVersion 1.10: --webhook-name and --webhook-service-address.
    assert chart_flags("0.0.88", "1.10") == ["--webhook-name", "--webhook-service-address"]
    problem = pair_problem("0.0.88", {}, "0.7.14")
    assert "--webhook-service-address" in problem and "0.7.14" in problem and "default" in problem
    assert pair_problem("0.0.88", {"istioVersion": "1.7"}, "0.7.14") == ""
    assert pair_problem("0.0.69", {"istioVersion": "1.7"}, "0.7.14") == ""
    assert "--webhook-name" in pair_problem("0.0.69", {}, "0.6.12")
    assert pair_problem("0.0.60", {"istioVersion": "1.6"}, "0.6.12") == ""
    # Published 0.0.60 is 0.7.0's chart: without istioVersion it renders for 1.7.
    assert "pin istioVersion 1.6" in pair_problem("0.0.60", {}, "0.6.12")
    warning = pair_warning(_app("op", "0.0.88", "0.7.14", None), "op", "0.7.14")
    assert warning.startswith("operator release op: chart istio-operator 0.0.88")


def test_simcluster_crash_loops_a_pair_that_crash_loops_for_real() -> None:
    async def scenario() -> None:
        sim = Sim()
        sim.ensure_ns("argocd")
        sim.apply(
            _app("istio-operator-bad", "0.0.88", "0.7.14", None),
            _app("istio-operator-good", "0.0.69", "0.7.14", "1.7"),
        )
        await sim.settle()
        bad = sim.store.get("StatefulSet", "istio-system", "istio-operator-bad")
        assert bad is not None
        manager = bad["spec"]["template"]["spec"]["containers"][1]
        assert "--webhook-service-address" in manager["args"]
        assert bad["spec"]["template"]["metadata"]["annotations"][UNKNOWN_FLAGS] == (
            "--webhook-service-address"
        )
        (pod,) = sim.pods("istio-system", "app.kubernetes.io/instance=istio-operator-bad")
        waiting = {
            cs["name"]: (cs.get("state") or {}).get("waiting", {}).get("reason")
            for cs in pod["status"]["containerStatuses"]
        }
        assert waiting["manager"] == "CrashLoopBackOff" and not pod_ready(pod)
        (manager_status,) = [
            cs for cs in pod["status"]["containerStatuses"] if cs["name"] == "manager"
        ]
        assert manager_status["lastState"]["terminated"]["message"] == (
            "flag provided but not defined: -webhook-service-address"
        )
        (good,) = sim.pods("istio-system", "app.kubernetes.io/instance=istio-operator-good")
        assert pod_ready(good)
        app = sim.store.get("Application", "argocd", "istio-operator-bad")
        assert app is not None and app["status"]["health"]["status"] == "Progressing"

    run(scenario())


def test_init_warns_naming_an_old_pair_that_cannot_run(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    app = repo / "argocd/istio-operator-v16x.yaml"
    text = app.read_text().replace("targetRevision: 0.0.60", "targetRevision: 0.0.69")
    app.write_text(text.replace('value: "1.6"', 'value: "1.7"'))
    git(repo, "commit", "-qam", "a chart that hands 0.6.12 --webhook-name")
    result = cli("init", "--repo", str(repo), "--to-version", "1.7.7")
    assert result.exit_code == 0
    assert (
        "warning: operator release istio-operator-v16x: chart istio-operator 0.0.69 with "
        "istioVersion 1.7 (pinned) passes --webhook-name, which istio-operator 0.6.12 does not "
        "know" in result.stderr
    )


def test_the_seed_pair_gets_no_warning(tmp_path: Path) -> None:
    result = cli("init", "--repo", str(example_repo(tmp_path)), "--to-version", "1.7.7")
    assert result.exit_code == 0 and "operator release" not in result.stderr
