"""What the gate trusts, and whether the pull request under review is exactly the stage.

The gate's trust comes from the base branch and the live cluster, never from the pull request it
judges. This module is the base-branch half:

* **The base.** `--base REF` names the branch the PR merges into; the trusted commit is the
  merge-base of REF and HEAD (what the PR was built on; every commit of it is on the base
  branch). Without `--base`, the first of `origin/HEAD`, `origin/main`, `origin/master` that the
  checkout knows is used. Without any of them, the stage N-1 commit named by the trailers in
  HEAD's history is the base: weaker (the trailers are the PR's history), but still anchored,
  because the gate then requires the cluster to have applied a commit containing it.
* **The plan.** Expectations (stages, namespaces, connectivity checks) come from the plan as the
  generator writes it on top of the base, never from the PR's own plan file.
* **The change.** The generator runs as an external tool (`istio-canary next`, or `rollback` for
  a rollback PR) in a scratch worktree of the base on a throwaway branch; the PR's changed files
  are then compared with that commit object by object (kind/namespace/name, parsed with the
  strict YAML loader, so formatting is no difference). Any extra, missing or different object,
  plan edits beyond the stage pointer included, is named.

Every git call goes through :mod:`core.git`; the generator is found beside this interpreter (the
same installation), else on PATH, else run as `python -m generator`. The verifier never imports
it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import GitError, PlanError, UsageError
from core.git import git, git_status
from core.plan import PLAN_PATH, Plan, load_plan
from core.trailers import ROLLBACK_TRAILER, STAGE_TRAILER, parse_rollback, parse_stage
from core.yamlload import Loader

__all__ = ["Base", "Review", "resolve_base", "review"]

DEFAULT_BASES = ("origin/HEAD", "origin/main", "origin/master")
GENERATOR_TIMEOUT = 120.0
_MAX_NAMED = 12

ObjKey = tuple[str, str, str]  # (kind, namespace, name)


@dataclass(frozen=True)
class Base:
    """The trusted commit and how it was chosen (for the report)."""

    commit: str
    how: str


@dataclass(frozen=True)
class Review:
    """The PR judged against the base: the trusted plan, and what differs from the stage."""

    base: Base
    plan: Plan  # the plan as the generator writes it on top of the base (trusted)
    command: str  # "next", "rollback --namespace demo-a", or "" when the PR changes nothing
    expected: str = ""  # the commit the generator made in the scratch worktree
    problems: tuple[str, ...] = ()
    evidence: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)


def _git(root: Path, *args: str) -> str:
    return git(*args, cwd=root, timeout=60)


def _commit_of(root: Path, ref: str) -> str | None:
    code, out, _ = git_status("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=root)
    return out.strip() if code == 0 and out.strip() else None


def _stage_commits(root: Path, rev: str) -> dict[int, str]:
    fmt = f"%H%x1f%(trailers:key={STAGE_TRAILER},valueonly,separator=%x1d)%x1e"
    out = _git(root, "log", "--topo-order", f"--format={fmt}", rev)
    found: dict[int, str] = {}
    for record in out.split("\x1e"):
        sha, _, trailers = record.strip().partition("\x1f")
        for value in trailers.split("\x1d"):
            mark = parse_stage(value)
            if sha and mark is not None:
                found.setdefault(mark.index, sha)
    return found


def resolve_base(root: Path, ref: str | None) -> Base:
    """The trusted base commit (see the module docstring for the order of choices)."""
    head = _commit_of(root, "HEAD")
    if head is None:
        raise UsageError(f"--repo {root}: HEAD is not a commit")
    candidates = (ref,) if ref else DEFAULT_BASES
    for name in candidates:
        tip = _commit_of(root, name)
        if tip is None:
            continue
        code, out, _ = git_status("merge-base", tip, head, cwd=root)
        if code != 0 or not out.strip():
            raise UsageError(
                f"--base {name}: shares no history with HEAD (a shallow clone? fetch the full "
                "history, e.g. fetch-depth: 0)"
            )
        return Base(out.strip(), f"merge-base of {name} and HEAD")
    if ref:
        raise UsageError(f"--base {ref}: not a commit in {root} (fetch it first)")
    stages = _stage_commits(root, head)
    if not stages:
        raise PlanError(
            f"{root}: no commit with a `{STAGE_TRAILER}` trailer in HEAD's history, and no "
            "base branch (pass --base REF, or fetch the full history)"
        )
    newest = max(stages)
    pr_stage = stages[newest]
    index = newest - 1 if newest and pr_stage == head else newest
    chosen = stages.get(index, pr_stage)
    return Base(chosen, f"the stage {index} commit (no --base and no origin/HEAD, origin/main)")


def _file_at(root: Path, commit: str, path: str) -> str | None:
    code, _, _ = git_status("cat-file", "-e", f"{commit}:{path}", cwd=root)
    if code != 0:
        return None
    return _git(root, "show", f"{commit}:{path}")


def plan_at(root: Path, commit: str) -> Plan:
    text = _file_at(root, commit, PLAN_PATH)
    if text is None:
        raise PlanError(f"{commit[:12]}:{PLAN_PATH}: no plan on the base; run `istio-canary init`")
    return load_plan(text, f"{commit[:12]}:{PLAN_PATH}")


def _pr_commits(root: Path, base: str) -> tuple[list[int], list[tuple[str, ...]]]:
    """Stage indices and rollback namespace lists of the commits the PR adds to the base."""
    fmt = (
        f"%H%x1f%(trailers:key={STAGE_TRAILER},valueonly,separator=%x1d)%x1f"
        f"%(trailers:key={ROLLBACK_TRAILER},valueonly,separator=%x2C)%x1e"
    )
    out = _git(root, "log", f"--format={fmt}", f"{base}..HEAD")
    stages: list[int] = []
    rollbacks: list[tuple[str, ...]] = []
    for record in out.split("\x1e"):
        parts = record.strip("\n").split("\x1f")  # not strip(): \x1f counts as whitespace
        if len(parts) < 3 or not parts[0]:
            continue
        for value in parts[1].split("\x1d"):
            mark = parse_stage(value)
            if mark is not None:
                stages.append(mark.index)
        names = parse_rollback(parts[2])
        if names:
            rollbacks.append(names)
    return stages, rollbacks


def _generator() -> list[str]:
    """The generator of this installation, run as an external tool."""
    beside = Path(sys.executable).parent / "istio-canary"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("istio-canary")
    return [found] if found else [sys.executable, "-m", "generator"]


@contextmanager
def _scratch(root: Path, commit: str) -> Iterator[tuple[Path, str]]:
    """A worktree of `commit` on a throwaway branch; removed with the branch afterwards."""
    branch = f"istio-canary-gate/{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="istio-canary-gate-") as tmp:
        where = Path(tmp) / "base"
        _git(root, "worktree", "add", "--quiet", "-b", branch, str(where), commit)
        try:
            yield where, branch
        finally:
            git_status("worktree", "remove", "--force", str(where), cwd=root)
            git_status("worktree", "prune", cwd=root)
            git_status("branch", "-D", branch, cwd=root)


def _run_generator(where: Path, args: list[str]) -> tuple[int, str]:
    env = dict(os.environ)
    for key, value in (
        ("GIT_AUTHOR_NAME", "istio-canary gate"),
        ("GIT_AUTHOR_EMAIL", "istio-canary-gate@invalid"),
        ("GIT_COMMITTER_NAME", "istio-canary gate"),
        ("GIT_COMMITTER_EMAIL", "istio-canary-gate@invalid"),
    ):
        env.setdefault(key, value)
    # The scratch commit is never pushed: no signing prompt, and none of the checkout's hooks.
    count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    for i, (key, value) in enumerate(
        (("commit.gpgsign", "false"), ("core.hooksPath", os.devnull)), start=count
    ):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    env["GIT_CONFIG_COUNT"] = str(count + 2)
    try:
        done = subprocess.run(
            [*_generator(), *args, "--repo", str(where)],
            capture_output=True,
            text=True,
            env=env,
            timeout=GENERATOR_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return 2, f"could not run the generator: {e}"
    lines = (done.stderr or done.stdout).strip().splitlines()
    return done.returncode, lines[-1] if lines else f"exit {done.returncode}"


def _objects(text: str | None, path: str) -> dict[ObjKey, Any] | None:
    """The file's YAML documents by (kind, namespace, name); None when it is not YAML."""
    if text is None:
        return {}
    if not path.endswith((".yaml", ".yml")):
        return None
    try:
        docs = [d for d in yaml.load_all(text, Loader=Loader) if d is not None]
    except yaml.YAMLError:
        return None
    found: dict[ObjKey, Any] = {}
    for i, doc in enumerate(docs):
        if isinstance(doc, dict):
            raw_meta = doc.get("metadata")
            meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
            key = (
                str(doc.get("kind", "")),
                str(meta.get("namespace", "")),
                str(meta.get("name", "") or (f"#{i}" if doc.get("kind") != "UpgradePlan" else "")),
            )
        else:
            key = ("", "", f"#{i}")
        found[key] = doc
    return found


