"""The HTML comment a stage PR's body ends with: JSON by which the tool finds its own PRs again."""

from __future__ import annotations

import json
import re
from typing import Any

from core.plan import Plan, Stage
from generator.pullrequest.naming import plan_id

__all__ = ["MARKER", "marker_comment", "parse_marker"]

MARKER = "istio-canary"


def marker_comment(plan: Plan, stage: Stage, base_sha: str, head_sha: str) -> str:
    """`<!-- istio-canary {...} -->` naming the plan, the stage and the commits it shows."""
    data = {
        "v": 1,
        "plan": plan_id(plan),
        "stage": stage.index,
        "name": stage.name,
        "total": plan.total,
        "base": base_sha,
        "head": head_sha,
    }
    return f"<!-- {MARKER} {json.dumps(data, sort_keys=True)} -->"


def parse_marker(body: str) -> dict[str, Any] | None:
    """The JSON of the tool's marker comment in a PR body, or None when it has none."""
    m = re.search(r"<!-- " + re.escape(MARKER) + r" (\{.*?\}) -->", body)
    if m is None:
        return None
    try:
        data = json.loads(m.group(1))
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
