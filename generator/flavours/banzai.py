"""The Banzai Cloud istio-operator flavour: the seed's, wrapping the modules where they live today.

Its discovery (``generator/discovery.py``), planning (``generator/planning.py``), stage kinds
(``generator/stages/``) and templates (``templates/``) predate the flavour seam and stay where they
are for now; this module only presents them as a :class:`~generator.flavours.base.Flavour`.
(They move into ``generator/flavours/banzai/`` once nobody else is editing them.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.plan import Flavour as FlavourName
from core.plan import Plan, Stage
from generator.chartpin import pair_warning
from generator.discovery import (
    ISTIO_GROUP,
    Found,
    _attach_workloads,
    _meshed_namespaces,
    discover,
    find_doc,
    operator_release,
)
from generator.flavours.base import Latecomer
from generator.index import RepoIndex
from generator.planning import InitOptions, build_plan
from generator.releases import unknown_release
from generator.render import render
from generator.stages import KINDS, StageContext
from generator.stages.kind import StageKind
from generator.stages.namespaces import RESTART_ANNOTATION, move

__all__ = ["FLAVOUR", "BanzaiFlavour", "BanzaiFound"]


@dataclass(frozen=True)
class BanzaiFound:
    """Discovery's :class:`~generator.discovery.Found` with the files the upgrade edits."""

    found: Found

    @property
    def warnings(self) -> list[str]:
        return self.found.warnings

    @property
    def files(self) -> list[str]:
        f = self.found
        return [
            f.cr.file,
            f.operator.doc.file,
            *(ns.doc.file for ns in f.namespaces),
            *(w.file for ns in f.namespaces for w in ns.workloads),
            *(d.file for _, d in f.gateways if d is not None),
        ]


class BanzaiFlavour:
    """An `Istio` CR (istio.banzaicloud.io) reconciled by an istio-operator release."""

    name: FlavourName = "banzai"
    kinds: tuple[StageKind, ...] = KINDS

    def detect(self, index: RepoIndex) -> str | None:
        crs = [d for d in index.of_kind("Istio", ISTIO_GROUP) if d.file not in index.patch_files()]
        if not crs:
            return None
        ops = [d for d in index.documents() if operator_release(index, d) is not None]
        what = ", ".join(f"Istio {d.name} ({d.where})" for d in crs[:2])
        if ops:
            what += f" and istio-operator release {ops[0].name or '?'} ({ops[0].where})"
        return what

    def discover(self, index: RepoIndex, opts: InitOptions) -> BanzaiFound:
        from core.versions import parse_version

        return BanzaiFound(discover(index, parse_version(opts.to_version)))

    def plan(self, found: Any, opts: InitOptions) -> Plan:
        assert isinstance(found, BanzaiFound)
        plan = build_plan(found.found, opts)
        op = found.found.operator
        if pair := pair_warning(op.doc.data, op.release.name, plan.source.operator.version):
            found.found.warnings.append(pair)  # the old release pins a chart it cannot run
        return plan

    def target_refusal(self, index: RepoIndex, version: str) -> str:
        return ""

    def release_warning(self, version: str) -> str:
        return unknown_release(version)

    def plan_message(self, plan: Plan, subject: str) -> str:
        return render(
            "commit-plan.txt.j2",
            subject=subject,
            source=plan.source,
            target=plan.target,
            stages=plan.stages,
            n=plan.total,
            baseline=len(plan.baseline_checks),
        )

    def commit_message(self, plan: Plan, stage: Stage, subject: str, extra: dict[str, Any]) -> str:
        return render(
            f"commit-{stage.kind}.txt.j2",
            subject=subject,
            source=plan.source,
            target=plan.target,
            stage=stage,
            i=stage.index,
            n=plan.total,
            **extra,
        )

    def recorded_files(self, plan: Plan) -> list[str]:
        src = plan.source
        return [
            src.file,
            src.operator.file,
            *(ns.file for ns in plan.namespaces),
            *(w.file for ns in plan.namespaces for w in ns.workloads),
            *(g.file for g in plan.gateways if g.in_repo),
        ]

    def rollback(self, ctx: StageContext, namespaces: Sequence[str]) -> None:
        move(ctx, namespaces, back=True)

    def rollback_message(self, plan: Plan, namespaces: Sequence[str], subject: str) -> str:
        return render(
            "commit-rollback.txt.j2",
            subject=subject,
            source=plan.source,
            target=plan.target,
            namespaces=list(namespaces),
            annotation=RESTART_ANNOTATION,
        )

    def latecomers(self, index: RepoIndex, plan: Plan) -> list[Latecomer]:
        src = plan.source
        cr = find_doc(index, "Istio", src.name, src.namespace, ISTIO_GROUP)
        if cr is None:  # cleanup applied, or the plan no longer matches: nothing to take in
            return []
        auto = [str(n) for n in cr.get("spec", "autoInjectionNamespaces", default=[]) or []]
        planned = {ns.name for ns in plan.namespaces}
        ns_docs = {
            d.name: d
            for d in index.of_kind("Namespace", "")
            if d.file not in index.patch_files() and d.name not in planned
        }
        found = _meshed_namespaces(ns_docs, auto, src.revision, src.global_)
        _attach_workloads(index, found)
        return [
            Latecomer(ns.name, ns.doc.file, ns.meshed_by, ns.workloads, ns.services)
            for ns in found.values()
        ]


FLAVOUR = BanzaiFlavour()
