"""From what Sail discovery found and the `init` options to a :class:`~core.plan.Plan` (pure).

The operator names the revisions itself, so there is no `--name`. What is refused here, with
the reason: a target that is not newer, a jump of more than two minors (a revision canary may
skip one), a jump the IstioCNI cannot span (it works with control planes of its own minor and
the next), and a target the operator release does not install (each Sail release installs its
own minor and the two before).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from core.errors import UsageError
from core.plan import ControlPlane, GatewayRef, OperatorRelease, Plan
from core.sailplan import (
    SailCNI,
    SailGateway,
    SailIstio,
    SailMesh,
    SailOperator,
    SailTag,
    revision_name,
)
from core.versions import version_key
from generator import __version__
from generator.flavours.helm.planning import _release
from generator.flavours.sail.discovery import SailFound
from generator.flavours.sail.objects import sail_docs
from generator.index import RepoIndex
from generator.planning import InitOptions, connectivity, mesh_namespaces, split_waves
from generator.stages.kind import Outline, StageKind

__all__ = ["MAX_MINOR_JUMP", "SailOutline", "alias_refusal", "build_plan", "check_upgrade"]

# A revision-based canary may skip one minor (istio.io: 1.8 -> 1.10), never more.
MAX_MINOR_JUMP = 2
# A Sail operator release installs its own Istio minor and the two before it.
OPERATOR_MINORS = 3
# `v1.28-latest` as the operator's versions.yaml spells its aliases (`1.28-latest` too, as typed).
TARGET_ALIAS = re.compile(r"^v?(\d+)\.(\d+)-latest$")


@dataclass(frozen=True)
class SailOutline(Outline):
    """The outline plus what the Sail-only kinds plan from."""

    switches_strategy: bool = False
    upgrades_cni: bool = False


def alias_refusal(index: RepoIndex, version: str) -> str:
    """Why a `vX.Y-latest` target is refused ("" for anything else). The operator resolves an
    alias through the versions.yaml of its own release (`name: v1.28-latest, ref: v1.28.6`) but
    names the revision after `spec.version` as written, so the revision would carry the alias
    and change patch in place when an operator upgrade moves the alias: no canary, and a repo
    that does not say which Istio runs."""
    m = TARGET_ALIAS.match(version)
    if m is None:
        return ""
    istio = next(iter(sail_docs(index, "Istio")), None)
    alias = f"v{m[1]}.{m[2]}-latest"
    rev = revision_name(istio.name if istio is not None else "default", "RevisionBased", alias)
    return (
        f"--to-version {version!r} is a Sail version alias: the operator would name the revision "
        f"after it ({rev}) and move that revision in place to whatever patch a later operator "
        f"release maps {alias} to in its versions.yaml; pin a {m[1]}.{m[2]} release X.Y.Z "
        "(like 1.28.6; `kubectl get istiorevision` shows the one the alias stands for today)"
    )


def check_upgrade(found: SailFound, to_version: str) -> None:
    """Refuse targets the operator, the canary or the IstioCNI cannot take."""
    src = version_key(found.version) or (0, 0, 0)
    dst = version_key(to_version) or (0, 0, 0)
    where = f"Istio {found.istio.name} ({found.istio.where})"
    if dst <= src:
        raise UsageError(
            f"--to-version {to_version} is not newer than {found.version}, which {where} runs"
        )
    jump = dst[1] - src[1] if dst[0] == src[0] else 99
    if jump > MAX_MINOR_JUMP:
        raise UsageError(
            f"{found.version} -> {to_version} skips more than one minor; a revision canary may "
            "skip one at most: upgrade to an intermediate minor first"
        )
    if found.cni is not None and jump > 1:
        cni = version_key(found.cni_version) or (0, 0, 0)
        raise UsageError(
            f"IstioCNI {found.cni.name} ({found.cni.where}) runs {found.cni_version}, which works "
            f"with control planes 1.{cni[1]} and 1.{cni[1] + 1} only, and is upgraded after the "
            f"old control plane is gone; a {to_version} control plane beside it is out of that "
            "range: upgrade one minor at a time"
        )
    op = found.operator
    key = version_key(op.version) if op.version and op.tracks_istio else None
    if key is not None and not (key[1] - OPERATOR_MINORS < dst[1] <= key[1]):
        raise UsageError(
            f"Sail operator {op.version} ({op.label}) installs Istio 1.{key[1] - 2} to "
            f"1.{key[1]}, not {to_version}; upgrade the operator first, in its own change"
        )
    if key is not None and not (key[1] - OPERATOR_MINORS < src[1]):
        raise UsageError(
            f"Sail operator {op.version} ({op.label}) no longer installs the running "
            f"{found.version} (end of life there), so its revision could not be kept beside the "
            "canary; use an operator release that installs both"
        )


def build_plan(found: SailFound, opts: InitOptions, kinds: tuple[StageKind, ...]) -> Plan:
    """The whole Sail canary upgrade, stage by stage."""
    if opts.name is not None:
        raise UsageError(
            "--name is not used for Sail: the operator names revisions itself "
            f"({found.istio.name}-v<version>)"
        )
    check_upgrade(found, opts.to_version)
    istio = SailIstio(
        found.istio.name,
        found.namespace,
        found.istio.file,
        found.strategy,  # type: ignore[arg-type]
        found.grace,
    )
    op = found.operator
    sail = SailMesh(
        istio=istio,
        operator=SailOperator(
            op.form, op.doc.name, str(op.doc.metadata.get("namespace", "")), op.doc.file, op.version
        ),
        tags=tuple(
            SailTag(t.doc.name, t.doc.file, t.target_kind, t.target_name) for t in found.tags
        ),
        cni=None
        if found.cni is None
        else SailCNI(
            found.cni.name,
            str(found.cni.get("spec", "namespace", default="istio-cni")),
            found.cni.file,
            found.cni_version,
            opts.to_version,
        ),
        gateways=tuple(
            SailGateway(g.name, g.namespace, g.doc.file, g.rev_label) for g in found.gateways
        ),
        gateway_releases=tuple(_release(c) for c in found.gateway_releases),
    )
    new_rev = sail.new_revision(opts.to_version)
    clash = [t.name for t in sail.tags if t.name in (new_rev, sail.via_revision(found.version))]
    if clash:
        raise UsageError(
            f"IstioRevisionTag {clash[0]} has the name of a revision the upgrade makes; the "
            "operator refuses a tag named like a revision (NameAlreadyExists): rename the tag"
        )
    no_operator = OperatorRelease("", "", "", "plain")
    source = ControlPlane(
        istio.name,
        istio.namespace,
        found.version,
        no_operator,
        istio.file,
        True,
        sail.old_revision(found.version),
    )
    target = replace(source, version=opts.to_version, global_=False, rev=new_rev)
    probes, baseline, services = connectivity(found.namespaces)
    names = [ns.name for ns in found.namespaces]
    namespaces = mesh_namespaces(found.namespaces, services)
    gateways = tuple(GatewayRef(g.name, g.namespace, True, g.doc.file) for g in found.gateways)
    gateways += tuple(GatewayRef(r.name, r.namespace, True, r.file) for r in sail.gateway_releases)
    cni = sail.cni
    outline = SailOutline(
        names,
        split_waves(names, opts.waves, opts.wave_size),
        gateways,
        probes,
        switches_strategy=sail.switches_strategy,
        upgrades_cni=cni is not None and cni.version_from != cni.version_to,
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
        flavour="sail",
        sail=sail,
    )
