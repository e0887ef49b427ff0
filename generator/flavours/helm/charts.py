"""Helm releases of the Istio charts as the repo declares them, and edits to their values.

A release is an Argo CD Application whose source is a chart (`spec.source`, or one entry of
`spec.sources`) or a Flux HelmRelease (`spec.chart.spec`). Its values may live in any of the forms
the engines accept: Argo CD `helm.parameters`, `helm.valuesObject` or `helm.values` (YAML kept as
text), Flux `spec.values` and `spec.valuesFrom` ConfigMaps. :class:`ChartDoc` reads them into one
effective mapping (for discovery), and :meth:`ChartDoc.set_ops` / :meth:`ChartDoc.list_ops` turn
"set this value" into edits in the form the value already has, so a reviewer sees one line
change where they expect it and every comment stays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from core.errors import InputError
from core.helmplan import ChartForm
from generator.index import Document, RepoIndex
from generator.yamledit import (
    Op,
    PathT,
    append_item,
    apply_ops,
    delete_key,
    remove_items,
    set_block_text,
    set_value,
)

__all__ = [
    "CHARTS",
    "MOVED_REPOS",
    "ChartDoc",
    "chart_docs",
    "flux_target_namespace",
    "read_chart",
]

CHARTS = ("base", "istiod", "gateway")
ARGO = "argoproj.io"
FLUX_HELM = "helm.toolkit.fluxcd.io"
# Istio 1.31 stops publishing charts to Google Cloud storage (upgrade notes of 1.31): the Helm
# repository moves to blob.istio.io, the OCI one to ghcr.io. Older charts are served from both.
MOVED_REPOS = {
    "https://istio-release.storage.googleapis.com/charts": "https://blob.istio.io/istio-release/charts",
    "oci://gcr.io/istio-release/charts": "oci://ghcr.io/istio/release/charts",
    "gcr.io/istio-release/charts": "ghcr.io/istio/release/charts",
}
_SUBST = re.compile(r"\$\{[^}]*\}")


@dataclass
class ChartDoc:
    """One release of an Istio chart and where its parts sit in its document."""

    doc: Document
    form: ChartForm
    chart: str
    name: str
    namespace: str
    version: str
    repo: str
    # Argo CD: path of the source holding the chart (`spec.source` or `spec.sources[i]`).
    source: PathT = ("spec", "source")
    values: dict[str, Any] = field(default_factory=dict)
    # Flux: (kind, name, namespace) of the chart's source object.
    source_ref: tuple[str, str, str] = ("", "", "")
    # Flux valuesFrom ConfigMaps' values, which inline values override, and where they are.
    from_config: dict[str, Any] = field(default_factory=dict)
    configs: list[tuple[Document, str]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return self.doc.where

    @property
    def label(self) -> str:
        """`HelmRelease istiod (file:line)` for messages."""
        return f"{self.doc.kind} {self.doc.name} ({self.doc.where})"

    @property
    def revision(self) -> str:
        return str(self.values.get("revision") or "") or "default"

    @property
    def tags(self) -> list[str]:
        tags = self.values.get("revisionTags") or []
        return [str(t) for t in tags] if isinstance(tags, list) else []

    @property
    def version_path(self) -> PathT:
        if self.form == "argocd-application":
            return (*self.source, "targetRevision")
        return ("spec", "chart", "spec", "version")

    @property
    def helm(self) -> dict[str, Any]:
        node = self.doc.get(*self.source, "helm", default={})
        return node if isinstance(node, dict) else {}

    # ----- edits to values, in the form they already have --------------------------------------

    def _param(self, key: str) -> int | None:
        for i, p in enumerate(self.helm.get("parameters") or ()):
            if isinstance(p, dict) and p.get("name") == key:
                return i
        return None

    def set_ops(self, key: str, value: Any) -> list[Op]:
        """Edits setting top-level value `key` to `value` (a scalar or a small tree)."""
        pos = self.doc.pos
        if self.form == "helmrelease":
            return [set_value(pos, ("spec", "values", key), value)]
        helm = (*self.source, "helm")
        i = self._param(key)
        if i is not None and not isinstance(value, dict | list):
            return [set_value(pos, (*helm, "parameters", i, "value"), str(value))]
        if "valuesObject" in self.helm or not isinstance(self.helm.get("values"), str):
            return [set_value(pos, (*helm, "valuesObject", key), value)]
        return [self._text_op(lambda text: apply_ops(text, [set_value(0, (key,), value)]))]

    def list_ops(self, key: str, drop: Sequence[str], add: Sequence[str]) -> list[Edit]:
        """Edits removing `drop` from and appending `add` to the list value `key`, where the
        list is written: inline values, Argo CD parameters (`key[0]`), values text, or the
        valuesFrom ConfigMap it comes from. Each edit is (document, ops)."""
        pos = self.doc.pos
        params = [
            (i, p)
            for i, p in enumerate(self.helm.get("parameters") or ())
            if isinstance(p, dict) and str(p.get("name", "")).startswith(f"{key}[")
        ]
        if self.form == "argocd-application" and params:
            helm_path = (*self.source, "helm", "parameters")
            keep = [p for _, p in params if p.get("value") not in drop]
            gone = [p for _, p in params if p.get("value") in drop]
            ops: list[Op] = [remove_items(pos, helm_path, gone)] if gone else []
            items = [*(str(p.get("value")) for p in keep), *add]
            # renumber what stays so the indexes stay dense
            for i, p in params:
                if p in keep and p.get("name") != f"{key}[{keep.index(p)}]":
                    ops.append(set_value(pos, (*helm_path, i, "name"), f"{key}[{keep.index(p)}]"))
            for n in range(len(keep), len(items)):
                ops.append(append_item(pos, helm_path, {"name": f"{key}[{n}]", "value": items[n]}))
            return [(self.doc, ops)]
        if self.form == "helmrelease":
            inline = self.doc.get("spec", "values", key, default=None)
            if inline is None and key in self.from_config:
                return [self._config_edit(key, drop, add)]
            return [(self.doc, _list_ops(pos, ("spec", "values", key), inline, drop, add))]
        if "valuesObject" in self.helm or not isinstance(self.helm.get("values"), str):
            path = (*self.source, "helm", "valuesObject", key)
            current = self.doc.get(*path, default=None)
            return [(self.doc, _list_ops(pos, path, current, drop, add))]

        def edit(text: str) -> str:
            current = (yaml.safe_load(text) or {}).get(key)
            return apply_ops(text, _list_ops(0, (key,), current, drop, add))

        return [(self.doc, [self._text_op(edit)])]

    def values_edits(
        self,
        sets: dict[str, Any],
        lists: dict[str, tuple[Sequence[str], Sequence[str]]],
        drops: Sequence[str] = (),
        moves: Sequence[tuple[str, str]] = (),
    ) -> list[Edit]:
        """`set_ops`, `list_ops`, dropping dotted keys `drops` and moving dotted keys
        `moves` (old, new) where they are written inline, together; values kept as text are
        edited in one splice. A move keeps its value and is skipped when the new key is set."""
        moves = [(a, b) for a, b in moves if _has(self.values, a) and not _has(self.values, b)]
        text_form = (
            self.form == "argocd-application"
            and "valuesObject" not in self.helm
            and isinstance(self.helm.get("values"), str)
            and not any(self._param(k) is not None for k in sets)
        )
        if not text_form:
            # moved keys sit deeper than the top-level sets: two insertions at one place (the
            # end of a nested mapping that ends the document) splice in list order, deeper first
            ops = self.move_ops(moves)
            ops += [op for k, v in sets.items() for op in self.set_ops(k, v)]
            ops = self._one_new_mapping(ops)
            ops += self.drop_ops([*drops, *(a for a, _ in moves if self._param(a) is None)])
            edits: list[Edit] = [(self.doc, ops)]
            for key, (drop, add) in lists.items():
                edits += self.list_ops(key, drop, add)
            return edits

        def edit(text: str) -> str:
            for k, v in sets.items():
                text = apply_ops(text, [set_value(0, (k,), v)])
            for key, (drop, add) in lists.items():
                current = (yaml.safe_load(text) or {}).get(key)
                text = apply_ops(text, _list_ops(0, (key,), current, drop, add))
            for old, new in moves:
                data = yaml.safe_load(text) or {}
                if _has(data, old):
                    value = _get(data, old)
                    text = apply_ops(text, [set_value(0, tuple(new.split(".")), value)])
            data = yaml.safe_load(text) or {}
            gone = _emptied(data, [*drops, *(a for a, _ in moves)])
            return apply_ops(text, [delete_key(0, path) for path in gone]) if gone else text

        return [(self.doc, [self._text_op(edit)])]

    def _values_path(self) -> PathT:
        if self.form == "helmrelease":
            return ("spec", "values")
        return (*self.source, "helm", "valuesObject")

    def _one_new_mapping(self, ops: list[Op]) -> list[Op]:
        """Sets under a values mapping the document does not have yet, as one set of it: each
        would otherwise create the mapping again (a duplicate `values:` key)."""
        base = self._values_path()
        if self.doc.get(*base, default=None) is not None:
            return ops
        under = [
            o
            for o in ops
            if o.kind == "set" and len(o.path) > len(base) and o.path[: len(base)] == base
        ]
        if len(under) < 2:
            return ops
        tree: dict[str, Any] = {}
        for o in under:
            _set_dotted(tree, ".".join(str(x) for x in o.path[len(base) :]), o.value)
        return [o for o in ops if o not in under] + [set_value(self.doc.pos, base, tree)]

    def move_ops(self, moves: Sequence[tuple[str, str]]) -> list[Op]:
        """Edits writing each moved value under its new key (the old key is dropped apart):
        an Argo CD parameter is renamed in place; inline values get the new key. A value that
        comes from a valuesFrom ConfigMap, which the old release shares, is set inline."""
        pos = self.doc.pos
        ops: list[Op] = []
        base = self._values_path()
        inline: list[tuple[str, Any]] = []
        for old, new in moves:
            i = self._param(old)
            if i is not None:
                ops.append(set_value(pos, (*self.source, "helm", "parameters", i, "name"), new))
            else:
                inline.append((new, _get(self.values, old)))
        for path, value in _grouped(self.inline_values(), inline):
            ops.append(set_value(pos, (*base, *path), value))
        return ops

    def inline_values(self) -> dict[str, Any]:
        """The values written in the release itself (not its ConfigMaps), where drops apply."""
        if self.form == "helmrelease":
            inline = self.doc.get("spec", "values", default={})
            return inline if isinstance(inline, dict) else {}
        obj = self.helm.get("valuesObject")
        return obj if isinstance(obj, dict) else {}

    def drop_ops(self, drops: Sequence[str]) -> list[Op]:
        """Edits removing the dotted value keys `drops` where the release writes them inline
        (values text is handled by :meth:`values_edits`; parameters by name)."""
        pos = self.doc.pos
        ops: list[Op] = []
        if self.form == "helmrelease":
            base: PathT = ("spec", "values")
        else:
            base = (*self.source, "helm", "valuesObject")
            params = [
                p
                for p in self.helm.get("parameters") or ()
                if isinstance(p, dict) and p.get("name") in drops
            ]
            if params:
                ops.append(remove_items(pos, (*self.source, "helm", "parameters"), params))
        inline = self.inline_values()
        ops += [delete_key(pos, (*base, *path)) for path in _emptied(inline, drops)]
        return ops

    def _config_edit(self, key: str, drop: Sequence[str], add: Sequence[str]) -> Edit:
        for cm, data_key in reversed(self.configs):
            text = cm.get("data", data_key, default=None)
            if not isinstance(text, str):
                continue
            current = (yaml.safe_load(text) or {}).get(key)
            if current is None:
                continue
            new = same_ending(text, apply_ops(text, _list_ops(0, (key,), current, drop, add)))
            return (cm, [set_block_text(cm.pos, ("data", data_key), new)])
        raise InputError(f"{self.label}: cannot find {key} in its valuesFrom ConfigMaps")

    def _text_op(self, edit: Any) -> Op:
        path = (*self.source, "helm", "values")
        text = str(self.helm.get("values") or "")
        return set_block_text(self.doc.pos, path, same_ending(text, edit(text)))


Edit = tuple[Document, list[Op]]


def _has(values: Any, dotted: str) -> bool:
    node = values
    for step in dotted.split("."):
        if not isinstance(node, dict) or step not in node:
            return False
        node = node[step]
    return True


def _get(values: Any, dotted: str) -> Any:
    node = values
    for step in dotted.split("."):
        node = node[step]
    return node


def _grouped(values: Any, sets: Sequence[tuple[str, Any]]) -> list[tuple[tuple[str, ...], Any]]:
    """Dotted sets as one edit per mapping they create: two keys under a new `cni:` must be
    written as one `cni:` mapping, not two insertions of it."""
    out: dict[tuple[str, ...], Any] = {}
    for dotted, value in sets:
        parts = dotted.split(".")
        k = 0
        node = values
        while (
            k < len(parts) - 1 and isinstance(node, dict) and isinstance(node.get(parts[k]), dict)
        ):
            node = node[parts[k]]
            k += 1
        head, rest = tuple(parts[: k + 1]), parts[k + 1 :]
        for step in reversed(rest):
            value = {step: value}
        current = out.get(head)
        out[head] = (
            _merge(current, value)
            if isinstance(current, dict) and isinstance(value, dict)
            else value
        )
    return list(out.items())


def _emptied(values: Any, drops: Sequence[str]) -> list[tuple[str, ...]]:
    """The paths to delete so that `drops` are gone from `values`: a mapping all of whose
    keys go is deleted whole, so no empty `istio_cni:` is left behind."""
    gone = {tuple(d.split(".")) for d in drops if _has(values, d)}
    changed = True
    while changed:
        changed = False
        for path in sorted(gone, key=len, reverse=True):
            parent = path[:-1]
            if not parent or parent in gone:
                continue
            node = _get(values, ".".join(parent))
            if isinstance(node, dict) and all((*parent, k) in gone for k in node):
                gone = {p for p in gone if p[: len(parent)] != parent} | {parent}
                changed = True
                break
    return sorted(gone)


def same_ending(old: str, new: str) -> str:
    """`new` ending in a newline exactly when `old` does: a `|-` block strips it, and an edit
    that appended a line must not change what the block reads as beyond that line."""
    return new if old.endswith("\n") else new.rstrip("\n")


def _list_ops(
    pos: int, path: PathT, current: Any, drop: Sequence[str], add: Sequence[str]
) -> list[Op]:
    """Edits turning the list at `path` (now `current`) into it without `drop`, plus `add`:
    dropped items are overwritten in place by added ones first, so the list never has to be
    emptied and refilled at one spot (which would be two splices in one place)."""
    items = [str(x) for x in current] if isinstance(current, list) else []
    if current is None:
        return [set_value(pos, path, list(add))] if add else []
    slots = [i for i, x in enumerate(items) if x in drop]
    ops: list[Op] = []
    todo = list(add)
    for i in slots:
        if todo:
            ops.append(set_value(pos, (*path, i), todo.pop(0)))
    leftover = [items[i] for i in slots[len(add) :]]
    if leftover:
        ops.append(remove_items(pos, path, leftover))
    ops += [append_item(pos, path, t) for t in todo]
    return ops


def _parse_values_text(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise InputError(
            f"{where}: its Helm values text is not valid YAML ({getattr(e, 'problem', e)} at{at} "
            "of the text); fix the values"
        ) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{where}: its Helm values text is not a mapping; fix the values")
    return data


def _merge(into: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(into)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _set_dotted(values: dict[str, Any], dotted: str, value: Any) -> None:
    node = values
    *head, last = dotted.split(".")
    for step in head:
        nxt = node.get(step)
        if not isinstance(nxt, dict):
            nxt = node[step] = {}
        node = nxt
    if last.endswith("]") and "[" in last:
        # `revisionTags[0]=x`: Argo CD parameters may set list items one by one
        key, _, idx = last[:-1].partition("[")
        items = node.setdefault(key, [])
        if isinstance(items, list) and idx.isdigit():
            while len(items) <= int(idx):
                items.append(None)
            items[int(idx)] = value
        return
    node[last] = value


def _argo_chart(doc: Document, charts: Sequence[str] = CHARTS) -> tuple[PathT, str] | None:
    """(path of the source, chart name) of an Application installing an Istio chart."""
    single = doc.get("spec", "source", default=None)
    candidates: list[tuple[PathT, Any]] = []
    if isinstance(single, dict):
        candidates.append((("spec", "source"), single))
    for i, src in enumerate(doc.get("spec", "sources", default=[]) or []):
        if isinstance(src, dict):
            candidates.append((("spec", "sources", i), src))
    for path, src in candidates:
        chart = str(src.get("chart") or "").rsplit("/", 1)[-1]
        if chart in charts:
            return path, chart
    return None


def read_chart(index: RepoIndex, doc: Document, charts: Sequence[str] = CHARTS) -> ChartDoc | None:
    """The Istio chart release `doc` declares (of one of `charts`), or None when it declares none."""
    if doc.kind == "Application" and doc.group == ARGO:
        hit = _argo_chart(doc, charts)
        if hit is None:
            return None
        path, chart = hit
        src = doc.get(*path, default={})
        helm = src.get("helm") if isinstance(src.get("helm"), dict) else {}
        if helm.get("valueFiles"):
            raise InputError(
                f"{doc.where}: Application {doc.name} takes {chart} values from valueFiles "
                f"({', '.join(map(str, helm['valueFiles']))}), which istio-canary does not read; "
                "move the values into helm.valuesObject or helm.values"
            )
        values: dict[str, Any] = {}
        if isinstance(helm.get("values"), str):
            values = _parse_values_text(helm["values"], f"{doc.where}: Application {doc.name}")
        elif helm.get("values") is not None and not isinstance(helm.get("values"), str):
            raise InputError(
                f"{doc.where}: Application {doc.name}: helm.values must be text; use valuesObject "
                "for a mapping"
            )
        if isinstance(helm.get("valuesObject"), dict):
            values = _merge(values, helm["valuesObject"])
        for p in helm.get("parameters") or ():
            if isinstance(p, dict) and isinstance(p.get("name"), str):
                _set_dotted(values, p["name"], p.get("value"))
        return ChartDoc(
            doc=doc,
            form="argocd-application",
            chart=chart,
            name=str(helm.get("releaseName") or doc.name),
            namespace=str(doc.get("spec", "destination", "namespace", default="") or ""),
            version=str(src.get("targetRevision") or ""),
            repo=str(src.get("repoURL") or ""),
            source=path,
            values=values,
        )
    if doc.kind == "HelmRelease" and doc.group == FLUX_HELM:
        if doc.get("spec", "chartRef") is not None and doc.get("spec", "chart") is None:
            ref = doc.get("spec", "chartRef", default={})
            name = str(ref.get("name", "")) if isinstance(ref, dict) else ""
            if not any(c in name for c in charts):
                return None
            raise InputError(
                f"{doc.where}: HelmRelease {doc.name} takes its chart from spec.chartRef "
                f"({name}); istio-canary edits spec.chart: write the chart, version and "
                "sourceRef under spec.chart.spec"
            )
        spec = doc.get("spec", "chart", "spec", default={})
        if not isinstance(spec, dict):
            return None
        chart = str(spec.get("chart") or "").rsplit("/", 1)[-1]
        if chart not in charts:
            return None
        ns = index.namespace_of(doc) or flux_target_namespace(index, doc.file)
        target_ns = str(doc.get("spec", "targetNamespace", default="") or "")
        release = str(doc.get("spec", "releaseName", default="") or "") or (
            f"{target_ns}-{doc.name}" if target_ns else doc.name
        )
        inline = doc.get("spec", "values", default={})
        from_config, configs = _values_from(index, doc, ns)
        values = _merge(from_config, inline if isinstance(inline, dict) else {})
        raw_ref = spec.get("sourceRef")
        sref: dict[str, Any] = raw_ref if isinstance(raw_ref, dict) else {}
        source_ref = (
            str(sref.get("kind", "HelmRepository")),
            str(sref.get("name", "")),
            str(sref.get("namespace") or ns),
        )
        return ChartDoc(
            doc=doc,
            form="helmrelease",
            chart=chart,
            name=release,
            namespace=target_ns or ns,
            version=str(spec.get("version") or ""),
            repo=_flux_repo_url(index, source_ref),
            values=values,
            source_ref=source_ref,
            from_config=from_config,
            configs=configs,
        )
    return None


def _flux_repo_url(index: RepoIndex, ref: tuple[str, str, str]) -> str:
    kind, name, namespace = ref
    for d in index.named(kind, name):
        if index.namespace_of(d) in (namespace, ""):
            return str(d.get("spec", "url", default="") or "")
    return ""


def _values_from(
    index: RepoIndex, doc: Document, ns: str
) -> tuple[dict[str, Any], list[tuple[Document, str]]]:
    """The values Flux merges in from ConfigMaps the repo holds (Secrets are not read), and
    the (ConfigMap, key) each came from."""
    merged: dict[str, Any] = {}
    configs: list[tuple[Document, str]] = []
    for ref in doc.get("spec", "valuesFrom", default=[]) or []:
        if not isinstance(ref, dict) or ref.get("kind") != "ConfigMap":
            continue
        name, key = str(ref.get("name", "")), str(ref.get("valuesKey") or "values.yaml")
        cms = [d for d in index.named("ConfigMap", name) if index.namespace_of(d) in (ns, "")]
        if not cms:
            if ref.get("optional"):
                continue
            raise InputError(
                f"{doc.where}: HelmRelease {doc.name} takes values from ConfigMap {name}, which "
                "is not in the repo; the upgrade cannot know its revision: add it to the repo"
            )
        text = cms[0].get("data", key, default=None)
        if text is None:
            continue
        if ref.get("targetPath"):
            _set_dotted(merged, str(ref["targetPath"]), text)
            continue
        merged = _merge(merged, _parse_values_text(str(text), f"{cms[0].where}: {key}"))
        configs.append((cms[0], key))
    return merged, configs


def chart_docs(index: RepoIndex) -> list[ChartDoc]:
    """Every Istio chart release in the repo (kustomize patch files excluded), in file order."""
    patches = index.patch_files()
    out: list[ChartDoc] = []
    for kind in ("Application", "HelmRelease"):
        for d in index.of_kind(kind):
            if d.file in patches:
                continue
            found = read_chart(index, d)
            if found is not None:
                out.append(found)
    return sorted(out, key=lambda c: (c.doc.file, c.doc.pos))


def flux_target_namespace(index: RepoIndex, path: str) -> str:
    """The `targetNamespace` of the Flux Kustomization whose `path` holds file `path` ("" if
    none): how Flux repos often give HelmReleases without `metadata.namespace` their namespace."""
    best = ("", "")
    for k in index.of_kind("Kustomization", "kustomize.toolkit.fluxcd.io"):
        folder = str(k.get("spec", "path", default="") or "").removeprefix("./").rstrip("/")
        target = str(k.get("spec", "targetNamespace", default="") or "")
        if target and folder and path.startswith(folder + "/") and len(folder) > len(best[0]):
            best = (folder, target)
    return best[1]


def substituted(text: str) -> bool:
    """Whether `text` is (or holds) a Flux post-build variable like `${version}`."""
    return bool(_SUBST.search(text))
