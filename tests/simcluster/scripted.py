"""A deterministic exec hook for API tests, so exec framing is tested apart from the mesh."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simcluster.streams.exec import ExecOutcome, missing_binary

__all__ = ["Result", "scripted_exec"]


@dataclass(frozen=True)
class Result:
    stdout: bytes
    stderr: bytes
    exit_code: int
    error: str | None = None


def scripted_exec(pod: dict[str, Any], container: str, argv: list[str]) -> ExecOutcome:
    """`echo ...`; `fail N` (some stdout, `boom` on stderr, exit N); `whoami` (pod/container);
    anything else answers as a missing binary would."""
    if argv[0] == "echo":
        return Result((" ".join(argv[1:]) + "\n").encode(), b"", 0)
    if argv[0] == "fail":
        return Result(b"partial\n", b"boom\n", int(argv[1]))
    if argv[0] == "whoami":
        return Result(f"{pod['metadata']['name']}/{container}\n".encode(), b"", 0)
    return missing_binary(pod, container, argv)
