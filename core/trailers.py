"""The git trailers that tie commits to the plan: written by the generator, read by the verifier.

A stage commit carries `Istio-Canary-Stage: <index>/<count> <name>` (index 0 is the plan commit
of `init`); a rollback commit carries `Istio-Canary-Rollback: ns1,ns2`. Both sides use this one
module, so the format cannot drift between writer and reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ROLLBACK_TRAILER",
    "STAGE_TRAILER",
    "StageMark",
    "parse_rollback",
    "parse_stage",
    "rollback_trailer",
    "stage_trailer",
]

STAGE_TRAILER = "Istio-Canary-Stage"
ROLLBACK_TRAILER = "Istio-Canary-Rollback"

_STAGE = re.compile(r"(\d+)/(\d+)(?: (\S+))?")


@dataclass(frozen=True)
class StageMark:
    """What a stage trailer says: stage `index` of `count`, named `name` ("" for the plan)."""

    index: int
    count: int
    name: str = ""


def stage_trailer(index: int, count: int, name: str = "") -> str:
    """The trailer line of stage `index` (no name for the plan commit, index 0)."""
    value = f"{index}/{count}" + (f" {name}" if name else "")
    return f"{STAGE_TRAILER}: {value}"


def parse_stage(value: str) -> StageMark | None:
    """The trailer's value (`2/5 namespaces-1`) as a StageMark; None when it is not one."""
    m = _STAGE.fullmatch(value.strip())
    if m is None:
        return None
    return StageMark(int(m.group(1)), int(m.group(2)), m.group(3) or "")


def rollback_trailer(namespaces: tuple[str, ...] | list[str]) -> str:
    """The trailer line of a rollback commit naming the namespaces it moves back."""
    return f"{ROLLBACK_TRAILER}: {','.join(namespaces)}"


def parse_rollback(value: str) -> tuple[str, ...]:
    """The namespaces of a rollback trailer value (commas or newlines between them)."""
    return tuple(n.strip() for n in value.replace("\n", ",").split(",") if n.strip())
