"""The one error hierarchy of istio-canary; every class carries its exit code.

Exit codes are a contract (docs/architecture.md): 0 success, 1 a check failed or never passed,
2 bad usage or bad input (nothing written), 3 could not verify (cluster unreachable, RBAC,
API timeouts). The CLI layers map ``CanaryError.exit_code`` and print ``str(err)`` on one line.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "CanaryError",
    "CheckFailed",
    "ClusterUnreachable",
    "ConflictError",
    "ForgeError",
    "GitError",
    "InputError",
    "PlanError",
    "PreconditionError",
    "UsageError",
]


class CanaryError(Exception):
    """Base of every error the tools raise on purpose; the message is one line for the user."""

    exit_code: ClassVar[int] = 2


class UsageError(CanaryError):
    """The command line asks for something that cannot be done (bad flag values)."""

    exit_code: ClassVar[int] = 2


class InputError(CanaryError):
    """A file in the repo cannot be read or edited safely (broken YAML, duplicates, templates)."""

    exit_code: ClassVar[int] = 2


class PlanError(InputError):
    """The plan file is missing, malformed, or does not match the repo."""


class PreconditionError(CanaryError):
    """The repo or tree is not in a state the command may act on (dirty tree, detached HEAD)."""

    exit_code: ClassVar[int] = 2


class GitError(PreconditionError):
    """git could not be run, hung, or refused a command (see :mod:`core.git`)."""


class ConflictError(CanaryError):
    """An edit would change more than intended, so nothing was written."""

    exit_code: ClassVar[int] = 2


class CheckFailed(CanaryError):
    """A verifier check failed, or never passed before the deadline."""

    exit_code: ClassVar[int] = 1


class ClusterUnreachable(CanaryError):
    """The cluster could not be asked: unreachable, RBAC denied, or API timeouts."""

    exit_code: ClassVar[int] = 3


class ForgeError(CanaryError):
    """GitHub or GitLab refused the request or could not be reached (bad token, 5xx, network)."""

    exit_code: ClassVar[int] = 3
