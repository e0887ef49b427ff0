"""Values the target istiod chart renamed are moved in the new release, those it no longer reads
are dropped, each named in the commit; the old release keeps its own. The table's facts come
from the istio/istio charts' values.yaml, templates and release notes at the release tags
(`generator/flavours/helm/chartvalues.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.flavours.helm.chartvalues import removed_values, renamed_values
from tests.generator.helmrepos import argocd_files, flux_files
from tests.generator.helpers import build_tree, head_message, run

CNI = ("istio_cni.enabled", "pilot.cni.enabled"), ("istio_cni.provider", "pilot.cni.provider")


def test_the_cni_switch_moves_when_the_target_stops_reading_istio_cni() -> None:
    # 1.22 and 1.23 templates read `pilot.cni.enabled or istio_cni.enabled`; 1.24 only pilot.cni
    assert renamed_values("istiod", "1.23.6", "1.24.6") == CNI
    assert renamed_values("istiod", "1.22.8", "1.24.6") == CNI
    assert renamed_values("istiod", "1.21.6", "1.23.6") == ()  # both names still work
    assert renamed_values("istiod", "1.24.6", "1.26.8") == ()
    # dropping istio_cni.enabled at 1.22 would turn CNI-mode injection off
    assert "istio_cni.enabled" not in removed_values("istiod", "1.21.6", "1.23.6")
    gone = removed_values("istiod", "1.23.6", "1.24.6")
    assert {"istio_cni.chained", "pilot.useMCP", "global.proxy.enableCoreDump"} <= set(gone)
    assert all(renamed_values("istiod", f"1.{m}.0", f"1.{m + 2}.0") == () for m in range(24, 30))


def _with_cni(text: str, indent: str) -> str:
    return text.replace(
        f"{indent}pilot:\n",
        f"{indent}istio_cni:  # CNI node agent installed by the platform team\n"
        f"{indent}  enabled: true\n{indent}  chained: true\n{indent}  provider: default\n"
        f"{indent}pilot:\n",
        1,
    )


def _values(doc: dict[str, Any], engine: str, form: str) -> dict[str, Any]:
    if engine == "flux":
        return dict(doc["spec"]["values"])
    helm = doc["spec"]["source"]["helm"]
    if form == "values":
        return dict(yaml.safe_load(helm["values"]))
    return dict(helm["valuesObject"])


@pytest.mark.parametrize(
    "engine,form", [("argocd", "values"), ("argocd", "valuesObject"), ("flux", "values")]
)
def test_istio_cni_moves_to_pilot_cni_and_chained_goes(
    tmp_path: Path, engine: str, form: str
) -> None:
    files = (argocd_files if engine == "argocd" else flux_files)("revisioned", form, "1.23.6")
    folder = "argocd" if engine == "argocd" else "infra/istio"
    path = f"{folder}/istiod-1-26-4.yaml"
    files[path] = _with_cni(files[path], " " * (8 if engine == "argocd" else 4))
    repo = build_tree(tmp_path, files)
    assert run("init", "--repo", str(repo), "--to-version", "1.24.6").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    new = yaml.safe_load((repo / f"{folder}/istiod-1-24-6.yaml").read_text())
    values = _values(new, engine, form)
    assert "istio_cni" not in values
    assert values["pilot"]["cni"] == {"enabled": True, "provider": "default"}
    assert values["pilot"]["resources"] == {"requests": {"cpu": "200m"}}
    old = (repo / path).read_text()
    assert "istio_cni:  # CNI node agent" in old and "chained: true" in old  # the old one's own
    message = head_message(repo)
    assert "istio_cni.enabled -> pilot.cni.enabled, istio_cni.provider -> pilot.cni.provider" in (
        message
    )
    assert "without istio_cni.chained" in message


def test_an_argo_cd_parameter_is_renamed_in_place(tmp_path: Path) -> None:
    files = argocd_files("revisioned", "parameters", "1.23.6")
    path = "argocd/istiod-1-26-4.yaml"
    files[path] = files[path].replace(
        "      parameters:\n",
        "      parameters:\n        - name: istio_cni.enabled\n          value: 'true'\n",
        1,
    )
    repo = build_tree(tmp_path, files)
    assert run("init", "--repo", str(repo), "--to-version", "1.24.6").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    new = yaml.safe_load((repo / "argocd/istiod-1-24-6.yaml").read_text())
    params = {p["name"]: p["value"] for p in new["spec"]["source"]["helm"]["parameters"]}
    assert params["pilot.cni.enabled"] == "true" and "istio_cni.enabled" not in params
    assert "istio_cni.enabled -> pilot.cni.enabled" in head_message(repo)


def test_chained_false_is_named_with_what_it_meant(tmp_path: Path) -> None:
    files = flux_files("revisioned", "values", "1.23.6")
    path = "infra/istio/istiod-1-26-4.yaml"
    files[path] = _with_cni(files[path], " " * 4).replace("chained: true", "chained: false")
    repo = build_tree(tmp_path, files)
    assert run("init", "--repo", str(repo), "--to-version", "1.24.6").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    assert "istio_cni.chained: false meant Multus" in head_message(repo)
    assert "pilot.cni.provider: multus" in head_message(repo)


@pytest.mark.parametrize("inline", [True, False])
def test_a_value_from_the_shared_configmap_is_set_under_its_new_name_inline(
    tmp_path: Path, inline: bool
) -> None:
    files = flux_files("revisioned", "valuesFrom", "1.23.6")
    cm = "infra/istio/istiod-values.yaml"
    files[cm] = _with_cni(files[cm], " " * 4)
    release = "infra/istio/istiod-1-26-4.yaml"
    if not inline:  # no `values:` yet: revision and pilot.cni must create it once
        files[release] = files[release].replace(
            "  values:\n    pilot:\n      autoscaleEnabled: false\n", ""
        )
        assert "  values:" not in files[release]
    repo = build_tree(tmp_path, files)
    assert run("init", "--repo", str(repo), "--to-version", "1.24.6").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    new = yaml.safe_load((repo / "infra/istio/istiod-1-24-6.yaml").read_text())
    assert new["spec"]["values"]["pilot"]["cni"] == {"enabled": True, "provider": "default"}
    assert "istio_cni:" in (repo / cm).read_text()  # the old release still reads it
