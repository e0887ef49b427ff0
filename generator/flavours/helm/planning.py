"""From what Helm discovery found and the `init` options to a :class:`~core.plan.Plan` (pure)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, replace

from core.errors import UsageError
from core.helmplan import DEFAULT_REVISION, ChartRelease, HelmMesh, RevisionTag, TagManifest
from core.plan import ControlPlane, GatewayRef, OperatorRelease, Plan
from core.versions import minor_key
from generator import __version__
from generator.flavours.helm.charts import MOVED_REPOS, ChartDoc
from generator.flavours.helm.cni import plan_agents
from generator.flavours.helm.discovery import HelmFound
from generator.flavours.helm.releases import check_upgrade, revision_name
from generator.planning import InitOptions, connectivity, mesh_namespaces, split_waves
from generator.stages.kind import Outline, StageKind

__all__ = ["HelmOutline", "build_plan", "canary_tag", "new_object_name"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# The chart repository moved with this minor (see charts.MOVED_REPOS).
REPO_MOVED_IN = (1, 31)


@dataclass(frozen=True)
class HelmOutline(Outline):
    """The outline plus what the tag stages plan from: the old release's tags, and whether any
    namespace goes through a canary tag (and so returns to its stable tag at the end)."""

    tags: tuple[str, ...] = ()
    returning: bool = False
    manifest_tags: tuple[str, ...] = ()
    node_agents: tuple[str, ...] = ()  # cni/ztunnel releases the `cni` stage moves


def canary_tag(stable: str) -> str:
    """The canary tag a stable tag's namespaces move through: `prod-stable` -> `prod-canary`."""
    if stable.endswith("stable") and stable != "stable":
        return stable[: -len("stable")] + "canary"
    return f"{stable}-canary"


def new_object_name(old_object: str, old_release: str, new_release: str) -> str:
    """The GitOps object of the new release: the old one's name with the release name swapped."""
    if old_release and old_release in old_object:
        return old_object.replace(old_release, new_release, 1)
    return new_release


def _release(c: ChartDoc, **changes: object) -> ChartRelease:
    r = ChartRelease(
        name=c.name,
        namespace=c.namespace,
        chart=c.chart,
        version=c.version.lstrip("v"),
        form=c.form,
        file=c.doc.file,
        obj=c.doc.name if c.doc.name != c.name else "",
        revision="" if c.chart == "base" else c.revision,
        tags=tuple(c.tags),
        default_revision=str(c.values.get("defaultRevision") or "") if c.chart == "base" else "",
    )
    return replace(r, **changes)  # type: ignore[arg-type]


def build_plan(found: HelmFound, opts: InitOptions, kinds: tuple[StageKind, ...]) -> Plan:
    """The whole Helm canary upgrade, stage by stage; refuses versions and names it cannot stage."""
    old = found.istiod
    check_upgrade(old.version.lstrip("v"), opts.to_version)
    rev = opts.name or revision_name(opts.to_version)
    if not _DNS_LABEL.match(rev) or len(rev) > 56:
        raise UsageError(f"--name {rev!r} is not a valid revision (a lowercase DNS label)")
    if rev in (old.revision, *old.tags, *found.tag_docs) or rev == DEFAULT_REVISION:
        raise UsageError(f"revision {rev} is already in use by {old.name}; pick another --name")
    release = f"istiod-{rev}"
    if release in found.releases:
        raise UsageError(f"a Helm release {release} already exists; pick another --name")
    obj = new_object_name(old.doc.name, old.name, release)
    new_file = posixpath.join(posixpath.dirname(old.doc.file), f"{obj}.yaml")

    key = minor_key(opts.to_version) or (0, 0)
    repo_to = MOVED_REPOS.get(old.repo.rstrip("/"), "") if key >= REPO_MOVED_IN else ""
    all_tags = {*old.tags, *found.tag_docs}
    stable_used = sorted({ns.rev_label for ns in found.namespaces if ns.rev_label in all_tags})
    tags = tuple(RevisionTag(t, canary_tag(t)) for t in stable_used)
    for t in tags:
        if t.canary in all_tags:
            raise UsageError(
                f"the canary tag {t.canary} of {t.name} is already a tag of {old.name}; "
                "rename it or the stable tag"
            )
    old_release = _release(found.istiod)
    new_release = replace(
        old_release,
        name=release,
        version=opts.to_version,
        file=new_file,
        obj=obj if obj != release else "",
        revision=rev,
        tags=tuple(t.canary for t in tags),
    )
    base = _release(found.base)
    agents = plan_agents(found.agents, old.version.lstrip("v"), opts.to_version, old.revision)
    found.warnings.extend(agents.warnings)
    helm = HelmMesh(
        base=base,
        istiod_from=old_release,
        istiod_to=new_release,
        gateways=tuple(
            _release(g.chart)
            if g.chart is not None
            else ChartRelease(g.name, g.namespace, "", "", "deployment", g.doc.file, "", g.revision)
            for g in found.gateways
        ),
        tags=tags,
        default_from=base.default_revision or DEFAULT_REVISION,
        default_to=rev,
        repo_from=old.repo if repo_to else "",
        repo_to=repo_to,
        tag_manifests=tuple(
            TagManifest(t, tuple(sorted({d.file for d in docs})))
            for t, docs in found.tag_docs.items()
        ),
        cni=agents.cni,
        ztunnel=agents.ztunnel,
    )
    no_operator = OperatorRelease("", "", "", "plain")
    source = ControlPlane(
        old.name,
        old.namespace,
        old.version.lstrip("v"),
        no_operator,
        old.doc.file,
        old.revision == DEFAULT_REVISION,
        old.revision,
    )
    target = ControlPlane(
        release, old.namespace, opts.to_version, no_operator, new_file, False, rev
    )
    probes, baseline, services = connectivity(found.namespaces)
    names = [ns.name for ns in found.namespaces]
    namespaces = mesh_namespaces(found.namespaces, services)
    gateways = tuple(GatewayRef(g.name, g.namespace, True, g.doc.file) for g in found.gateways)
    outline = HelmOutline(
        names,
        split_waves(names, opts.waves, opts.wave_size),
        gateways,
        probes,
        tags=tuple(old.tags),
        returning=bool(tags),
        manifest_tags=tuple(found.tag_docs),
        node_agents=tuple(r.name for r in helm.node_agents),
    )
    drafts = [stage for kind in kinds for stage in kind.stages(outline)]
    stages = tuple(replace(s, index=i) for i, s in enumerate(drafts, start=1))
    return Plan(
        source=source,
        target=target,
        stages=stages,
        namespaces=namespaces,
        gateways=gateways,
        gitops_engine=found.engine,
        gitops_objects=tuple(found.gitops),
        baseline_checks=baseline,
        generator_version=__version__,
        flavour="helm",
        helm=helm,
    )