def _label(key: ObjKey) -> str:
    kind, ns, name = key
    where = f"{ns}/{name}" if ns else name
    return f"{kind or 'document'} {where}".strip()


def _fields(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Top-level-ish field paths where two parsed objects differ (for the message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                path = f"{prefix}.{k}" if prefix else str(k)
                deeper = _fields(a.get(k), b.get(k), path) if prefix.count(".") < 2 else []
                out.extend(deeper or [path])
        return out
    return [] if a == b else [prefix or "(value)"]


def compare(
    root: Path, base: str, head: str, expected: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """Problems where the PR (base..head) differs from the recomputed stage (base..expected)."""
    changed = set(_git(root, "diff", "--name-only", "--no-renames", base, head).split("\n"))
    wanted = set(_git(root, "diff", "--name-only", "--no-renames", base, expected).split("\n"))
    problems: list[str] = []
    evidence: list[dict[str, Any]] = []
    for path in sorted(p for p in changed | wanted if p):
        ours, theirs = _file_at(root, expected, path), _file_at(root, head, path)
        if ours == theirs:
            continue
        a, b = _objects(ours, path), _objects(theirs, path)
        if a is None or b is None:
            problems.append(f"{path}: changed differently from what the stage writes")
            evidence.append({"file": path, "difference": "content"})
            continue
        for key in sorted(set(a) | set(b)):
            if key not in a:
                what = (
                    f"adds {_label(key)}"
                    if key not in (_objects(_file_at(root, base, path), path) or {})
                    else f"keeps {_label(key)}, which the stage deletes"
                )
            elif key not in b:
                before = _objects(_file_at(root, base, path), path) or {}
                what = (
                    f"deletes {_label(key)}"
                    if key in before
                    else f"omits {_label(key)}, which the stage adds"
                )
            elif a[key] != b[key]:
                fields = _fields(a[key], b[key])
                what = f"changes {_label(key)} beyond the stage ({', '.join(fields[:6])})"
            else:
                continue
            problems.append(f"{path}: {what}")
            evidence.append({"file": path, "object": _label(key), "difference": what})
    return problems, evidence


def review(root: Path, base: Base) -> Review:
    """Recompute what the PR should be from the base, and compare."""
    trusted = plan_at(root, base.commit)
    head = _commit_of(root, "HEAD") or ""
    stages, rollbacks = _pr_commits(root, base.commit)
    if head == base.commit or not _git(root, "rev-list", f"{base.commit}..HEAD").strip():
        return Review(base, trusted, "")
    if len(stages) + len(rollbacks) != 1:
        what = (
            "no stage or rollback commit"
            if not stages and not rollbacks
            else f"{len(stages)} stage and {len(rollbacks)} rollback commits"
        )
        return Review(
            base,
            trusted,
            "?",
            problems=(
                f"the PR adds commits to the base with {what}: a stage PR carries exactly one "
                "commit made by `istio-canary next` (or `rollback`)",
            ),
        )
    if stages:
        nxt = trusted.applied_index + 1
        if stages[0] != nxt:
            return Review(
                base,
                trusted,
                "next",
                problems=(
                    f"the PR's commit says stage {stages[0]}, but the next stage on the base is "
                    f"{nxt}",
                ),
            )
        args = ["next"]
    else:
        args = ["rollback", *(f"--namespace={ns}" for ns in rollbacks[0])]
    command = " ".join(args)
    try:
        with _scratch(root, base.commit) as (where, _branch):
            code, said = _run_generator(where, args)
            if code != 0:
                return Review(
                    base,
                    trusted,
                    command,
                    problems=(
                        f"`istio-canary {command}` on the base ({base.commit[:12]}) refused: {said}",
                    ),
                )
            expected = _git(where, "rev-parse", "HEAD").strip()
            problems, evidence = compare(root, base.commit, head, expected)
            plan = plan_at(root, expected)
    except GitError as e:
        return Review(
            base, trusted, command, problems=(f"could not recompute the stage from the base: {e}",)
        )
    shown = problems[:_MAX_NAMED]
    if len(problems) > _MAX_NAMED:
        shown.append(f"(+{len(problems) - _MAX_NAMED} more)")
    return Review(base, plan, command, expected, tuple(shown), tuple(evidence))
