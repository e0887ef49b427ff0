"""The seam every flavour implements: :class:`Flavour`, checked by mypy.

A *flavour* is one way of installing Istio that the generator can upgrade: the Banzai Cloud
istio-operator (an `Istio` CR reconciled by an operator release), upstream Istio from its Helm
charts (`base`, `istiod`, `gateway` releases), and the Sail operator (a `sailoperator.io` `Istio`). Everything that differs
between them lives behind this Protocol, in one folder per flavour (``generator/flavours/<name>/``);
the commands (``generator/workflow.py``) only ever talk to a flavour through it:

- ``detect(index)``: evidence that the repo installs Istio this way (one line naming the objects),
  or None; ``init`` refuses a repo two flavours claim;
- ``discover(index, opts)``: the flavour's description of the running mesh (refuses with one
  line what it cannot upgrade safely);
- ``plan(found, opts)``: the :class:`~core.plan.Plan` (with ``flavour`` set) and its stages;
- ``kinds``: the flavour's stage kinds in plan order (:class:`~generator.stages.kind.StageKind`);
- ``commit_message`` / ``rollback`` / ``rollback_message``: what its commits say and how a
  rollback moves namespaces back;
- ``target_refusal(index, version)``: the flavour's reason for refusing a target that is not a
  release (a Sail version alias), when it has one;
- ``latecomers(index, plan)``: namespaces the old control plane injects that the plan does not
  name (meshed after ``init``); ``next`` takes them into a wave (``generator/latecomers.py``).

docs/flavours.md describes the flavours and why their stages are what they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.plan import Flavour as FlavourName
from core.plan import Plan, Stage
from generator.index import Document, RepoIndex
from generator.planning import InitOptions
from generator.stages.context import StageContext
from generator.stages.kind import StageKind

__all__ = ["Flavour", "FlavourName", "Found", "Latecomer"]


class Found(Protocol):
    """What a flavour's discovery returns: at least its warnings and the files init reads."""

    @property
    def warnings(self) -> list[str]: ...

    @property
    def files(self) -> list[str]:
        """Repo files the upgrade will edit (init refuses them in shared kustomize bases)."""
        ...


@dataclass(frozen=True)
class Latecomer:
    """A namespace meshed after init, as its flavour's discovery reads it, so that `next` can
    plan it the way `init` would have (probes from its workloads and Services)."""

    name: str
    file: str
    meshed_by: tuple[str, ...]
    workloads: list[Document] = field(default_factory=list)
    services: list[Document] = field(default_factory=list)
    rev_label: str = ""  # the label value that selected it, where the flavour records one


class Flavour(Protocol):
    """One way of installing Istio: how it is recognised, discovered, planned and staged."""

    @property
    def name(self) -> FlavourName:
        """The flavour as the plan file records it (`flavour:`)."""
        ...

    @property
    def kinds(self) -> tuple[StageKind, ...]:
        """Its stage kinds, in plan order."""
        ...

    def detect(self, index: RepoIndex) -> str | None:
        """Evidence that the repo installs Istio this way (one line naming objects), or None."""
        ...

    def discover(self, index: RepoIndex, opts: InitOptions) -> Found:
        """The running mesh as this flavour sees it; InputError for what it cannot upgrade."""
        ...

    def plan(self, found: Found, opts: InitOptions) -> Plan:
        """The whole upgrade as a plan (pure); UsageError for targets and names it refuses."""
        ...

    def target_refusal(self, index: RepoIndex, version: str) -> str:
        """Why `version`, which is not an X.Y.Z release, is wrong here in particular ("" to
        let the generic refusal stand); one line naming what to write instead."""
        ...

    def release_warning(self, version: str) -> str:
        """A warning when `version` is not a release this flavour knows ("" when it is)."""
        ...

    def plan_message(self, plan: Plan, subject: str) -> str:
        """The message of the `init` commit."""
        ...

    def commit_message(self, plan: Plan, stage: Stage, subject: str, extra: dict[str, Any]) -> str:
        """The message of stage `stage`'s commit (`extra` is what its kind's `edit` returned)."""
        ...

    def recorded_files(self, plan: Plan) -> list[str]:
        """Files the plan names, so `next` can blame an unparsable one first."""
        ...

    def rollback(self, ctx: StageContext, namespaces: Sequence[str]) -> None:
        """Queue the edits moving `namespaces` back to the old control plane."""
        ...

    def rollback_message(self, plan: Plan, namespaces: Sequence[str], subject: str) -> str:
        """The message of a rollback commit."""
        ...

    def latecomers(self, index: RepoIndex, plan: Plan) -> list[Latecomer]:
        """Namespaces the old control plane injects that the plan does not name, by name; []
        once nothing would move them (the old control plane is gone)."""
        ...
