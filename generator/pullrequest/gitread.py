"""Reading a stage back from git: which stage a commit is, and what it changed.

The PR says only what git says (the stage commit and its base), never the generator's in-memory
edits, so a re-run on the same commit renders the same text byte for byte.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import InputError, PreconditionError
from core.plan import PLAN_PATH, Plan, Stage, load_plan
from core.trailers import STAGE_TRAILER, parse_stage
from generator.objectdiff import ChangedFile
from generator.pullrequest.gitcmd import run_git

__all__ = ["changed_files", "stage_of_commit"]


def changed_files(repo: Path, base: str, head: str) -> tuple[ChangedFile, ...]:
    """Files that differ between two commits, with both sides' text."""
    out = run_git(repo, "diff", "--name-status", "--no-renames", "-z", base, head)
    parts = [p for p in out.split("\0") if p]
    files: list[ChangedFile] = []
    for status, path in zip(parts[::2], parts[1::2], strict=True):
        before = None if status == "A" else run_git(repo, "show", f"{base}:{path}")
        after = None if status == "D" else run_git(repo, "show", f"{head}:{path}")
        files.append(ChangedFile(path, before, after))
    return tuple(sorted(files, key=lambda f: f.path))


def stage_of_commit(repo: Path, commit: str) -> tuple[Plan, Stage]:
    """The plan at `commit` and the stage its `Istio-Canary-Stage` trailer names."""
    trailer = run_git(
        repo, "log", "-1", f"--format=%(trailers:key={STAGE_TRAILER},valueonly)", commit
    ).strip()
    mark = parse_stage(trailer)
    if mark is None or mark.index == 0 or not mark.name:
        raise PreconditionError(
            f"commit {commit[:12]} is not a stage commit (no `{STAGE_TRAILER}: i/n name` trailer); "
            "run `istio-canary next` first"
        )
    plan = load_plan(run_git(repo, "show", f"{commit}:{PLAN_PATH}"), f"{commit[:12]}:{PLAN_PATH}")
    stage = plan.stage(mark.index)
    if stage.name != mark.name:
        raise InputError(
            f"commit {commit[:12]}: trailer names stage {mark.name!r} but the plan's stage "
            f"{stage.index} is {stage.name!r}"
        )
    return plan, stage
