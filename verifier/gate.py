"""The verifier's one entry point: `stage N` and `gate`, from a checkout and a cluster to a verdict.

`stage N` checks stage N's postconditions. `gate` is the required check on a stage PR: for a
checkout whose newest applied stage is N it confirms the GitOps engine applied a commit that
contains stage N-1, then checks stage N-1's postconditions and stage N's preconditions. If the
engine has already applied stage N itself (the gate runs after the merge), it checks stage N's
postconditions instead, since N-1's no longer hold; the report says which stage it verified.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from core.errors import ClusterUnreachable, InputError
from core.plan import Plan
from verifier import rbac
from verifier.checks import (
    Phase,
    checks_for,
    connectivity,
    dataplane,
    gatewayroutes,
    gateways,
    gitops,
)
from verifier.cluster import Cluster
from verifier.errors import AccessDenied, NotFound
from verifier.expectation import Baseline, Expectation, expect_stage, replaced_objects
from verifier.gitrepo import Checkout
from verifier.probe import ProbeSettings, run_probes
from verifier.resources import APPLICATIONS, HELMRELEASES, KUSTOMIZATIONS
from verifier.result import CheckResult, Status
from verifier.review import Review, resolve_base, review
from verifier.runner import Evaluation, Polling, Verdict, poll
from verifier.snapshot import GitOpsRef, Snapshot, collect, with_routes
from verifier.webhookdrift import ca_bundles, churned

# Labels kustomize-controller puts on everything a Kustomization applied.
FLUX_NAME = "kustomize.toolkit.fluxcd.io/name"
FLUX_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace"

__all__ = ["Request", "Result", "load_baseline", "run"]

Command = Literal["stage", "gate"]


@dataclass(frozen=True)
class Request:
    command: Command
    repo: Path
    stage: int | None = None
    polling: Polling = field(default_factory=Polling)
    probes: ProbeSettings = field(default_factory=ProbeSettings)
    baseline: Baseline | None = None
    allow_no_probes: bool = False
    base: str | None = None  # the branch a gated PR merges into (see verifier.review)


@dataclass
class Result:
    """The verdict plus what the report needs to say about it."""

    request: Request
    plan: Plan
    verdict: Verdict
    checked: str = ""
    notes: list[str] = field(default_factory=list)


def run(
    request: Request,
    cluster: Cluster,
    on_evaluation: Callable[[str, Evaluation, int], None] = lambda label, ev, k: None,
) -> Result:
    checkout = Checkout(request.repo)
    pr: Review | None = None
    if request.command == "gate":
        # The gate's trust comes from the base branch and the live cluster, never from the PR:
        # the plan is the one the generator writes on top of the base, and the PR must be
        # exactly that stage.
        pr = review(request.repo, resolve_base(request.repo, request.base))
        plan = pr.plan
    else:
        plan = checkout.plan()
    session = _Session(request, plan, checkout, cluster, pr)
    cluster.end_by(time.monotonic() + request.polling.timeout)
    verdict = poll(
        session.evaluate,
        request.polling,
        lambda ev, k: on_evaluation(session.checked, ev, k),
    )
    return Result(request, plan, verdict, session.checked, session.notes)


def load_baseline(path: Path) -> dict[str, dict[str, str]]:
    """Gateway Service UIDs/addresses recorded in an earlier JSON report."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"--baseline {path}: not a readable JSON report ({e})") from e
    found: dict[str, dict[str, str]] = {}
    checks = raw.get("checks") if isinstance(raw, dict) else None
    for chk in checks if isinstance(checks, list) else ():
        if not isinstance(chk, dict) or chk.get("name") != gateways.NAME:
            continue
        evidence = chk.get("evidence")
        for ev in evidence if isinstance(evidence, list) else ():
            svc = ev.get("service") if isinstance(ev, dict) else None
            if not isinstance(svc, dict):
                continue
            if ev.get("gateway") and svc.get("uid"):
                found[ev["gateway"]] = {"uid": svc["uid"], "address": svc.get("address", "")}
    if not found:
        raise InputError(f"--baseline {path}: the report records no gateway Service")
    return found


