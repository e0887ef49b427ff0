"""A Sail plan's stage N as :class:`SailStage`: answered by the plan's queries, never recomputed.

The plan (`core.plan`, `core.sailplan`) names the revisions the operator makes (old, the *via*
revision of an `InPlace` -> `RevisionBased` switch, new) and answers which one is active, where
each tag points and which version the IstioCNI runs after stage N. What it leaves to the gate is
when the operator may delete a revision, which follows from its rule (nothing names it):

- the old revision is needed while a planned namespace or gateway is still expected on it, may
  be gone once all moved (the operator prunes it before the cleanup commit if nothing else names
  it), and must be gone after cleanup;
- the via revision is needed while it is active, may be gone once the version bump made the new
  one, and must be gone after cleanup.
"""

from __future__ import annotations

from core.plan import Plan
from verifier.checks.sail_stage import CniExpectation, RevisionExpectation, SailStage
from verifier.expectation import Expectation

__all__ = ["stage_of"]


def _old_needed(plan: Plan, index: int) -> bool:
    moved = set(plan.migrated_namespaces(upto=index)) - set(plan.rolled_back)
    waiting = [ns.name for ns in plan.namespaces if ns.name not in moved]
    sail = plan.sail
    gateways = (*sail.gateways, *sail.gateway_releases) if sail is not None else ()
    return bool(waiting) or (bool(gateways) and not plan.gateways_moved(upto=index))


def stage_of(expect: Expectation) -> SailStage:
    """The Sail postconditions of `expect`'s stage (and the cleanup precondition, when set)."""
    plan, index = expect.plan, expect.index
    sail = plan.sail
    if sail is None:  # only(`sail`, ...) judges Sail plans alone
        raise ValueError("not a Sail plan")
    ns = sail.istio.namespace or plan.target.namespace
    old = RevisionExpectation(plan.source.revision, plan.source.version, ns)
    new = RevisionExpectation(plan.target.revision, plan.target.version, ns)
    via = (
        RevisionExpectation(plan.via_revision, plan.source.version, ns)
        if plan.via_revision
        else None
    )
    by_name = {r.name: r for r in (old, via, new) if r is not None}
    active = by_name[plan.active_revision(index) or old.name]
    cleaned = plan.applied_by("cleanup", index)
    ready: list[RevisionExpectation] = [active]
    optional: list[RevisionExpectation] = []
    gone: list[RevisionExpectation] = []
    for rev in (old, via):
        if rev is None or rev == active:
            continue
        if cleaned:
            gone.append(rev)
        elif rev is old and _old_needed(plan, index):
            ready.append(rev)
        elif rev is old or plan.applied_by("control-plane", index):
            optional.append(rev)
    cni = sail.cni
    cleanup_at = next((st.index for st in plan.stages if st.kind == "cleanup"), 0)
    retargeted = tuple(
        t.name
        for t in sail.tags
        if expect.cleanup_safety
        and not cleaned
        and cleanup_at
        and plan.tag_revision(t.name, index) == old.name
        and plan.tag_revision(t.name, cleanup_at) != old.name
    )
    return SailStage(
        istio=sail.istio.name,
        active=active,
        ready=tuple(ready),
        optional=tuple(optional),
        gone=tuple(gone),
        tags={t.name: plan.tag_revision(t.name, index) for t in sail.tags},
        cni=None
        if cni is None
        else CniExpectation(plan.cni_version(index), cni.name, cni.namespace or "istio-cni"),
        old=old.name,
        cleanup=expect.cleanup_safety,
        retargeted=retargeted,
    )
