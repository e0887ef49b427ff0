"""control-plane (Helm): upgrade `base`, and add the new istiod release beside the old one.

- `base` first: its chart version goes to the target (CRDs are cluster-wide and shared by every
  revision, so they must be the newer ones before the new istiod starts). Its `defaultRevision`
  does not move yet: the default-revision stage does that, once nothing needs the old one.
- The new release `istiod-<rev>` is the old release's document copied (same form, same values,
  same comments) with: the release and object name, `revision: <rev>`, the target chart version,
  `revisionTags` replaced by the canary tags (a tag belongs to one release at a time), ordered
  after `base` (Argo CD sync wave; Flux `dependsOn`).
- From 1.31 the charts are published at blob.istio.io (ghcr.io for OCI): the new release and
  `base` follow (Argo CD `repoURL`; Flux: the HelmRepository's `url`, which every release of it
  shares, and which must move anyway when the old storage is retired).
- Argo CD: istiod rewrites its webhooks' `caBundle` and flips the validator's `failurePolicy` at
  runtime, which leaves an Application OutOfSync for ever; when the istiod or base Application
  does not ignore those fields yet, the stage adds the `ignoreDifferences` entries that do, to
  the old istiod release as well as the new one: the old one runs until cleanup, and every gate
  after this stage wants its Application Synced.
  Flux only compares when drift detection is on; then it adds the same fields to its ignore rules.
- Argo CD: an Application deleted without its resources finalizer orphans what it applied, so
  the cleanup stage (which deletes the old istiod's Application) would leave the old istiod and
  its injector running. Both istiod Applications get the finalizer here, a review before that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.argocd import RESOURCES_FINALIZER, cascades
from core.helmplan import HelmMesh
from core.plan import Plan, Stage
from core.versions import version_key
from generator.edits import Editor
from generator.flavours.helm.charts import ChartDoc, read_chart
from generator.flavours.helm.chartvalues import removed_values, renamed_values
from generator.flavours.helm.copying import document_text
from generator.flavours.helm.manifests import find_release, require_release
from generator.index import Document, RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline, applied
from generator.yamledit import Op, append_item, apply_ops, load_documents, set_value

__all__ = ["ARGO_IGNORES", "FLUX_IGNORES", "KIND", "repo_ops"]

WEBHOOKS = "admissionregistration.k8s.io"
ARGO_IGNORES: list[dict[str, Any]] = [
    {
        "group": WEBHOOKS,
        "kind": "MutatingWebhookConfiguration",
        "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"],
    },
    {
        "group": WEBHOOKS,
        "kind": "ValidatingWebhookConfiguration",
        "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle", ".webhooks[]?.failurePolicy"],
    },
]
FLUX_IGNORES: list[dict[str, Any]] = [
    {
        "paths": ["/webhooks/0/clientConfig/caBundle", "/webhooks/0/failurePolicy"],
        "target": {"kind": "ValidatingWebhookConfiguration"},
    },
    {
        "paths": ["/webhooks/0/clientConfig/caBundle"],
        "target": {"kind": "MutatingWebhookConfiguration"},
    },
]
WAVE = "argocd.argoproj.io/sync-wave"


def _ignores_webhooks(c: ChartDoc) -> bool:
    if c.form == "argocd-application":
        rules = c.doc.get("spec", "ignoreDifferences", default=[]) or []
        return any(isinstance(r, dict) and "caBundle" in str(r) for r in rules)
    rules = c.doc.get("spec", "driftDetection", "ignore", default=[]) or []
    return any(isinstance(r, dict) and "caBundle" in str(r) for r in rules)


def ignore_ops(c: ChartDoc) -> tuple[list[Op], str]:
    """Edits making `c` ignore the webhook fields istiod rewrites, and why ("" when none)."""
    if _ignores_webhooks(c):
        return [], ""
    pos = c.doc.pos
    if c.form == "argocd-application":
        have = c.doc.get("spec", "ignoreDifferences", default=None)
        ops = (
            [append_item(pos, ("spec", "ignoreDifferences"), r) for r in ARGO_IGNORES]
            if isinstance(have, list) and have
            else [set_value(pos, ("spec", "ignoreDifferences"), ARGO_IGNORES)]
        )
        return ops, f"Application {c.doc.name}: ignoreDifferences for the webhooks' caBundle"
    mode = c.doc.get("spec", "driftDetection", "mode", default="disabled")
    if mode not in ("enabled", "warn"):
        return [], ""
    return (
        [set_value(pos, ("spec", "driftDetection", "ignore"), FLUX_IGNORES)],
        f"HelmRelease {c.doc.name}: driftDetection ignores the webhooks' caBundle",
    )


def finalizer_ops(c: ChartDoc) -> tuple[list[Op], str]:
    """Edits giving an Argo CD Application its resources finalizer, and why ("" when none)."""
    if c.form != "argocd-application" or cascades(c.doc.get("metadata", "finalizers", default=[])):
        return [], ""
    return (
        [append_item(c.doc.pos, ("metadata", "finalizers"), RESOURCES_FINALIZER)],
        f"Application {c.doc.name}: {RESOURCES_FINALIZER}, so that deleting it at cleanup "
        "deletes its istiod and webhooks instead of orphaning them",
    )


def repo_ops(index: RepoIndex, c: ChartDoc, h: HelmMesh, editor: Editor) -> str:
    """Queue the move of `c`'s chart repository to where the target's charts are published."""
    if not h.repo_to or c.repo.rstrip("/") == h.repo_to:
        return ""
    if c.form == "argocd-application":
        editor.edit(c.doc, set_value(c.doc.pos, (*c.source, "repoURL"), h.repo_to))
        return f"Application {c.doc.name}: repoURL {h.repo_to}"
    kind, name, namespace = c.source_ref
    for d in index.named(kind, name):
        if index.namespace_of(d) in (namespace, "") and d.get("spec", "url") != h.repo_to:
            editor.edit(d, set_value(d.pos, ("spec", "url"), h.repo_to))
            return f"{kind} {name}: url {h.repo_to}"
    return ""


def _dotted(values: Any, prefix: str = "") -> set[str]:
    """Every dotted key path of a values tree."""
    out: set[str] = set()
    if isinstance(values, dict):
        for k, v in values.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            out.add(path)
            out |= _dotted(v, path)
    return out


def _wave(doc: Document) -> int:
    raw = (doc.metadata.get("annotations") or {}).get(WAVE, "0")
    try:
        return int(str(raw))
    except ValueError:
        return 0


def new_release_text(index: RepoIndex, plan: Plan, old: ChartDoc, base: ChartDoc) -> str:
    """The new istiod release: the old one's document with what a canary must change."""
    h = plan.helm
    assert h is not None
    new = h.istiod_to
    text = document_text(index.read(old.doc.file), old.doc.pos, old.doc.file)
    data = load_documents(text, new.file)[0]
    copy = read_chart(index, Document.of(new.file, 0, 1, data))
    assert copy is not None
    pos = 0
    ops: list[Op] = [set_value(pos, ("metadata", "name"), new.object_name)]
    # Values first: two insertions at one place (the end of a nested mapping that ends the
    # document) are spliced in list order, and the deeper one must come first.
    ops.append(set_value(pos, copy.version_path, new.version))
    inline_tags = (
        copy.doc.get("spec", "values", "revisionTags") if copy.form == "helmrelease" else None
    )
    sets: dict[str, Any] = {"revision": new.revision}
    lists: dict[str, tuple[Sequence[str], Sequence[str]]] = {}
    if "revisionTags" in copy.from_config and inline_tags is None:
        # the ConfigMap is shared with the old release: override it inline
        sets["revisionTags"] = list(new.tags)
    elif copy.tags or new.tags:
        lists["revisionTags"] = (copy.tags, new.tags)
    drops = removed_values("istiod", old.version.lstrip("v"), new.version)
    moves = renamed_values("istiod", old.version.lstrip("v"), new.version)
    ops += [op for _, edit in copy.values_edits(sets, lists, drops, moves) for op in edit]
    if copy.form == "argocd-application":
        if "releaseName" in copy.helm or copy.name != new.name:
            ops.append(set_value(pos, (*copy.source, "helm", "releaseName"), new.name))
        if h.repo_to and copy.repo.rstrip("/") != h.repo_to:
            ops.append(set_value(pos, (*copy.source, "repoURL"), h.repo_to))
        if _wave(copy.doc) <= _wave(base.doc):
            ops.append(set_value(pos, ("metadata", "annotations", WAVE), str(_wave(base.doc) + 1)))
    else:
        named = copy.doc.get("spec", "releaseName") is not None
        target_ns = copy.doc.get("spec", "targetNamespace")
        default_name = f"{target_ns}-{new.object_name}" if target_ns else new.object_name
        if named or default_name != new.name:
            ops.append(set_value(pos, ("spec", "releaseName"), new.name))
        depends = copy.doc.get("spec", "dependsOn", default=[]) or []
        if not any(isinstance(d, dict) and d.get("name") == base.doc.name for d in depends):
            dep = {"name": base.doc.name, "namespace": index.namespace_of(base.doc)}
            ops.append(
                append_item(pos, ("spec", "dependsOn"), dep)
                if depends
                else set_value(pos, ("spec", "dependsOn"), [dep])
            )
    ops += ignore_ops(copy)[0] + finalizer_ops(copy)[0]
    return apply_ops(text, ops, new.file)


