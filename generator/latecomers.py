"""Namespaces meshed after `init`: the plan takes them in instead of forcing a new upgrade.

A team may add a namespace the old control plane injects (`istio-injection=enabled`, the old
revision's `istio.io/rev`, a tag of it, or a Banzai `autoInjectionNamespaces` entry) while the
upgrade is under way; each flavour finds them (`Flavour.latecomers`). No stage would move it, so cleanup would leave its pods on a deleted control plane, and the gate
names it at every stage. `next` takes it in before it writes the next stage: into the next
namespaces wave not yet applied (the stage `next` is about to write, when that is a wave), or, when
every wave is applied, into a new wave just before cleanup. Its connectivity checks pair it both
ways with a namespace of the other side, as `init` would. Pure: index and plan in, plan out.
"""

from __future__ import annotations

from dataclasses import replace

from core.plan import ConnectivityCheck, MeshNamespace, Plan, Stage, WorkloadRef
from generator.flavours import flavour_of
from generator.index import RepoIndex
from generator.planning import _checks, _Endpoint, _endpoint, probe_pairs

__all__ = ["take_in"]


def take_in(index: RepoIndex, plan: Plan) -> tuple[Plan, list[str]]:
    """The plan with every unplanned meshed namespace in a wave, and one note per namespace."""
    # Each flavour reads its own injection labels (flavours.base.Flavour.latecomers).
    found = {ns.name: ns for ns in flavour_of(plan).latecomers(index, plan)}
    if not found:
        return plan, []
    names = sorted(found)
    added = tuple(
        MeshNamespace(
            ns.name,
            tuple(WorkloadRef(w.kind, w.name, w.file) for w in ns.workloads),
            _endpoint(ns).services,
            ns.file,
            ns.meshed_by,
            ns.rev_label,
        )
        for ns in (found[n] for n in names)
    )
    # Partners for the new namespaces' probes: what the plan already knows, from its own records.
    eps = {ns.name: _endpoint(found[ns.name]) for ns in added}
    known = {ns.name: ns for ns in plan.namespaces}
    stages = list(plan.stages)
    wave = next((s for s in stages if s.kind == "namespaces" and not s.applied), None)
    if wave is not None:
        pos = stages.index(wave)
        after = {*plan.migrated_namespaces(upto=wave.index - 1), *wave.namespaces}
        where = f"into {wave.name} (stage {wave.index})"
        members = (*wave.namespaces, *names)
    else:
        cleanup = next(s for s in stages if s.kind == "cleanup")
        pos = stages.index(cleanup)
        count = sum(1 for s in stages if s.kind == "namespaces")
        wave = Stage(0, f"namespaces-{count + 1}", "namespaces")
        stages.insert(pos, wave)
        after = set(plan.migrated_namespaces())
        where = f"into a new wave {wave.name} before cleanup"
        members = tuple(names)
    # Probe across the two control planes: with a namespace still on the old one after this
    # wave if there is one, else with one already moved.
    partners = [n for n in known if n not in after] or [n for n in known if n in after]
    checks: tuple[ConnectivityCheck, ...] = ()
    if partners:
        eps.update({p: _known_endpoint(plan, known[p]) for p in partners})
        checks = _checks(probe_pairs(names, partners[:1], names), eps)
    stages[pos] = replace(wave, namespaces=members, checks=(*wave.checks, *checks))
    renumbered = tuple(replace(s, index=i) for i, s in enumerate(stages, start=1))
    taken = replace(plan, namespaces=(*plan.namespaces, *added), stages=renumbered)
    notes = [
        f"namespace {n} is meshed by {plan.source.name} but was not in the plan (added after "
        f"init): taken {where}"
        for n in names
    ]
    return taken, notes


def _known_endpoint(plan: Plan, ns: MeshNamespace) -> _Endpoint:
    """A planned namespace as a probe endpoint: its first check's source, its Services."""
    source = next(
        (
            (c.source_selector, c.source_container)
            for s in (*plan.stages, None)
            for c in (s.checks if s else plan.baseline_checks)
            if c.source_namespace == ns.name
        ),
        None,
    )
    return _Endpoint(source, ns.services)
