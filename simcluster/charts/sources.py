"""Which Helm release of an Istio chart an Argo CD Application or a Flux HelmRelease declares.

Pure: reads the GitOps objects as their controllers do and returns the chart, version, release
name, namespace and merged values; the syncer renders them with ``charts.istio``.

Argo CD (``spec.source`` or, multi-source, the entry of ``spec.sources`` with a ``chart``):
``repoURL`` one of Istio's chart repositories (``https://`` or OCI, with or without ``oci://``),
``chart``, ``targetRevision``; values merged as Argo CD does, lowest first: ``helm.valueFiles``
(``$<ref>/path`` names a file of a ``ref:`` source of the same Application, read from the
commit), ``helm.values`` (YAML text), ``helm.valuesObject``, then ``helm.parameters``
(``a.b.c=value``). Release name: ``helm.releaseName`` or the Application's name; namespace:
``destination.namespace``.

Flux: ``spec.chart.spec`` (``chart``, ``version``, ``sourceRef`` to a ``HelmRepository``, which
may be ``type: oci``) or ``spec.chartRef`` to an ``OCIRepository`` (``url`` ending in the chart
name, ``ref.tag``); values: each ``valuesFrom`` ConfigMap/Secret key in order (``targetPath``
too), then ``spec.values``. Release name: ``releaseName`` or ``[<targetNamespace>-]<name>``;
namespace: ``targetNamespace`` or the HelmRelease's own.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from core.errors import InputError
from simcluster.charts.istio import CHARTS, is_istio_repository

__all__ = ["ChartRelease", "argo_release", "flux_release", "resolve_version", "set_path"]

Obj = dict[str, Any]
ReadFile = Callable[[str], "str | None"]
ReadObject = Callable[[str, str, str], "Obj | None"]  # (kind, namespace, name)


@dataclass(frozen=True)
class ChartRelease:
    """One Helm release of one of Istio's charts, as the GitOps object declares it."""

    chart: str
    version: str
    release: str
    namespace: str
    repository: str
    values: Obj = field(default_factory=dict)


def _merge(base: Obj, over: Obj) -> Obj:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _yaml_map(text: str, where: str) -> Obj:
    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise InputError(f"{where}: values are not valid YAML: {err}") from None
    if not isinstance(loaded, dict):
        raise InputError(f"{where}: values are not a YAML map")
    return loaded


