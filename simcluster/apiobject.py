"""API objects as simcluster holds them: plain JSON-like dicts, copied fast, stamped in UTC.

Every part of the simulated cluster (store, controllers, API, GitOps tooling) passes objects
around in this form, so the helpers live in this leaf module that imports nothing of simcluster.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["Obj", "deep_copy", "now_rfc3339"]

Obj = dict[str, Any]


def deep_copy(value: Any) -> Any:
    """Copy JSON-like data; several times faster than copy.deepcopy for API objects."""
    if type(value) is dict:
        return {k: deep_copy(v) for k, v in value.items()}
    if type(value) is list:
        return [deep_copy(v) for v in value]
    return value


def now_rfc3339() -> str:
    """Second-precision UTC timestamp, the format of creationTimestamp."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
