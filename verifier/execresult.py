"""How a command run in a pod ended: what it printed and its exit status, read from the exec stream.

Pure: the exec websocket (in :mod:`verifier.cluster`) hands over stdout, stderr and the channel-3
status document; :func:`exit_code_of` reads the exit code out of that document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ExecResult", "exit_code_of"]


@dataclass(frozen=True)
class ExecResult:
    """What a command printed and how it ended; `exit_code` is None when it could not run."""

    stdout: str
    stderr: str
    exit_code: int | None
    status: Mapping[str, Any]

    @property
    def error(self) -> str:
        """Why the command did not run (e.g. binary missing); "" when it ran (any exit code)."""
        if self.exit_code is not None:
            return ""
        return str(self.status.get("message") or self.status.get("reason") or "no exit status")


def exit_code_of(status: Mapping[str, Any]) -> int | None:
    """0 on Success; the ExitCode cause on NonZeroExitCode; None when the command did not run."""
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or ():
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                return None
    return None