def set_path(values: Obj, dotted: str, value: Any) -> None:
    """Helm's ``--set a.b.c=value`` (dots escaped as ``\\.`` stay in the key)."""
    parts = [p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", dotted)]
    node = values
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def _parameter_value(raw: str) -> Any:
    """Helm ``--set`` typing: booleans, integers and ``{a,b}`` lists; the rest stays a string."""
    if raw in ("true", "false"):
        return raw == "true"
    if re.fullmatch(r"-?[0-9]+", raw):
        return int(raw)
    if raw.startswith("{") and raw.endswith("}"):
        return [item for item in raw[1:-1].split(",") if item]
    return raw


def resolve_version(wanted: str, released: Iterable[str]) -> str:
    """An exact chart version, or the newest released one matching ``1.28.x``/``1.28.*``/``~1.28``."""
    wanted = wanted.strip().lstrip("v")
    match = re.fullmatch(r"~?\s*(\d+)\.(\d+)(?:\.[xX*]|\.\d+)?|(\d+)\.(\d+)\.[xX*]", wanted)
    if re.fullmatch(r"\d+\.\d+\.\d+", wanted) or not match:
        return wanted
    major, minor = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
    candidates = [v for v in released if re.fullmatch(rf"{major}\.{minor}\.\d+", v)]
    if not candidates:
        return wanted
    return max(candidates, key=lambda v: tuple(int(x) for x in v.split(".")))


def argo_release(app: Obj, read_file: ReadFile | None = None) -> ChartRelease | None:
    """The Istio chart release of an Application, or None when its source is something else."""
    spec = app.get("spec") or {}
    sources = [spec["source"]] if spec.get("source") else list(spec.get("sources") or [])
    chart_source = next((s for s in sources if s.get("chart")), None)
    if chart_source is None:
        return None
    chart = str(chart_source.get("chart"))
    if chart not in CHARTS or not is_istio_repository(str(chart_source.get("repoURL", ""))):
        return None
    name = str(app["metadata"]["name"])
    helm = chart_source.get("helm") or {}
    values: Obj = {}
    refs = {str(s["ref"]): s for s in sources if s.get("ref")}
    for value_file in helm.get("valueFiles") or []:
        path = str(value_file)
        if path.startswith("$"):
            ref, _, rest = path[1:].partition("/")
            if ref not in refs:
                raise InputError(f"Application {name}: valueFiles {path!r} names no source ref")
            path = rest
        text = read_file(path) if read_file is not None else None
        if text is None:
            if helm.get("ignoreMissingValueFiles"):
                continue
            raise InputError(f"Application {name}: value file {path!r} not found in the commit")
        values = _merge(values, _yaml_map(text, path))
    if helm.get("values"):
        values = _merge(values, _yaml_map(str(helm["values"]), f"Application {name} helm.values"))
    if isinstance(helm.get("valuesObject"), dict):
        values = _merge(values, helm["valuesObject"])
    for param in helm.get("parameters") or []:
        raw = str(param.get("value", ""))
        value = raw if param.get("forceString") else _parameter_value(raw)
        set_path(values, str(param.get("name")), value)
    return ChartRelease(
        chart=chart,
        version=str(chart_source.get("targetRevision") or ""),
        release=str(helm.get("releaseName") or name),
        namespace=str((spec.get("destination") or {}).get("namespace") or "default"),
        repository=str(chart_source.get("repoURL")),
        values=values,
    )


def _find(sources: Iterable[Obj], kind: str, namespace: str, name: str) -> Obj | None:
    for obj in sources:
        meta = obj.get("metadata") or {}
        if (
            obj.get("kind") == kind
            and str(meta.get("name")) == name
            and str(meta.get("namespace") or "flux-system") == namespace
        ):
            return obj
    return None


def flux_release(
    hr: Obj, repositories: Iterable[Obj], read_object: ReadObject | None = None
) -> ChartRelease | None:
    """The Istio chart release of a HelmRelease, or None when its chart is something else.

    ``repositories`` are the HelmRepository / OCIRepository objects of the commit;
    ``read_object`` reads a ConfigMap or Secret from the cluster for ``valuesFrom`` (an
    unresolvable one is an ``InputError`` with helm-controller's wording).
    """
    meta = hr["metadata"]
    own_ns = str(meta.get("namespace") or "flux-system")
    spec = hr.get("spec") or {}
    repos = list(repositories)
    if spec.get("chartRef"):
        ref = spec["chartRef"]
        if ref.get("kind") != "OCIRepository":
            return None
        repo = _find(
            repos, "OCIRepository", str(ref.get("namespace") or own_ns), str(ref.get("name"))
        )
        if repo is None:
            return None
        url = str((repo.get("spec") or {}).get("url", "")).rstrip("/")
        base, _, chart = url.rpartition("/")
        version = str(((repo.get("spec") or {}).get("ref") or {}).get("tag") or "")
    else:
        chart_spec = (spec.get("chart") or {}).get("spec") or {}
        chart = str(chart_spec.get("chart") or "")
        version = str(chart_spec.get("version") or "*")
        source = chart_spec.get("sourceRef") or {}
        if source.get("kind") != "HelmRepository":
            return None
        repo = _find(
            repos, "HelmRepository", str(source.get("namespace") or own_ns), str(source.get("name"))
        )
        if repo is None:
            return None
        base = str((repo.get("spec") or {}).get("url", ""))
    if chart not in CHARTS or not is_istio_repository(base):
        return None
    values: Obj = {}
    for item in spec.get("valuesFrom") or []:
        kind = str(item.get("kind", "ConfigMap"))
        name = str(item.get("name"))
        key = str(item.get("valuesKey") or "values.yaml")
        found = read_object(kind, own_ns, name) if read_object is not None else None
        text: str | None = None
        if found is not None:
            if kind == "Secret":
                raw = (found.get("data") or {}).get(key)
                text = base64.b64decode(raw).decode() if raw is not None else None
                text = text if text is not None else (found.get("stringData") or {}).get(key)
            else:
                text = (found.get("data") or {}).get(key)
        if text is None:
            if item.get("optional"):
                continue
            what = "ConfigMap" if kind == "ConfigMap" else "Secret"
            raise InputError(
                f"could not resolve {what} chart values reference '{own_ns}/{name}' "
                f"with key '{key}'"
            )
        if item.get("targetPath"):
            set_path(values, str(item["targetPath"]), _parameter_value(str(text)))
        else:
            values = _merge(values, _yaml_map(str(text), f"{kind} {own_ns}/{name} key {key}"))
    values = _merge(values, spec.get("values") or {})
    target = spec.get("targetNamespace")
    return ChartRelease(
        chart=chart,
        version=version,
        release=str(
            spec.get("releaseName") or (f"{target}-{meta['name']}" if target else meta["name"])
        ),
        namespace=str(target or own_ns),
        repository=base,
        values=values,
    )
