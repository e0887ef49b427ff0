"""The generator's view of the GitOps checkout it edits: status, branches, commits (via core.git)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.errors import InputError, PreconditionError, UsageError
from core.git import git

__all__ = ["GitRepo"]


class GitRepo:
    """A GitOps repo checkout; `root` may be a subdirectory of the git work tree."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if not root.is_dir():
            raise UsageError(f"--repo {root}: not a directory")
        try:
            inside = self._git("rev-parse", "--is-inside-work-tree").strip()
        except PreconditionError as err:
            raise PreconditionError(f"--repo {root}: not a git work tree") from err
        if inside != "true":
            raise PreconditionError(f"--repo {root}: not a git work tree")

    def _git(self, *args: str, stdin: str | None = None) -> str:
        return git(*args, cwd=self.root, stdin=stdin)

    def branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        try:
            return self._git("symbolic-ref", "-q", "--short", "HEAD").strip() or None
        except PreconditionError:
            return None

    def head(self) -> str | None:
        """HEAD's commit, None in a repo without commits."""
        try:
            return self._git("rev-parse", "-q", "--verify", "HEAD^{commit}").strip() or None
        except PreconditionError:
            return None

    def dirty(self) -> list[str]:
        """Changed or untracked paths under the repo directory (`git status --porcelain`)."""
        out = self._git("status", "--porcelain", "--untracked-files=all", "--", ".")
        return [line[3:] for line in out.splitlines() if line.strip()]

    def require_clean(self, branch: str | None) -> None:
        """Refuse a dirty tree, and a detached HEAD unless a new branch is asked for."""
        changed = self.dirty()
        if changed:
            more = f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""
            raise PreconditionError(
                f"working tree has uncommitted changes ({', '.join(changed[:3])}{more}); "
                "commit or stash them first"
            )
        if branch is None and self.branch() is None:
            raise PreconditionError("HEAD is detached; check out a branch or pass --branch NAME")
        if branch is not None:
            if not branch.strip() or branch.startswith("-"):
                raise UsageError(f"--branch {branch!r} is not a branch name")
            try:
                self._git("check-ref-format", "--branch", branch)
            except PreconditionError as err:
                raise UsageError(f"--branch {branch!r} is not a valid branch name") from err
            if self._exists(f"refs/heads/{branch}"):
                raise UsageError(f"--branch {branch}: the branch already exists")

    def _exists(self, ref: str) -> bool:
        try:
            self._git("show-ref", "--verify", "-q", ref)
            return True
        except PreconditionError:
            return False

    def switch_new(self, branch: str) -> None:
        """Create `branch` at HEAD and check it out (the tree is clean, so nothing moves)."""
        self._git("switch", "-q", "-c", branch)

    def abandon_branch(self, branch: str, back_to: str | None, head: str | None) -> None:
        """Undo `switch_new` after a failed or interrupted stage (best effort: the stage's
        files are already restored, so the switch moves nothing)."""
        try:
            if back_to is not None:
                self._git("switch", "-q", back_to)
            elif head is not None:
                self._git("switch", "-q", "--detach", head)
            self._git("branch", "-q", "-D", branch)
        except PreconditionError:
            pass

    def commit(self, paths: Sequence[str], message: str) -> str:
        """Stage exactly `paths` (new, changed or deleted) and commit them; returns the sha."""
        if not paths:
            raise InputError("nothing to commit: the stage changes no file")
        self._git("add", "-A", "--", *paths)
        self._git("commit", "-q", "-F", "-", stdin=message)
        return self._git("rev-parse", "HEAD").strip()

    def unstage(self, paths: Sequence[str]) -> None:
        """Undo `git add` of `paths` after a failed commit (best effort)."""
        try:
            if self.head() is None:
                self._git("rm", "-q", "--cached", "-r", "--ignore-unmatch", "--", *paths)
            else:
                self._git("reset", "-q", "--", *paths)
        except PreconditionError:
            pass
