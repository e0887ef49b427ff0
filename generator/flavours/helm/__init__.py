"""The Helm flavour: upstream Istio installed from its `base`, `istiod` and `gateway` charts.

Releases are Argo CD Applications or Flux HelmReleases; the upgrade is the revision-based canary
of the Istio docs (a second istiod release `istiod-<rev>` beside the old one, namespaces moved in
waves, revision tags and the default revision handed over, the old release deleted). Everything
this flavour knows lives in this folder; docs/flavours.md says why its stages are what they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import UsageError
from core.plan import Flavour as FlavourName
from core.plan import Plan, Stage
from generator.flavours.base import Latecomer
from generator.flavours.helm import (
    cleanup,
    cni,
    control_plane,
    default_revision,
    gateways,
    messages,
    namespaces,
    tags,
)
from generator.flavours.helm.discovery import HelmFound, declares_istiod, discover
from generator.flavours.helm.planning import build_plan
from generator.flavours.helm.releases import unknown_release
from generator.index import RepoIndex
from generator.planning import InitOptions
from generator.stages.context import StageContext
from generator.stages.kind import StageKind

__all__ = ["FLAVOUR", "HelmFlavour"]

KINDS: tuple[StageKind, ...] = (
    control_plane.KIND,
    namespaces.KIND,
    gateways.KIND,
    tags.DROP,
    tags.TAKE,
    tags.RETURN,
    default_revision.KIND,
    cni.KIND,  # node agents in place, before the old istiod goes (helm/cni.py says why)
    cleanup.KIND,
)


class HelmFlavour:
    """Istio from its Helm charts, applied by Argo CD or Flux."""

    name: FlavourName = "helm"
    kinds: tuple[StageKind, ...] = KINDS

    def detect(self, index: RepoIndex) -> str | None:
        for kind in ("Application", "HelmRelease"):
            for d in index.of_kind(kind):
                if d.file not in index.patch_files() and declares_istiod(d):
                    return f"{d.kind} {d.name} of chart istiod ({d.where})"
        return None

    def discover(self, index: RepoIndex, opts: InitOptions) -> HelmFound:
        if opts.operator_version is not None:
            raise UsageError(
                "--operator-version is for the Banzai flavour; this repo installs Istio with Helm"
            )
        return discover(index)

    def plan(self, found: Any, opts: InitOptions) -> Plan:
        assert isinstance(found, HelmFound)
        return build_plan(found, opts, self.kinds)

    def target_refusal(self, index: RepoIndex, version: str) -> str:
        return ""

    def release_warning(self, version: str) -> str:
        return unknown_release(version)

    def plan_message(self, plan: Plan, subject: str) -> str:
        return messages.plan_message(plan, subject)

    def commit_message(self, plan: Plan, stage: Stage, subject: str, extra: dict[str, Any]) -> str:
        return messages.commit_message(plan, stage, subject, extra)

    def recorded_files(self, plan: Plan) -> list[str]:
        h = plan.helm
        files = [ns.file for ns in plan.namespaces]
        files += [w.file for ns in plan.namespaces for w in ns.workloads]
        if h is not None:
            files += [h.base.file, h.istiod_from.file, *(g.file for g in h.gateways)]
            files += [a.file for a in h.node_agents]
        return files

    def rollback(self, ctx: StageContext, names: Sequence[str]) -> None:
        namespaces.roll_back(ctx, names)

    def rollback_message(self, plan: Plan, names: Sequence[str], subject: str) -> str:
        return messages.rollback_message(plan, names, subject)

    def latecomers(self, index: RepoIndex, plan: Plan) -> list[Latecomer]:
        # Not read yet for Helm: its gate still names such a namespace at every stage.
        return []


FLAVOUR = HelmFlavour()
