"""The generator's commands as library functions: guard, plan the edits, then write and commit once.

Each command (init, next, rollback) follows the same path: preconditions on the git tree, build
the repo index, plan every file change (stages queue edits on an :class:`~generator.edits.Editor`,
which verifies them), then either return the diff (`dry_run`) or write atomically and commit.
`status` only reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from core.errors import InputError, PlanError, PreconditionError, UsageError
from core.plan import PLAN_PATH, Plan, dump_plan, read_plan_file
from core.versions import require_release
from generator.apply import Renamer, restore, write_edits
from generator.discovery import refuse_shared_bases
from generator.edits import Editor, FileEdit, render_diff
from generator.flavours import detect, flavour_of
from generator.gitrepo import GitRepo
from generator.headline import SUBJECT_MAX, fit
from generator.index import RepoIndex, build_index, no_gc
from generator.latecomers import take_in
from generator.parsecache import ParseCache
from generator.planning import InitOptions
from generator.stages import StageContext
from generator.stages.namespaces import move_subjects

__all__ = ["Outcome", "init", "next_stage", "read_plan", "rollback", "status"]


@dataclass
class Outcome:
    """What a writing command did (or, with dry_run, would do)."""

    message: str
    edits: list[FileEdit]
    commit: str | None = None
    branch: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0]

    @property
    def diff(self) -> str:
        return render_diff(self.edits)


# ----- shared steps ------------------------------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")


def _gc_paused(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a whole command with the cyclic GC paused: it holds the repo index (every parsed
    document) alive throughout, and each collection would re-walk it while edits allocate."""

    @functools.wraps(fn)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        with no_gc():
            return fn(*args, **kwargs)

    return inner


def read_plan(root: Path) -> Plan:
    """The plan file of the repo at `root`, or a PlanError saying to run init."""
    if not root.is_dir():
        raise UsageError(f"--repo {root}: not a directory")
    path = root / PLAN_PATH
    if not path.is_file():
        raise PlanError(f"{PLAN_PATH}: no plan in {root}; run `istio-canary init` first")
    with no_gc():
        return read_plan_file(path)


def _commit(
    git: GitRepo,
    root: Path,
    edits: list[FileEdit],
    message: str,
    branch: str | None,
    dry_run: bool,
    rename: Renamer | None,
) -> Outcome:
    start_branch, start_head = git.branch(), git.head()
    out = Outcome(message, edits, branch=branch or start_branch)
    if dry_run:
        return out
    paths = [e.path for e in edits]
    created = written = False
    # BaseException: a Ctrl-C (KeyboardInterrupt) between the first write and the commit must
    # leave the tree, the index and the checked-out branch as they were, like any failure.
    try:
        if branch is not None:
            git.switch_new(branch)
            created = True
        if rename is None:
            write_edits(root, edits)
        else:
            write_edits(root, edits, rename)
        written = True
        out.commit = git.commit(paths, message)
    except BaseException:
        if written:
            git.unstage(paths)
            restore(root, edits)
        if created and branch is not None:
            git.abandon_branch(branch, start_branch, start_head)
        raise
    return out


def _check_matches(index: RepoIndex, plan: Plan) -> None:
    """Refuse a plan that no longer describes the repo (edited by hand, another branch...).

    A file the plan records that cannot be parsed is named first; then each stage kind reports
    where the repo contradicts its own stages, and the first few problems are named.
    """
    flavour = flavour_of(plan)
    for path in flavour.recorded_files(plan):
        if path in index.broken:
            raise InputError(index.broken[path])
    # Round robin over the kinds, so a wave's many namespaces cannot crowd out the one
    # problem another kind has (an old CR that is gone explains everything else).
    per_kind = [kind.problems(index, plan) for kind in flavour.kinds]
    problems = [p for row in zip_longest(*per_kind) for p in row if p is not None]
    if problems:
        raise PlanError(f"{PLAN_PATH} does not match the repo: " + "; ".join(problems[:4]))


def _index(root: Path) -> RepoIndex:
    return build_index(root, ParseCache.in_git_dir(root))


# ----- commands ----------------------------------------------------------------------------------


@_gc_paused
def init(
    root: Path,
    opts: InitOptions,
    *,
    dry_run: bool = False,
    branch: str | None = None,
    rename: Renamer | None = None,
) -> Outcome:
    """Discover the mesh, write `.istio-canary/plan.yaml` and commit it (`Istio-Canary-Stage: 0/n`)."""
    git = GitRepo(root)
    git.require_clean(branch)
    try:
        require_release(opts.to_version, "--to-version")
    except UsageError as err:
        # The repo's flavour may know why this target in particular is wrong (a Sail alias).
        if reason := _target_refusal(root, opts.to_version):
            raise UsageError(reason) from err
        raise
    existing = root / PLAN_PATH
    if existing.exists():
        current = read_plan(root)
        if not current.complete:
            raise PreconditionError(
                f"{PLAN_PATH}: an upgrade to {current.target.version} is in progress "
                f"({current.applied_index}/{current.total} applied); finish it first"
            )
    index = _index(root)
    flavour = detect(index)
    found = flavour.discover(index, opts)
    plan = flavour.plan(found, opts)
    refuse_shared_bases(index, found.files)
    editor = Editor(index)
    editor.write(PLAN_PATH, dump_plan(plan))
    src, tgt = plan.source, plan.target
    subject = fit(
        [
            f"istio-canary: plan the Istio {src.version} -> {tgt.version} canary upgrade "
            f"({plan.total} stages)",
            f"istio-canary: plan the Istio {src.version} -> {tgt.version} upgrade",
            f"istio-canary: plan Istio {src.version} -> {tgt.version}",
        ],
        SUBJECT_MAX,
    )
    message = flavour.plan_message(plan, subject)
    out = _commit(git, root, editor.finish(), message, branch, dry_run, rename)
    out.notes = list(index.notes)
    out.warnings = [f"{msg}; discovery could not see inside it" for msg in index.broken.values()]
    out.warnings += found.warnings
    if unknown := flavour.release_warning(opts.to_version):
        out.warnings.append(unknown)
    return out


