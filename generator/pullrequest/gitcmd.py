"""git for the pull-request flow: core.git's runner with the push credentials and clean errors.

Every git call of this package goes through :func:`run_git`, so a failure always becomes the
error type the caller names, with the token and any user:password part of a URL redacted.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import CanaryError, PreconditionError
from core.git import git_status
from generator.forge import redact, redact_url

if TYPE_CHECKING:
    from generator.pullrequest.auth import RemoteAuth

__all__ = ["clean", "run_git"]


def run_git(
    repo: Path,
    *args: str,
    auth: RemoteAuth | None = None,
    check: bool = True,
    error: type[CanaryError] = PreconditionError,
) -> str:
    """stdout of `git args...` in `repo`; with `check`, a non-zero exit raises `error`."""
    env = auth.environ() if auth else None
    code, out, err = git_status(*args, cwd=repo, env=env)
    if check and code != 0:
        cmd = redact_url(" ".join(args[:3]))
        raise error(f"git {cmd} failed: {clean(err, auth.secrets if auth else ())}")
    return out


def clean(text: str, secrets: tuple[str, ...]) -> str:
    """git's complaint on one line, at most 500 characters, with no secret in it."""
    return redact(redact_url(" ".join(text.split())), secrets)[:500]
