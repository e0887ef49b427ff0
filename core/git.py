"""The one git boundary: every `git` the tools run goes through :func:`git`, which raises GitError.

Callers pass arguments, not a shell line; output is text. A git that is missing, hangs past its
timeout, or exits non-zero is a :class:`~core.errors.GitError` naming the subcommand, the
directory and git's last line of complaint, so every package reports git trouble the same way.
Commands whose non-zero exit is an answer (`merge-base --is-ancestor`, `show-ref --verify`) use
:func:`git_status` instead.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import GitError

__all__ = ["GitError", "git", "git_bytes", "git_status"]

TIMEOUT = 120.0


def _run(
    args: tuple[str, ...],
    cwd: Path | str,
    stdin: str | bytes | None,
    env: Mapping[str, str] | None,
    timeout: float,
    text: bool,
) -> subprocess.CompletedProcess[Any]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=text,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise GitError(f"git {args[0]} in {cwd} did not finish within {timeout:g} s") from err
    except OSError as err:
        raise GitError(f"cannot run git in {cwd} ({err.strerror or err})") from err


def _failure(
    args: tuple[str, ...], cwd: Path | str, stderr: str, stdout: str, code: int
) -> GitError:
    detail = (stderr or stdout).strip().splitlines()
    return GitError(f"git {args[0]} failed in {cwd}: {detail[-1] if detail else f'exit {code}'}")


def git(
    *args: str,
    cwd: Path | str,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> str:
    """Run `git args...` in `cwd` and return its stdout; any failure is a GitError."""
    done = _run(args, cwd, stdin, env, timeout, text=True)
    if done.returncode != 0:
        raise _failure(args, cwd, done.stderr, done.stdout, done.returncode)
    return str(done.stdout)


def git_bytes(*args: str, cwd: Path | str, timeout: float = TIMEOUT) -> bytes:
    """Like :func:`git`, for output that is not text (`git archive`)."""
    done = _run(args, cwd, None, None, timeout, text=False)
    if done.returncode != 0:
        err = bytes(done.stderr).decode("utf-8", "replace")
        raise _failure(args, cwd, err, "", done.returncode)
    return bytes(done.stdout)


def git_status(
    *args: str,
    cwd: Path | str,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> tuple[int, str, str]:
    """Run git where the exit code is the answer: (returncode, stdout, stderr); only a git that
    cannot be run or hangs raises."""
    done = _run(args, cwd, None, env, timeout, text=True)
    return done.returncode, str(done.stdout), str(done.stderr)
