"""control-plane: a revisioned `Istio` CR and its operator release, beside the running ones.

The new CR is derived from the old one (same mesh settings) with what a canary must differ in:
its name and `global: false`, `spec.version`, images at the new tag from the same registry, its own
gateways off (the running ones move to it in the gateways stage, so their LoadBalancer survives),
fields renamed across versions, and no `autoInjectionNamespaces` (a revisioned CP ignores it).
The operator release is written in the same form as the old one.
"""

from __future__ import annotations

import copy
import posixpath
import re
from typing import Any

import yaml

from core.plan import ControlPlane, Plan, Stage
from core.versions import minor_of, parse_version
from generator.discovery import ISTIO_GROUP, find_doc, has_release, operator_release
from generator.index import Document, RepoIndex
from generator.naming import canary_name, retag
from generator.render import render
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline, applied
from generator.yamledit import detect_style

__all__ = ["KIND", "ControlPlaneKind", "derive_spec", "operator_documents", "release_documents"]

# Gateways the new CP must not create itself: it takes over the running ones instead.
_OWN_GATEWAYS = ("ingress", "egress")


def _retag_images(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "image" and isinstance(v, str) and v.rpartition(":")[2] == old:
                out[k] = retag(v, new)
            else:
                out[k] = _retag_images(v, old, new)
        return out
    if isinstance(node, list):
        return [_retag_images(v, old, new) for v in node]
    return node


def derive_spec(old_spec: dict[str, Any], old_version: str, new_version: str) -> dict[str, Any]:
    """The canary CR's spec: the old spec, adjusted for a revisioned CP at `new_version`."""
    spec = _retag_images(copy.deepcopy(old_spec), old_version, new_version)
    new_minor = parse_version(new_version)[:2]
    out: dict[str, Any] = {"version": new_version, "global": False}
    for key, value in spec.items():
        if key in ("version", "global", "autoInjectionNamespaces"):
            continue
        if key == "controlPlaneSecurityEnabled" and new_minor >= (1, 7):
            out["controlPlaneAuthPolicy"] = "MUTUAL_TLS" if value else "NONE"
            continue
        out[key] = value
    gateways = out.get("gateways")
    gateways = dict(gateways) if isinstance(gateways, dict) else {}
    for kind in _OWN_GATEWAYS:
        block = gateways.get(kind)
        block = dict(block) if isinstance(block, dict) else {}
        block.pop("createOnly", None)
        block["enabled"] = False
        gateways[kind] = block
    out["gateways"] = gateways
    return out


def _without_istio_version(values: Any) -> Any:
    if isinstance(values, dict):
        return {k: v for k, v in values.items() if k != "istioVersion"}
    return values


def release_documents(index: RepoIndex, old: Document, release: str) -> list[Document]:
    """A plain release is every document of its file named after it (RBAC, Service, ...)."""
    docs = [d for d in index.files.get(old.file, []) if release in d.name]
    return docs or [old]


def operator_documents(
    old: Document, old_cp: ControlPlane, new_cp: ControlPlane, plain: list[Document] | None = None
) -> list[dict[str, Any]]:
    """The new operator release's documents, in the old one's form."""
    old_rel, new_rel = old_cp.operator, new_cp.operator
    keep_istio_version = parse_version(new_cp.version)[:2] < (1, 7)
    data = copy.deepcopy(old.data)
    meta = data.setdefault("metadata", {})
    meta["name"] = (
        canary_name(old.name, new_cp.version) if old.name != old_rel.name else new_rel.name
    )
    for k in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        meta.pop(k, None)
    data.pop("status", None)
    if old_rel.form == "argocd-application":
        helm = data["spec"]["source"].setdefault("helm", {})
        helm["releaseName"] = new_rel.name
        params = []
        for p in helm.get("parameters") or []:
            if p.get("name") == "operator.image.tag":
                p = {**p, "value": new_rel.version}
            if p.get("name") == "istioVersion":
                if not keep_istio_version:
                    continue
                p = {**p, "value": minor_of(new_cp.version)}
            params.append(p)
        if "parameters" in helm:
            helm["parameters"] = params
        for key in ("valuesObject", "values"):
            values = helm.get(key)
            if isinstance(values, str):
                values = yaml.safe_load(values) or {}
            if isinstance(values, dict):
                values = _set_tag(values, new_rel.version, keep_istio_version, new_cp.version)
                helm[key] = (
                    values if key == "valuesObject" else yaml.safe_dump(values, sort_keys=False)
                )
        return [data]
    if old_rel.form == "helmrelease":
        spec = data.setdefault("spec", {})
        if "releaseName" in spec:
            spec["releaseName"] = new_rel.name
        spec["values"] = _set_tag(
            spec.get("values") or {}, new_rel.version, keep_istio_version, new_cp.version
        )
        return [data]
    # plain: rename the release in each of its documents and point the image at the new tag.
    out = []
    for doc in plain or [old]:
        renamed = _rename(copy.deepcopy(doc.data), old_rel.name, new_rel.name)
        if doc.kind == "StatefulSet":
            for c in renamed["spec"]["template"]["spec"]["containers"]:
                if str(c.get("image", "")).rpartition(":")[0].endswith("istio-operator"):
                    c["image"] = retag(c["image"], new_rel.version)
        out.append(renamed)
    return out


def _set_tag(
    values: dict[str, Any], tag: str, keep_istio_version: bool, version: str
) -> dict[str, Any]:
    values = copy.deepcopy(values)
    values.setdefault("operator", {}).setdefault("image", {})["tag"] = tag
    if not keep_istio_version:
        values = _without_istio_version(values)
    elif "istioVersion" in values:
        values["istioVersion"] = minor_of(version)
    return values


def _rename(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        # Image references name the upstream repository, not the release: keep them.
        return {
            _rename(k, old, new): v if k == "image" else _rename(v, old, new)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rename(v, old, new) for v in node]
    if isinstance(node, str):
        return re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w])", new, node)
    return node


