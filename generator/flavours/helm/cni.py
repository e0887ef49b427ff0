"""cni (Helm): upgrade the node agents, the `cni` and `ztunnel` chart releases, in place.

Each is one DaemonSet for every revision, so there is no canary: a chart bump rolls it node by
node. The Istio docs (ambient upgrade with Helm) give the skew rule: CNI and ztunnel at 1.x work
with the control plane at 1.x and 1.x+1, so the control plane goes first. During the canary the
agents must serve both istiods, so they stay at the running minor; a jump of two minors leaves
no agent version that serves both, and is refused. They move once every pod is on the new
revision, before the old istiod is deleted: ztunnel talks to `istiod[-<revision>]` (its
`revision` value), so a ztunnel bound to the old revision is pointed at the new one in the same
commit; deleting the old istiod first would cut it off. The docs' order is the same: control
plane, CNI, ztunnel, then the old control plane goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import PreconditionError, UsageError
from core.helmplan import ChartRelease, HelmMesh
from core.plan import Plan, Stage
from core.versions import minor_key, version_key
from generator.flavours.helm.charts import ChartDoc, read_chart
from generator.flavours.helm.control_plane import repo_ops
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline, applied
from generator.yamledit import set_value

__all__ = ["AGENT_CHARTS", "KIND", "AgentsPlanned", "agent_docs", "find_agent", "plan_agents"]

AGENT_CHARTS = ("cni", "ztunnel")
DOCS = "istio.io ambient upgrade with Helm"


def agent_docs(index: RepoIndex) -> list[ChartDoc]:
    """Every release of the `cni` and `ztunnel` charts (kustomize patch files excluded)."""
    patches = index.patch_files()
    out = []
    for kind in ("Application", "HelmRelease"):
        for d in index.of_kind(kind):
            if d.file not in patches and (c := read_chart(index, d, AGENT_CHARTS)) is not None:
                out.append(c)
    return sorted(out, key=lambda c: (c.doc.file, c.doc.pos))


@dataclass(frozen=True)
class AgentsPlanned:
    cni: tuple[ChartRelease, ...]
    ztunnel: tuple[ChartRelease, ...]
    warnings: tuple[str, ...] = ()


def _record(c: ChartDoc) -> ChartRelease:
    return ChartRelease(
        name=c.name,
        namespace=c.namespace,
        chart=c.chart,
        version=c.version.lstrip("v"),
        form=c.form,
        file=c.doc.file,
        obj=c.doc.name if c.doc.name != c.name else "",
        revision=c.revision,
    )


def plan_agents(
    agents: list[ChartDoc], source: str, target: str, old_revision: str
) -> AgentsPlanned:
    """Which node agents the `cni` stage moves; refuses (UsageError) a skew no order can keep."""
    src, tgt = minor_key(source), minor_key(target)
    assert src is not None and tgt is not None
    cni: list[ChartRelease] = []
    ztunnel: list[ChartRelease] = []
    warnings: list[str] = []
    for c in agents:
        have = minor_key(c.version.lstrip("v"))
        if have is None or (version_key(c.version.lstrip("v")) or ()) < (1, 0, 0):
            raise UsageError(f"{c.label}: chart version {c.version!r} is not a release; pin one")
        if (version_key(c.version.lstrip("v")) or ()) >= (version_key(target) or ()):
            warnings.append(f"{c.label}: already at {c.version}, left as it is")
            continue
        # an agent of minor a serves control planes a and a+1: both istiods run during the canary
        if have < (tgt[0], tgt[1] - 1):
            fix = (
                f"upgrade to {src[0]}.{src[1] + 1} first, then to {tgt[0]}.{tgt[1]}"
                if tgt[1] - src[1] > 1 and have == src
                else f"bring it to {tgt[0]}.{tgt[1] - 1} first"
            )
            raise UsageError(
                f"{c.label}: the {c.chart} node agent runs {c.version}, and works only with the "
                f"control plane of its own minor and the next ({DOCS}); no {c.chart} version "
                f"serves both istiod {source} and {target} during the canary: {fix}"
            )
        if have > src:
            warnings.append(
                f"{c.label}: {c.chart} {c.version} already runs ahead of istiod {source}, "
                f"outside the skew rule ({DOCS}); the canary brings the control plane up to it"
            )
        if c.chart == "ztunnel" and c.revision != old_revision:
            warnings.append(
                f"{c.label}: ztunnel is bound to revision {c.revision}, not to the istiod being "
                f"upgraded ({old_revision}); left as it is"
            )
            continue
        (cni if c.chart == "cni" else ztunnel).append(_record(c))
    return AgentsPlanned(tuple(cni), tuple(ztunnel), tuple(warnings))


def find_agent(index: RepoIndex, rel: ChartRelease) -> ChartDoc | None:
    """The node-agent release the plan records as `rel`."""
    for d in index.files.get(rel.file, []):
        if d.name != rel.object_name:
            continue
        found = read_chart(index, d, AGENT_CHARTS)
        if found is not None and found.name == rel.name and found.chart == rel.chart:
            return found
    return None


def _agents(plan: Plan) -> tuple[HelmMesh, tuple[ChartRelease, ...]]:
    h = plan.helm
    assert h is not None
    return h, h.node_agents


class CniKind:
    """One stage, present when the plan has node agents to move; after default-revision, before
    cleanup (see the module docstring)."""

    name: KindName = "cni"

    def stages(self, outline: Outline) -> list[Stage]:
        if not getattr(outline, "node_agents", ()):
            return []
        return [Stage(0, "cni", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        _, agents = _agents(plan)
        if not any(s.kind == "cni" for s in plan.stages):
            return []
        out = []
        moved = applied(plan, self.name)
        for rel in agents:
            c = find_agent(index, rel)
            want = plan.target.version if moved else rel.version
            if c is None:
                out.append(f"the {rel.chart} release {rel.name} is not in {rel.file}")
            elif c.version.lstrip("v") != want:
                out.append(f"{c.label}: chart version {c.version}, the plan says {want}")
        return out

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        _, agents = _agents(plan)
        head, tgt = f"istio-canary {stage.index}/{plan.total}", plan.target.version
        names = ", ".join(dict.fromkeys(r.chart for r in agents))
        return [
            f"{head}: upgrade {names} to Istio {tgt} in place",
            f"{head}: upgrade the node agents to {tgt}",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        plan = ctx.plan
        h, agents = _agents(plan)
        if plan.rolled_back:
            raise PreconditionError(
                f"namespaces {', '.join(plan.rolled_back)} were rolled back to "
                f"{plan.source.revision}; their sidecars would run under node agents of "
                f"{plan.target.version}, newer than their control plane (to move them again, "
                "`git revert` their rollback commit)"
            )
        tgt = plan.target
        changes = []
        for rel in agents:
            c = find_agent(ctx.index, rel)
            if c is None:
                raise PreconditionError(
                    f"plan does not match the repo: the {rel.chart} release {rel.name} is not in "
                    f"{rel.file}"
                )
            ctx.editor.edit(c.doc, set_value(c.doc.pos, c.version_path, tgt.version))
            changes.append(f"{c.label}: chart version {c.version} -> {tgt.version}")
            if rel.chart == "ztunnel" and rel.revision == plan.source.revision:
                for doc, ops in c.values_edits({"revision": tgt.revision}, {}):
                    ctx.editor.edit(doc, *ops)
                changes.append(
                    f"{c.label}: revision {tgt.revision}, so ztunnel talks to istiod-"
                    f"{tgt.revision} before {plan.source.name} is deleted"
                )
            if moved := repo_ops(ctx.index, c, h, ctx.editor):
                changes.append(moved)
        changes += [
            "In place: each is one DaemonSet serving every revision (no canary exists for it; "
            f"{DOCS}); the bump rolls it node by node.",
            f"Now: CNI and ztunnel of 1.x work with control planes 1.x and 1.x+1, so they had to "
            f"stay at {plan.source.version} while istiod {plan.source.revision} served pods; "
            f"every pod is on {tgt.revision} now, and they move before the old istiod goes.",
        ]
        return {"changes": changes}


KIND = CniKind()