class _Session:
    """State kept across evaluations of one run (the RBAC preflight runs once)."""

    def __init__(
        self,
        request: Request,
        plan: Plan,
        checkout: Checkout,
        cluster: Cluster,
        pr: Review | None = None,
    ) -> None:
        self.request, self.plan, self.checkout, self.cluster = request, plan, checkout, cluster
        self.pr = pr
        self.checked = ""
        self.notes: list[str] = []
        self._preflight_done = False
        self._bundles: dict[str, str] = {}
        self._bundle_changes: dict[str, int] = {}
        if pr is not None:
            self.notes.append(
                f"trusted base: {pr.base.commit[:12]} ({pr.base.how}); plan and expectations "
                "from the base, not from the PR"
            )
        if request.command == "stage":
            index = plan.applied_index if request.stage is None else request.stage
            self.fixed: Expectation | None = self._expect(plan, index)
            # `stage N` is tied to this cluster like a gate: its engine must have applied a
            # commit of this checkout that contains stage N.
            self.commits: dict[int, str] = checkout.stage_commits()
            if index not in self.commits:
                checkout.stage_commit(index)  # raises a PlanError naming the missing trailer
            self.rollbacks: list[tuple[str, tuple[str, ...]]] = []
        else:
            self.fixed = None
            self.newest = plan.applied_index
            # Stages up to the base come from the base's history; only the stage under review
            # is the PR's own commit.
            base = pr.base.commit if pr is not None else "HEAD"
            self.commits = checkout.stage_commits(base) if self.newest else {}
            if pr is not None and pr.command == "next" and self.newest:
                head = checkout.stage_commits()
                if self.newest in head:
                    self.commits[self.newest] = head[self.newest]
            self.rollbacks = checkout.rollback_commits() if plan.rolled_back else []
            for i in {max(self.newest - 1, 0), self.newest} if self.newest else ():
                if i not in self.commits:
                    checkout.stage_commit(i)  # raises a PlanError naming the missing trailer

    def evaluate(self) -> Evaluation:
        if not self._preflight_done:
            needed = rbac.required(self.plan.gitops_engine, probes=True, flavour=self.plan.flavour)
            self.notes.extend(rbac.preflight(self.cluster, needed))
            self._preflight_done = True
        if self.fixed is not None:
            self.checked = f"stage {self.fixed.label}"
            found = self._gitops()
            commit = self.commits[self.fixed.index]
            revisions = {gitops.applied_revision(r, o) for r, o in found.items() if o is not None}
            contains = {
                r: self.checkout.contains(r, commit) for r in revisions if gitops.is_commit(r)
            }
            label = "the plan commit" if self.fixed.index == 0 else f"stage {self.fixed.index}"
            expect = replace(self.fixed, sync=gitops.SyncTarget(commit, label, contains))
            found = self._scope_gitops(found, self.fixed.index)
            snap = replace(self._collect(expect), gitops=found)
            return Evaluation(self._checks(snap, expect))
        if self.newest == 0:
            expect = self._expect(self.plan, 0)
            self.checked = f"stage {expect.label} (preflight; nothing applied yet)"
            return Evaluation(self._checks(self._collect(expect), expect))
        found = self._gitops()
        prev, cur = self.commits[self.newest - 1], self.commits[self.newest]
        revisions = {gitops.applied_revision(r, o) for r, o in found.items() if o is not None}
        commits = {r for r in revisions if gitops.is_commit(r)}
        contains_cur = {r: self.checkout.contains(r, cur) for r in commits}
        applied_now = bool(commits) and all(contains_cur.values())
        index = self.newest if applied_now else self.newest - 1
        commit = cur if applied_now else prev
        contains = (
            contains_cur if applied_now else {r: self.checkout.contains(r, prev) for r in commits}
        )
        label = "the plan commit" if index == 0 else f"stage {index}"
        expect = replace(
            self._expect(self._as_applied(commits), index),
            sync=gitops.SyncTarget(commit, label, contains),
        )
        found = self._scope_gitops(found, index)
        if applied_now:
            self.checked = f"stage {expect.label} (already applied by the GitOps engine)"
        else:
            self.checked = f"stage {expect.label} + preconditions of stage {self.newest}"
        snap = replace(self._collect(expect), gitops=found)
        return Evaluation(self._checks(snap, expect))

    def _collect(self, expect: Expectation) -> Snapshot:
        """One snapshot; a Helm one also carries the webhooks' CA bundles of the previous
        evaluation, so a bundle that keeps changing can be named (`verifier/webhookdrift.py`)."""
        snap = collect(self.cluster, expect)
        if snap.helm is None:
            return snap
        now = ca_bundles(snap.helm.mutating, snap.helm.validating)
        earlier, self._bundles = self._bundles, now
        for key in churned(earlier, now):
            self._bundle_changes[key] = self._bundle_changes.get(key, 0) + 1
        view = replace(
            snap.helm, earlier_bundles=earlier, bundle_changes=dict(self._bundle_changes)
        )
        return replace(snap, helm=view)

    def _as_applied(self, applied: set[str]) -> Plan:
        """The plan without rollbacks the engine has not applied yet (a rollback PR's gate checks
        the cluster as main left it; once merged and synced, the rollback is expected)."""
        pending = {
            ns
            for sha, names in self.rollbacks
            if not applied or not all(self.checkout.contains(r, sha) for r in applied)
            for ns in names
        }
        if not pending:
            return self.plan
        return replace(
            self.plan, rolled_back=tuple(n for n in self.plan.rolled_back if n not in pending)
        )

    def _expect(self, plan: Plan, index: int) -> Expectation:
        """Stage `index` as this run checks it: a gate adds the next stage's preconditions."""
        expect = expect_stage(plan, index, with_next_preconditions=self.request.command == "gate")
        return replace(
            expect,
            baseline=self.request.baseline,
            allow_no_probes=self.request.allow_no_probes,
            review=self.pr,
        )

    def _checks(self, snap: Snapshot, expect: Expectation) -> list[CheckResult]:
        """The registered checks for this stage; probes run only once the data plane passed."""
        results = [c.evaluate(snap, expect) for c in checks_for(expect, Phase.SNAPSHOT)]
        probing = checks_for(expect, Phase.PROBES)
        if not probing:
            return results
        if any(r.name == dataplane.NAME and r.status is Status.PASSED for r in results):
            planned = connectivity.plan_probes(snap, expect, self.request.probes.max_time)
            snap = replace(snap, probes=run_probes(self.cluster, planned, self.request.probes))
            if expect.gateway_routes:
                snap = self._route_probes(snap, expect)
        elif not expect.probes:
            return results  # nothing to probe, and nothing to say about it yet
        return results + [c.evaluate(snap, expect) for c in probing]

    def _route_probes(self, snap: Snapshot, expect: Expectation) -> Snapshot:
        """Probe through the planned gateways; with no route to probe, say so once."""
        try:
            snap = with_routes(self.cluster, snap)
        except AccessDenied:
            raise  # waiting will not grant a permission
        except ClusterUnreachable as err:  # never an empty list: the check stays unverifiable
            return replace(snap, route_error=str(err))
        max_time = self.request.probes.max_time
        planned = gatewayroutes.plan_route_probes(snap, expect, max_time)
        if not planned:
            note = gatewayroutes.no_routes_note(expect)
            if note not in self.notes:
                self.notes.append(note)
        return replace(snap, route_probes=run_probes(self.cluster, planned, self.request.probes))

    def _refs(self) -> list[GitOpsRef]:
        plan = self.plan
        refs = [
            GitOpsRef(o.kind, o.namespace, o.name)
            for o in plan.gitops_objects
            if o.kind in ("Application", "Kustomization", "HelmRelease")
        ]
        old_name, new_name = replaced_objects(plan)
        old_op = next((r for r in refs if r.name == old_name), None)
        if old_op and new_name != old_op.name:
            refs.append(GitOpsRef(old_op.kind, old_op.namespace, new_name))
        return refs

    def _gitops(self) -> dict[GitOpsRef, Any]:
        refs = self._refs()
        if refs:
            return {r: self.cluster.get_or_none(r.resource, r.namespace, r.name) for r in refs}
        found: dict[GitOpsRef, Any] = {}
        for kind, resource in (("Application", APPLICATIONS), ("Kustomization", KUSTOMIZATIONS)):
            try:
                items = self.cluster.list(resource)
            except NotFound:  # the engine's CRD is not installed
                continue
            for obj in items:
                meta = obj.get("metadata") or {}
                ref = GitOpsRef(kind, str(meta.get("namespace", "")), str(meta.get("name", "")))
                rev = gitops.applied_revision(ref, obj)
                if gitops.is_commit(rev) and self.checkout.contains(rev, rev) is not None:
                    found[ref] = obj
        found.update(self._helm_releases_of(found))
        return found

    def _helm_releases_of(self, found: dict[GitOpsRef, Any]) -> dict[GitOpsRef, Any]:
        """Auto-detect: the HelmReleases a detected Kustomization applied (its labels say so)."""
        parents = {(r.namespace, r.name) for r in found if r.kind == "Kustomization"}
        if not parents:
            return {}
        try:
            items = self.cluster.list(HELMRELEASES)
        except NotFound:  # helm-controller not installed
            return {}
        out: dict[GitOpsRef, Any] = {}
        for obj in items:
            meta = obj.get("metadata") or {}
            labels = meta.get("labels") or {}
            parent = (labels.get(FLUX_NAMESPACE, ""), labels.get(FLUX_NAME, ""))
            if parent in parents:
                ref = GitOpsRef("HelmRelease", str(meta.get("namespace", "")), str(meta["name"]))
                out[ref] = obj
        return out

    def _scope_gitops(self, found: dict[GitOpsRef, Any], index: int) -> dict[GitOpsRef, Any]:
        """The new operator's Application exists from the control-plane stage on, the old one's
        only until cleanup (its Application is pruned then)."""
        plan = self.plan
        cp_at = next((s.index for s in plan.stages if s.kind == "control-plane"), plan.total + 1)
        gone_at = next((s.index for s in plan.stages if s.kind == "cleanup"), plan.total + 1)
        old_name, new_name = replaced_objects(plan)
        scoped = dict(found)
        for ref, obj in found.items():
            new_op = ref.name == new_name and index < cp_at
            old_op = ref.name == old_name and index >= gone_at
            if obj is None and (new_op or old_op):
                del scoped[ref]
        return scoped
