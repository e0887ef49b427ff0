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
from generator.chartpin import chart_version, helm_values, is_git_source, new_chart
from generator.discovery import ISTIO_GROUP, find_doc, has_release, operator_release
from generator.index import Document, RepoIndex
from generator.naming import canary_name, retag
from generator.render import render
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline, applied
from generator.yamledit import detect_style

__all__ = [
    "KIND",
    "ControlPlaneKind",
    "derive_spec",
    "operator_documents",
    "release_documents",
    "spec_notes",
]

# Gateways the new CP must not create itself: it takes over the running ones instead. From 1.7
# on `gateways.meshExpansion.enabled` defaults to `spec.meshExpansion`, so it is turned off too.
_OWN_GATEWAYS = ("ingress", "egress")
_OWN_GATEWAYS_17 = (*_OWN_GATEWAYS, "meshExpansion")
# 1.6 set these through istiod's environment; the 1.7 operator has fields for them (and writes
# the variables itself, with the RBAC istiod needs to write status).
_ISTIOD_FLAGS = {"PILOT_ENABLE_STATUS": "enableStatus", "PILOT_ENABLE_ANALYSIS": "enableAnalysis"}


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


def _auth_policy(spec: dict[str, Any]) -> str:
    """`controlPlaneAuthPolicy` for a 1.6 `controlPlaneSecurityEnabled`.

    With istiod (the 1.6 default) the flag did not secure anything istiod serves, and the 1.7
    operator always talks mTLS to istiod (its default, and upstream's 1.7 samples, turn the
    1.6 samples' `false` into MUTUAL_TLS). Only a mesh without istiod that said `false` keeps NONE.
    """
    istiod = spec.get("istiod")
    istiod_on = not (isinstance(istiod, dict) and istiod.get("enabled") is False)
    return "MUTUAL_TLS" if istiod_on or spec.get("controlPlaneSecurityEnabled") else "NONE"


def _move_istiod_flags(spec: dict[str, Any]) -> list[str]:
    """Turn 1.6's PILOT_ENABLE_STATUS/ANALYSIS env vars into 1.7's `istiod` fields."""
    pilot = spec.get("pilot")
    if not isinstance(pilot, dict) or not isinstance(pilot.get("additionalEnvVars"), list):
        return []
    moved: list[str] = []
    keep = []
    for env in pilot["additionalEnvVars"]:
        field = _ISTIOD_FLAGS.get(str(env.get("name"))) if isinstance(env, dict) else None
        if field is None or "value" not in env:
            keep.append(env)
            continue
        istiod = spec.setdefault("istiod", {})
        istiod[field] = str(env["value"]).strip().lower() == "true"
        moved.append(f"{env['name']} -> istiod.{field}: {str(istiod[field]).lower()}")
    if keep:
        pilot["additionalEnvVars"] = keep
    else:
        del pilot["additionalEnvVars"]
    return moved


def spec_notes(old_spec: dict[str, Any], new_version: str) -> list[str]:
    """What `derive_spec` changes beyond name, version and images, and why (for the commit)."""
    if parse_version(new_version)[:2] < (1, 7):
        return []
    notes = []
    if "controlPlaneSecurityEnabled" in old_spec:
        notes.append(
            f"controlPlaneSecurityEnabled: {str(old_spec['controlPlaneSecurityEnabled']).lower()} "
            f"-> controlPlaneAuthPolicy: {_auth_policy(old_spec)} (1.7 removed the field and "
            "always secures istiod with mTLS, as upstream's 1.7 samples do)"
        )
    moved = _move_istiod_flags(copy.deepcopy(old_spec))
    if moved:
        notes.append(
            f"{'; '.join(moved)} (1.7 sets these env vars itself from the istiod fields, "
            "and grants istiod the RBAC to write status)"
        )
    if old_spec.get("meshExpansion") is True:
        notes.append(
            "gateways.meshExpansion.enabled: false (in 1.7 it defaults to spec.meshExpansion, "
            "which would create a new LoadBalancer gateway here; clients keep using the "
            "adopted ingress gateway)"
        )
    return notes


def derive_spec(old_spec: dict[str, Any], old_version: str, new_version: str) -> dict[str, Any]:
    """The canary CR's spec: the old spec, adjusted for a revisioned CP at `new_version`."""
    spec = _retag_images(copy.deepcopy(old_spec), old_version, new_version)
    new_minor = parse_version(new_version)[:2]
    out: dict[str, Any] = {"version": new_version, "global": False}
    for key, value in spec.items():
        if key in ("version", "global", "autoInjectionNamespaces"):
            continue
        if key == "controlPlaneSecurityEnabled" and new_minor >= (1, 7):
            out["controlPlaneAuthPolicy"] = _auth_policy(spec)
            continue
        out[key] = value
    if new_minor >= (1, 7):
        _move_istiod_flags(out)
    gateways = out.get("gateways")
    gateways = dict(gateways) if isinstance(gateways, dict) else {}
    for kind in _OWN_GATEWAYS_17 if new_minor >= (1, 7) else _OWN_GATEWAYS:
        block = gateways.get(kind)
        block = dict(block) if isinstance(block, dict) else {}
        block.pop("createOnly", None)
        block["enabled"] = False
        gateways[kind] = block
    out["gateways"] = gateways
    return out


