"""The chart an operator release pins, its Helm values, and whether the pair can run.

A release in a Helm repository source pins a chart version (`targetRevision` of an Argo CD
Application, `spec.chart.spec.version` of a Flux HelmRelease); a git source (`path:
deploy/charts/istio-operator`) pins an operator tag, whose chart is the one that shipped it.
The facts about which chart runs which operator are in `core/operatorchart.py`.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from core.operatorchart import SHIPPED_CHART, pair_problem

__all__ = [
    "chart_version",
    "helm_values",
    "is_git_source",
    "new_chart",
    "pair_warning",
]


def is_git_source(data: dict[str, Any]) -> bool:
    """An Application whose source is the chart directory in git (not a Helm repository)."""
    source = (data.get("spec") or {}).get("source") or {}
    return (
        data.get("kind") == "Application" and not source.get("chart") and bool(source.get("path"))
    )


def chart_version(data: dict[str, Any]) -> str:
    """The chart version a release document pins ("" for plain manifests or when unknown)."""
    spec = data.get("spec") or {}
    if data.get("kind") == "Application":
        revision = str((spec.get("source") or {}).get("targetRevision") or "")
        return SHIPPED_CHART.get(revision, "") if is_git_source(data) else revision
    if data.get("kind") == "HelmRelease":
        return str(((spec.get("chart") or {}).get("spec") or {}).get("version") or "")
    return ""


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    node = values
    parts = dotted.split(".")
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = value


def helm_values(data: dict[str, Any]) -> dict[str, Any]:
    """The values a release renders with (values, then valuesObject, then parameters)."""
    spec = data.get("spec") or {}
    out: dict[str, Any] = {}
    if data.get("kind") == "Application":
        helm = (spec.get("source") or {}).get("helm") or {}
        if isinstance(helm.get("values"), str):
            loaded = yaml.safe_load(helm["values"]) or {}
            if isinstance(loaded, dict):
                out.update(loaded)
        if isinstance(helm.get("valuesObject"), dict):
            out.update(copy.deepcopy(helm["valuesObject"]))
        for p in helm.get("parameters") or []:
            if isinstance(p, dict) and p.get("name"):
                _set(out, str(p["name"]), str(p.get("value", "")))
    elif data.get("kind") == "HelmRelease" and isinstance(spec.get("values"), dict):
        out.update(copy.deepcopy(spec["values"]))
    return out


def pair_warning(data: dict[str, Any], name: str, operator: str) -> str:
    """A warning naming the pair when a release's chart cannot run its operator ("" if fine)."""
    chart = chart_version(data)
    problem = pair_problem(chart, helm_values(data), operator) if chart else ""
    return f"operator release {name}: {problem}" if problem else ""


def new_chart(old: dict[str, Any], operator: str) -> str:
    """The chart version the new release pins: the one that shipped `operator`.

    A git source pins the operator's own tag (its chart directory is that release's chart); a
    Helm repository source pins the chart version recorded at that tag. An operator the table
    does not know keeps the old pin (the pair check at init says whether that can run).
    """
    if is_git_source(old):
        return operator
    return SHIPPED_CHART.get(operator) or chart_version(old)
