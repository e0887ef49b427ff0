"""The istio-operator Helm chart and the operator releases it can run (v1beta1 line).

The generator picks the chart for a new operator release from these facts and checks the pair
the repo pins; simcluster renders a release from them, so a pair that crash-loops on a real
cluster crash-loops there too. Where each fact comes from (tags of banzaicloud/istio-operator):
docs/banzai-operator.md, section 7.

The manager parses its flags with Go's standard `flag` package, so a flag it does not know makes
it exit at start: that is how a chart too new for the operator breaks it.
"""

from __future__ import annotations

__all__ = [
    "CHART_DEFAULT_ISTIO",
    "SHIPPED_CHART",
    "chart_flags",
    "istio_version_of",
    "pair_problem",
    "unknown_flags",
]


def _v(text: str) -> tuple[int, ...]:
    parts = text.strip().lstrip("v").split("-", 1)[0].split(".")
    return tuple(int(p) for p in parts if p.isdigit())


# The chart version in deploy/charts/istio-operator/Chart.yaml at each operator tag. Operator
# tags 0.6.11-0.6.22 (branch release-1.6) all say 0.0.60, though the chart published as 0.0.60
# is 0.7.0's; 0.7.8-0.7.14 all say 0.0.69.
SHIPPED_CHART: dict[str, str] = {
    **{f"0.6.{p}": f"0.0.{49 + p}" for p in range(8)},  # 0.6.0 -> 0.0.49 ... 0.6.7 -> 0.0.56
    "0.6.8": "0.0.58",
    "0.6.9": "0.0.58",
    "0.6.10": "0.0.59",
    **{f"0.6.{p}": "0.0.60" for p in range(11, 23)},
    "0.7.0": "0.0.60",
    "0.7.1": "0.0.61",
    "0.7.2": "0.0.62",
    "0.7.3": "0.0.64",
    "0.7.4": "0.0.65",
    "0.7.5": "0.0.66",
    "0.7.6": "0.0.67",
    "0.7.7": "0.0.68",
    **{f"0.7.{p}": "0.0.69" for p in range(8, 15)},
}

# `istioVersion` in values.yaml of the chart as published (chart/istio-operator/<v> tags): the
# minor of the operator the chart was released with. 0.0.60 as published is 0.7.0's chart: "1.7".
CHART_DEFAULT_ISTIO: dict[str, str] = {
    **{f"0.0.{n}": "1.6" for n in range(49, 60)},
    **{f"0.0.{n}": "1.7" for n in range(60, 70)},
    **{f"0.0.{n}": "1.8" for n in range(70, 78)},
    **{f"0.0.{n}": "1.9" for n in range(78, 85)},
    **{f"0.0.{n}": "1.10" for n in range(85, 94)},
}

# Version-dependent flags of the chart's StatefulSet: (flag, first chart passing it, the
# istioVersion from which it is passed, first operator that knows it). Both need
# `webhook.enabled` (the default).
_FLAGS = (
    ("--webhook-name", (0, 0, 65), (1, 7), (0, 7, 4)),
    ("--webhook-service-address", (0, 0, 72), (1, 8), (0, 8, 2)),
)


def istio_version_of(chart: str, values: dict[str, object]) -> str:
    """The `istioVersion` a release renders with: its value, else the chart's default."""
    pinned = values.get("istioVersion")
    if pinned not in (None, ""):
        return str(pinned)
    return CHART_DEFAULT_ISTIO.get(chart, "")


def chart_flags(chart: str, istio_version: str, webhook: bool = True) -> list[str]:
    """The version-dependent flags this chart passes the manager at this `istioVersion`."""
    c, i = _v(chart), _v(istio_version)
    if not c or not i or not webhook:
        return []
    return [flag for flag, since, minor, _ in _FLAGS if c >= since and i[:2] >= minor]


def unknown_flags(flags: list[str], operator: str) -> list[str]:
    """The version-dependent flags an operator release does not know (it exits when given one).

    Flags every 0.6/0.7 release knows (leader election, metrics) are not judged.
    """
    o = _v(operator)
    return [f for f in flags for flag, _, _, since in _FLAGS if f == flag and o < since]


def pair_problem(chart: str, values: dict[str, object], operator: str) -> str:
    """Why this chart version, with these values, cannot run this operator ("" if it can).

    Unknown chart versions (or an operator outside the 0.6/0.7 lines) are not judged.
    """
    if chart not in CHART_DEFAULT_ISTIO or len(_v(operator)) != 3:
        return ""
    istio = istio_version_of(chart, values)
    webhook = values.get("webhook")
    enabled = not (isinstance(webhook, dict) and webhook.get("enabled") in (False, "false"))
    bad = unknown_flags(chart_flags(chart, istio, enabled), operator)
    how = "its default" if values.get("istioVersion") in (None, "") else "pinned"
    if not bad:
        line = _v(operator)[:2]
        if _v(istio)[:2] != (1, line[1]) and line[0] == 0 and line[1] in (6, 7):
            return (
                f"chart istio-operator {chart} renders for istioVersion {istio} ({how}), but "
                f"istio-operator {operator} reconciles Istio 1.{line[1]}: pin istioVersion "
                f"1.{line[1]} (the chart's RBAC, webhook and CRDs follow it)"
            )
        return ""
    return (
        f"chart istio-operator {chart} with istioVersion {istio} ({how}) passes "
        f"{', '.join(bad)}, which istio-operator {operator} does not know: the operator exits at "
        "start (CrashLoopBackOff)"
    )