class ControlPlaneKind:
    """The first stage: the new control plane beside the old one."""

    name: KindName = "control-plane"

    def stages(self, outline: Outline) -> list[Stage]:
        return [Stage(0, "control-plane", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        """The new CR and operator release exist exactly when this stage is applied, and the old
        CR (whose spec the new one is derived from) still runs the version the plan says."""
        src, tgt = plan.source, plan.target
        done = applied(plan, self.name)
        out: list[str] = []
        new = find_doc(index, "Istio", tgt.name, tgt.namespace, ISTIO_GROUP)
        if done and new is None:
            out.append(f"the new Istio CR {tgt.name} is missing though control-plane is applied")
        if not done and new is not None:
            out.append(f"an Istio CR {tgt.name} exists though control-plane is not applied")
        if has_release(index, tgt.operator) != done:
            state = "missing" if done else "present"
            out.append(f"operator release {tgt.operator.name} ({tgt.operator.file}) is {state}")
        old = find_doc(index, "Istio", src.name, src.namespace, ISTIO_GROUP)
        if old is not None and str(old.get("spec", "version", default="")) != src.version:
            out.append(f"{src.name} runs {old.get('spec', 'version')}, the plan says {src.version}")
        return out

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        src, tgt = plan.source, plan.target
        head = f"istio-canary {stage.index}/{plan.total}"
        return [
            f"{head}: install {tgt.name} (Istio {tgt.version}) beside {src.name}",
            f"{head}: install {tgt.name} (Istio {tgt.version})",
            f"{head}: install Istio {tgt.version} beside Istio {src.version}",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        return _edit(ctx)


KIND = ControlPlaneKind()


def _edit(ctx: StageContext) -> dict[str, Any]:
    src, tgt = ctx.plan.source, ctx.plan.target
    old_cr = ctx.old_cr()
    op_doc = ctx.require(
        {"argocd-application": "Application", "helmrelease": "HelmRelease", "plain": "StatefulSet"}[
            src.operator.form
        ],
        _operator_object_name(ctx),
        None,
    )
    style = detect_style(ctx.index.read(old_cr.file))
    metadata: dict[str, Any] = {"name": tgt.name, "namespace": tgt.namespace}
    metadata.update({k: v for k, v in old_cr.metadata.items() if k in ("labels", "annotations")})
    cr_text = render(
        "istio-cr.yaml.j2",
        source=src,
        target=tgt,
        api_version=old_cr.api_version,
        metadata=metadata,
        spec=derive_spec(old_cr.data.get("spec") or {}, src.version, tgt.version),
        indentless=style.indentless,
    )
    ctx.editor.create(tgt.file, cr_text)
    ctx.editor.add_resource(old_cr.file, tgt.file)
    op_style = detect_style(ctx.index.read(op_doc.file))
    op_text = render(
        f"operator-{src.operator.form}.yaml.j2",
        source=src,
        target=tgt,
        documents=operator_documents(
            op_doc, src, tgt, release_documents(ctx.index, op_doc, src.operator.name)
        ),
        indentless=op_style.indentless,
    )
    ctx.editor.create(tgt.operator.file, op_text)
    ctx.editor.add_resource(op_doc.file, tgt.operator.file)
    return {
        "cr_file": tgt.file,
        "operator_file": tgt.operator.file,
        "operator_dir": posixpath.dirname(tgt.operator.file),
        "chart": _chart_source(op_doc),
    }


def _chart_source(doc: Document) -> str:
    """`repo chart@version` the new release reuses (empty for plain manifests)."""
    if doc.kind == "Application":
        src = doc.get("spec", "source", default={})
        chart = src.get("chart") or src.get("path") or ""
        return f"{src.get('repoURL', '')} {chart}@{src.get('targetRevision', '')}".strip()
    if doc.kind == "HelmRelease":
        spec = doc.get("spec", "chart", "spec", default={})
        return f"{spec.get('chart', '')}@{spec.get('version', '')}"
    return ""


def _operator_object_name(ctx: StageContext) -> str:
    """The object that declares the old release (an Application may be named unlike its release)."""
    rel = ctx.plan.source.operator
    for d in ctx.index.files.get(rel.file, []):
        found = operator_release(ctx.index, d)
        if found is not None and found.name == rel.name:
            return d.name
    return rel.name