def _target_refusal(root: Path, version: str) -> str:
    """The detected flavour's reason to refuse `version`, or "" (no flavour, or none to add)."""
    try:
        index = _index(root)
        return detect(index).target_refusal(index, version)
    except InputError:
        return ""


@_gc_paused
def next_stage(
    root: Path,
    *,
    dry_run: bool = False,
    branch: str | None = None,
    rename: Renamer | None = None,
) -> Outcome:
    """Apply the plan's next stage as one commit (`Istio-Canary-Stage: i/n name`)."""
    git = GitRepo(root)
    git.require_clean(branch)
    plan = read_plan(root)
    if plan.next_stage is None:
        raise PreconditionError(f"all {plan.total} stages of the plan are applied; nothing to do")
    index = _index(root)
    _check_matches(index, plan)
    # A namespace meshed after init joins the next wave (or a new one before cleanup).
    plan, taken = take_in(index, plan)
    stage = plan.next_stage
    assert stage is not None
    editor = Editor(index)
    ctx = StageContext(index, plan, stage, editor)
    flavour = flavour_of(plan)
    kind = next(k for k in flavour.kinds if k.name == stage.kind)
    extra: dict[str, Any] = kind.edit(ctx)
    editor.write(PLAN_PATH, dump_plan(plan.mark_applied(stage.index)))
    message = flavour.commit_message(
        plan, stage, fit(kind.subjects(plan, stage), SUBJECT_MAX), extra
    )
    out = _commit(git, root, editor.finish(), message, branch, dry_run, rename)
    out.notes = list(index.notes)
    out.warnings = [*out.warnings, *taken]
    return out


@_gc_paused
def rollback(
    root: Path,
    namespaces: Sequence[str],
    *,
    dry_run: bool = False,
    branch: str | None = None,
    rename: Renamer | None = None,
) -> Outcome:
    """Move migrated namespaces back to the old control plane (one commit), while it exists."""
    if not namespaces:
        raise UsageError("name at least one --namespace to roll back")
    git = GitRepo(root)
    git.require_clean(branch)
    plan = read_plan(root)
    if any(s.kind == "cleanup" and s.applied for s in plan.stages):
        raise PreconditionError(
            f"cleanup is applied: the old control plane {plan.source.name} is gone; cannot roll back"
        )
    moved = set(plan.migrated_namespaces())
    for ns in namespaces:
        if ns not in {n.name for n in plan.namespaces}:
            raise UsageError(f"--namespace {ns} is not part of the plan")
        if ns not in moved:
            raise UsageError(f"--namespace {ns} is not on {plan.target.name}; nothing to roll back")
    names = list(dict.fromkeys(namespaces))
    index = _index(root)
    _check_matches(index, plan)
    editor = Editor(index)
    stage = plan.next_stage or plan.stages[-1]
    flavour = flavour_of(plan)
    flavour.rollback(StageContext(index, plan, stage, editor), names)
    editor.write(PLAN_PATH, dump_plan(plan.with_rolled_back(names)))
    message = flavour.rollback_message(
        plan,
        names,
        fit(move_subjects("istio-canary", "roll back", names, plan.source.name), SUBJECT_MAX),
    )
    out = _commit(git, root, editor.finish(), message, branch, dry_run, rename)
    out.notes = list(index.notes)
    return out


def status(root: Path) -> dict[str, Any]:
    """Stages, which are applied, and what is next (plain data for text or JSON output)."""
    plan = read_plan(root)
    nxt = plan.next_stage
    return {
        "flavour": plan.flavour,
        "from": {
            "name": plan.source.name,
            "version": plan.source.version,
            "revision": plan.source.revision,
        },
        "to": {
            "name": plan.target.name,
            "version": plan.target.version,
            "revision": plan.target.revision,
        },
        "applied": plan.applied_index,
        "total": plan.total,
        "complete": plan.complete,
        "next": None if nxt is None else {"index": nxt.index, "name": nxt.name, "kind": nxt.kind},
        "rolledBack": list(plan.rolled_back),
        "stages": [
            {
                "index": s.index,
                "name": s.name,
                "kind": s.kind,
                "applied": s.applied,
                "namespaces": list(s.namespaces),
                "gateways": list(s.gateways),
                "checks": len(s.checks),
            }
            for s in plan.stages
        ],
    }
