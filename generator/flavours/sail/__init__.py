"""The Sail flavour: a cluster-scoped `Istio` (sailoperator.io/v1) run by the Sail operator.

The operator (istio-ecosystem/sail-operator, the base of OpenShift Service Mesh 3) turns the
`Istio` into `IstioRevision`s; with `updateStrategy.type: RevisionBased` a new `spec.version`
makes a second revision beside the running one and the operator deletes the old one once nothing
uses it. It moves no workloads: that is what this flavour plans, as reviewed commits (the strategy
switch, the version bump, namespace waves, gateways, the tag tidy-up, IstioCNI in place).
Everything this flavour knows lives in this folder; docs/flavours.md says why its stages are
what they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import UsageError
from core.plan import Flavour as FlavourName
from core.plan import Plan, Stage
from generator.flavours.base import Latecomer
from generator.flavours.sail import (
    cleanup,
    cni,
    control_plane,
    gateways,
    messages,
    namespaces,
    strategy,
)
from generator.flavours.sail.discovery import SailFound, discover, latecomers
from generator.flavours.sail.objects import operator_docs, sail_docs
from generator.flavours.sail.planning import alias_refusal, build_plan
from generator.index import RepoIndex
from generator.planning import InitOptions
from generator.stages.context import StageContext
from generator.stages.kind import StageKind

__all__ = ["FLAVOUR", "SailFlavour"]

KINDS: tuple[StageKind, ...] = (
    strategy.KIND,
    control_plane.KIND,
    namespaces.KIND,
    gateways.KIND,
    cleanup.KIND,
    cni.KIND,
)


class SailFlavour:
    """Istio run by the Sail operator, applied by Argo CD or Flux."""

    name: FlavourName = "sail"
    kinds: tuple[StageKind, ...] = KINDS

    def detect(self, index: RepoIndex) -> str | None:
        found = sail_docs(index, "Istio")
        if not found:
            return None
        what = ", ".join(f"Istio {d.name} of sailoperator.io ({d.where})" for d in found[:2])
        ops = operator_docs(index)
        if ops:
            what += f" and Sail operator {ops[0].label}"
        return what

    def discover(self, index: RepoIndex, opts: InitOptions) -> SailFound:
        if opts.operator_version is not None:
            raise UsageError(
                "--operator-version is for the Banzai flavour; a Sail operator is upgraded in "
                "its own change before the Istio it runs"
            )
        return discover(index)

    def plan(self, found: Any, opts: InitOptions) -> Plan:
        assert isinstance(found, SailFound)
        return build_plan(found, opts, self.kinds)

    def target_refusal(self, index: RepoIndex, version: str) -> str:
        return alias_refusal(index, version)

    def release_warning(self, version: str) -> str:
        return ""

    def plan_message(self, plan: Plan, subject: str) -> str:
        return messages.plan_message(plan, subject)

    def commit_message(self, plan: Plan, stage: Stage, subject: str, extra: dict[str, Any]) -> str:
        return messages.commit_message(plan, stage, subject, extra)

    def recorded_files(self, plan: Plan) -> list[str]:
        s = plan.sail
        files = [ns.file for ns in plan.namespaces]
        files += [w.file for ns in plan.namespaces for w in ns.workloads]
        if s is not None:
            files += [s.istio.file, *(t.file for t in s.tags), *(g.file for g in s.gateways)]
            files += [r.file for r in s.gateway_releases]
            files += [s.cni.file] if s.cni is not None else []
        return [f for f in files if f]

    def rollback(self, ctx: StageContext, names: Sequence[str]) -> None:
        namespaces.roll_back(ctx, names)

    def rollback_message(self, plan: Plan, names: Sequence[str], subject: str) -> str:
        return messages.rollback_message(plan, names, subject)

    def latecomers(self, index: RepoIndex, plan: Plan) -> list[Latecomer]:
        return latecomers(index, plan)


FLAVOUR = SailFlavour()