class ControlPlaneKind:
    """One stage: `base` upgraded and the new istiod release added."""

    name: KindName = "control-plane"

    def stages(self, outline: Outline) -> list[Stage]:
        return [Stage(0, "control-plane", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        h = plan.helm
        assert h is not None
        present = find_release(index, h.istiod_to) is not None
        want = applied(plan, self.name)
        if present != want:
            state = "missing" if want else "already in the repo"
            return [f"the new istiod release {h.istiod_to.name} ({h.istiod_to.file}) is {state}"]
        return []

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        src, tgt, head = plan.source, plan.target, f"istio-canary {stage.index}/{plan.total}"
        return [
            f"{head}: add istiod {tgt.revision} (Istio {tgt.version}) beside {src.revision} "
            f"and upgrade base",
            f"{head}: add istiod {tgt.revision} (Istio {tgt.version}) and upgrade base",
            f"{head}: add istiod {tgt.revision}",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        h = ctx.plan.helm
        assert h is not None
        old = require_release(ctx.index, h.istiod_from)
        base = require_release(ctx.index, h.base)
        changes: list[str] = []
        editor = ctx.editor
        if (version_key(base.version) or (0, 0, 0)) < (version_key(h.istiod_to.version) or ()):
            editor.edit(base.doc, set_value(base.doc.pos, base.version_path, h.istiod_to.version))
            changes.append(f"{base.label}: chart version {base.version} -> {h.istiod_to.version}")
            gone = removed_values("base", base.version.lstrip("v"), h.istiod_to.version)
            for doc, ops in base.values_edits({}, {}, gone):
                if ops:
                    editor.edit(doc, *ops)
                    changes.append(f"{base.label}: drops values the target no longer reads")
        else:
            changes.append(f"{base.label}: already at {base.version}, not newer than the target")
        ops, why = ignore_ops(base)
        if ops:
            editor.edit(base.doc, *ops)
            changes.append(why)
        if moved := repo_ops(ctx.index, base, h, editor):
            changes.append(moved)
        text = new_release_text(ctx.index, ctx.plan, old, base)
        dropped = [
            key
            for key in removed_values("istiod", old.version.lstrip("v"), h.istiod_to.version)
            if key in _dotted(old.values)
        ]
        if dropped:
            changes.append(
                f"{h.istiod_to.file}: without {', '.join(dropped)} (no longer read by the "
                f"istiod chart {h.istiod_to.version})"
            )
        renamed = [
            f"{a} -> {b}"
            for a, b in renamed_values("istiod", old.version.lstrip("v"), h.istiod_to.version)
            if a in _dotted(old.values) and b not in _dotted(old.values)
        ]
        chained = old.values.get("istio_cni") or {}
        if (
            "istio_cni.chained" in dropped
            and isinstance(chained, dict)
            and not chained.get("chained", True)
        ):
            changes.append(
                f"{h.istiod_to.file}: istio_cni.chained: false meant Multus; the istiod chart "
                f"{h.istiod_to.version} reads that only as pilot.cni.provider: multus, set it "
                "in review if the CNI runs under Multus"
            )
        if renamed:
            changes.append(
                f"{h.istiod_to.file}: values renamed by the istiod chart {h.istiod_to.version}: "
                + ", ".join(renamed)
            )
        editor.create(h.istiod_to.file, text)
        editor.add_resource(old.doc.file, h.istiod_to.file)
        changes.append(
            f"{h.istiod_to.file}: new release {h.istiod_to.name} (revision {h.istiod_to.revision}"
            + (f", tags {', '.join(h.istiod_to.tags)}" if h.istiod_to.tags else "")
            + ")"
        )
        ops, why = ignore_ops(old)
        if ops:  # the old release runs until cleanup: its Application must be Synced till then
            editor.edit(old.doc, *ops)
            changes.append(
                f"{why} and the validators' failurePolicy, which istiod rewrites at runtime "
                f"(else it is reported drifted for ever); {h.istiod_to.object_name} gets the same"
            )
        ops, why = finalizer_ops(old)
        if ops:
            editor.edit(old.doc, *ops)
            changes.append(f"{why}; {h.istiod_to.object_name} gets the same")
        return {"changes": changes}


KIND = ControlPlaneKind()
