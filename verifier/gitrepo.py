"""The checkout the gate runs in: its plan file and which commit carries each stage (real git).

Stage commits are found by their `Istio-Canary-Stage: <i>/<n> <name>` trailer in HEAD's history
(the newest one per index wins, e.g. after a stage was re-applied); "contains" is
`git merge-base --is-ancestor`, answering None when a revision is unknown to the checkout.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

from generator.errors import PlanError, UsageError
from generator.plan import PLAN_PATH, Plan, read_plan_file

__all__ = ["Checkout"]

STAGE_TRAILER = "Istio-Canary-Stage"
ROLLBACK_TRAILER = "Istio-Canary-Rollback"


class Checkout:
    """A git working tree holding a GitOps repo with an istio-canary plan."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if not root.is_dir():
            raise UsageError(f"--repo {root}: not a directory")
        top = self._git("rev-parse", "--show-toplevel", check=False)
        if top is None:
            raise UsageError(f"--repo {root}: not a git checkout")

    def plan(self) -> Plan:
        path = self.root / PLAN_PATH
        return read_plan_file(path, str(path))

    def stage_commits(self) -> dict[int, str]:
        """Stage index -> the newest commit in HEAD's history whose trailer names it."""
        fmt = f"%H%x1f%(trailers:key={STAGE_TRAILER},valueonly,separator=%x1d)%x1e"
        out = self._git("log", "--topo-order", f"--format={fmt}", "HEAD") or ""
        found: dict[int, str] = {}
        for record in out.split("\x1e"):
            sha, _, trailers = record.strip().partition("\x1f")
            for value in trailers.split("\x1d"):
                head = value.strip().split(" ", 1)[0]
                index = head.split("/", 1)[0]
                if sha and index.isdigit():
                    found.setdefault(int(index), sha)
        return found

    def rollback_commits(self) -> list[tuple[str, tuple[str, ...]]]:
        """(commit, namespaces) of every rollback commit in HEAD's history, newest first."""
        fmt = f"%H%x1f%(trailers:key={ROLLBACK_TRAILER},valueonly,separator=%x2C)%x1e"
        out = self._git("log", "--topo-order", f"--format={fmt}", "HEAD") or ""
        found: list[tuple[str, tuple[str, ...]]] = []
        for record in out.split("\x1e"):
            sha, _, value = record.strip().partition("\x1f")
            names = tuple(n.strip() for n in value.replace("\n", ",").split(",") if n.strip())
            if sha and names:
                found.append((sha, names))
        return found

    def stage_commit(self, index: int) -> str:
        sha = self.stage_commits().get(index)
        if sha is None:
            raise PlanError(
                f"{self.root}: no commit with trailer `{STAGE_TRAILER}: {index}/...` in HEAD's "
                "history (a shallow clone? fetch the full history, e.g. fetch-depth: 0)"
            )
        return sha

    def contains(self, revision: str, commit: str) -> bool | None:
        """Whether `revision` contains `commit`; None when the checkout does not know `revision`."""
        return _contains(self.root, revision, commit)

    def _git(self, *args: str, check: bool = True) -> str | None:
        try:
            proc = subprocess.run(
                ["git", "-C", str(self.root), *args],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise UsageError(f"cannot run git in {self.root}: {e}") from e
        if proc.returncode != 0:
            if check:
                raise UsageError(
                    f"git {' '.join(args[:2])} failed in {self.root}: {proc.stderr.strip()}"
                )
            return None
        return proc.stdout


@lru_cache(maxsize=1024)
def _contains(root: Path, revision: str, commit: str) -> bool | None:
    known = subprocess.run(
        ["git", "-C", str(root), "cat-file", "-e", f"{revision}^{{commit}}"],
        capture_output=True,
        timeout=60,
    )
    if known.returncode != 0:
        return None
    proc = subprocess.run(
        ["git", "-C", str(root), "merge-base", "--is-ancestor", commit, revision],
        capture_output=True,
        timeout=60,
    )
    if proc.returncode in (0, 1):
        return proc.returncode == 0
    return None
