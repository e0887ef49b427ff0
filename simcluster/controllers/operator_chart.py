"""What the istio-operator chart hands the operator, and whether the operator survives it.

The chart's StatefulSet passes the manager version-dependent flags (chosen by the chart version
and `istioVersion`; facts in `core/operatorchart.py`). The manager parses its flags with Go's
`flag` package, which exits on a flag it does not know, so a pair like chart 0.0.88 (default
istioVersion "1.10") with operator 0.7.14 crash-loops: the rendered pod template names the
manager in the kubelet's crash-loop annotation, and the pod waits in CrashLoopBackOff as on a
real cluster, its last termination message the line Go's flag package prints
(`flag provided but not defined: -webhook-service-address`).
"""

from __future__ import annotations

from typing import Any

from core.operatorchart import chart_flags, istio_version_of, unknown_flags
from simcluster.controllers.kubelet import CRASH_LOOP, CRASH_MESSAGE

__all__ = ["UNKNOWN_FLAGS", "manager_flags", "mark_crash"]

Obj = dict[str, Any]
UNKNOWN_FLAGS = "simcluster.istio-canary.dev/unknown-flags"
"""Pod-template annotation: the flags the manager was given and does not know (why it crashes)."""


def manager_flags(chart: str, values: Obj, release: str, namespace: str) -> list[str]:
    """The version-dependent manager arguments this chart renders for these values."""
    webhook = values.get("webhook")
    enabled = not (isinstance(webhook, dict) and webhook.get("enabled") in (False, "false"))
    istio = istio_version_of(chart, values) if chart else str(values.get("istioVersion", "1.7"))
    if not chart:  # no chart version known: render as the release-1.7 chart does
        return ["--webhook-name", f"{release}-webhook"] if enabled and istio >= "1.7" else []
    out: list[str] = []
    for flag in chart_flags(chart, istio, enabled):
        if flag == "--webhook-name":
            out += [flag, f"{release}-webhook"]
        elif flag == "--webhook-service-address":
            out += [flag, f"{release}.{namespace}.svc"]
    return out


def mark_crash(template: Obj, args: list[str], operator_tag: str) -> None:
    """Make the manager crash-loop when it is given a flag its release does not know."""
    bad = unknown_flags([a for a in args if a.startswith("--")], operator_tag)
    if bad:
        annotations = template["metadata"].setdefault("annotations", {})
        annotations[CRASH_LOOP] = "manager"
        annotations[UNKNOWN_FLAGS] = ",".join(bad)
        # Go's flag package stops at the first flag it does not know, names it with one dash,
        # and the manager exits: that line is the container's last termination message.
        first = next(a for a in args if a in bad)
        annotations[CRASH_MESSAGE] = f"flag provided but not defined: -{first.lstrip('-')}"