def release_documents(index: RepoIndex, old: Document, release: str) -> list[Document]:
    """A plain release is every document of its file named after it (RBAC, Service, ...)."""
    docs = [d for d in index.files.get(old.file, []) if release in d.name]
    return docs or [old]


def operator_documents(
    old: Document, old_cp: ControlPlane, new_cp: ControlPlane, plain: list[Document] | None = None
) -> list[dict[str, Any]]:
    """The new operator release's documents, in the old one's form.

    Its chart is the one that shipped the new operator and `istioVersion` is pinned to the
    target minor: the chart's default follows the chart's own operator (0.0.88: "1.10"), and
    from 1.8 on it passes the manager a flag 0.7.x does not know.
    """
    old_rel, new_rel = old_cp.operator, new_cp.operator
    istio = minor_of(new_cp.version)
    data = copy.deepcopy(old.data)
    meta = data.setdefault("metadata", {})
    meta["name"] = (
        canary_name(old.name, new_cp.version) if old.name != old_rel.name else new_rel.name
    )
    for k in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        meta.pop(k, None)
    data.pop("status", None)
    if old_rel.form == "argocd-application":
        source = data["spec"]["source"]
        if "targetRevision" in source or is_git_source(old.data):
            source["targetRevision"] = new_chart(old.data, new_rel.version)
        helm = source.setdefault("helm", {})
        helm["releaseName"] = new_rel.name
        params = helm.get("parameters")
        pinned = False
        if isinstance(params, list):
            out = []
            for p in params:
                if p.get("name") == "operator.image.tag":
                    p = {**p, "value": new_rel.version}
                if p.get("name") == "istioVersion":
                    p, pinned = {**p, "value": istio}, True
                out.append(p)
            if not pinned:
                out.append({"name": "istioVersion", "value": istio, "forceString": True})
                pinned = True
            helm["parameters"] = out
        for key in ("valuesObject", "values"):
            values = helm.get(key)
            if isinstance(values, str):
                values = yaml.safe_load(values) or {}
            if isinstance(values, dict):
                values = _set_values(values, new_rel.version, None if pinned else istio)
                pinned = True
                helm[key] = (
                    values if key == "valuesObject" else yaml.safe_dump(values, sort_keys=False)
                )
        if not pinned:
            helm["parameters"] = [
                {"name": "operator.image.tag", "value": new_rel.version, "forceString": True},
                {"name": "istioVersion", "value": istio, "forceString": True},
            ]
        return [data]
    if old_rel.form == "helmrelease":
        spec = data.setdefault("spec", {})
        if "releaseName" in spec:
            spec["releaseName"] = new_rel.name
        chart = ((spec.get("chart") or {}).get("spec")) or {}
        if "version" in chart or "/" not in str(chart.get("chart", "")):
            chart["version"] = new_chart(old.data, new_rel.version)
        spec["values"] = _set_values(spec.get("values") or {}, new_rel.version, istio)
        return [data]
    # plain: rename the release in each of its documents and point the image at the new tag.
    out_docs = []
    for doc in plain or [old]:
        renamed = _rename(copy.deepcopy(doc.data), old_rel.name, new_rel.name)
        if doc.kind == "StatefulSet":
            for c in renamed["spec"]["template"]["spec"]["containers"]:
                if str(c.get("image", "")).rpartition(":")[0].endswith("istio-operator"):
                    c["image"] = retag(c["image"], new_rel.version)
        out_docs.append(renamed)
    return out_docs


def _set_values(values: dict[str, Any], tag: str, istio: str | None) -> dict[str, Any]:
    """The operator image tag set, and `istioVersion` pinned (unless a parameter pins it)."""
    values = copy.deepcopy(values)
    values.setdefault("operator", {}).setdefault("image", {})["tag"] = tag
    if istio is not None:
        values["istioVersion"] = istio
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
    new_docs = operator_documents(op_doc, src, tgt)
    return {
        "cr_file": tgt.file,
        "operator_file": tgt.operator.file,
        "operator_dir": posixpath.dirname(tgt.operator.file),
        "chart": _chart_source(op_doc),
        "new_chart": chart_version(new_docs[0]) if src.operator.form != "plain" else "",
        "old_chart": chart_version(op_doc.data),
        "istio_version": helm_values(new_docs[0]).get("istioVersion", ""),
        "git_chart": is_git_source(op_doc.data),
        "spec_notes": spec_notes(old_cr.data.get("spec") or {}, tgt.version),
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
