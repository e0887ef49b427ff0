"""Versions and names: the `-vNNx` convention, operator lines per Istio minor, upgrade limits."""

from __future__ import annotations

import re

from core.errors import UsageError
from core.versions import parse_version

__all__ = [
    "DEFAULT_OPERATOR",
    "canary_name",
    "check_upgrade",
    "honours_create_only",
    "retag",
]

# The newest istio-operator (v1beta1 line) release per Istio minor it reconciles
# (docs/banzai-operator.md, section 1).
DEFAULT_OPERATOR = {"1.6": "0.6.22", "1.7": "0.7.14"}
MAX_MINOR_JUMP = 2
# First operator release per line that honours `gateways.<type>.createOnly` (PR #535 in 0.6.17,
# PR #507 in 0.7.2): older ones keep their ownerReference on the gateways they made, so deleting
# their CR garbage-collects those gateways (docs/banzai-operator.md, section 4).
CREATE_ONLY_SINCE = {(0, 6): (0, 6, 17), (0, 7): (0, 7, 2)}

_SUFFIX = re.compile(r"-v\d+x$")


def check_upgrade(current: str, target: str) -> None:
    """Refuse a target that is not newer, or more than two minors ahead (skew policy)."""
    cur, tgt = parse_version(current, "current version"), parse_version(target, "--to-version")
    if tgt <= cur:
        raise UsageError(f"--to-version {target} is not newer than the running {current}")
    if tgt[0] != cur[0] or tgt[1] - cur[1] > MAX_MINOR_JUMP:
        raise UsageError(
            f"--to-version {target} jumps more than {MAX_MINOR_JUMP} minors from {current}; "
            "upgrade one or two minors at a time"
        )
    if tgt[:2] == cur[:2]:
        raise UsageError(
            f"--to-version {target} is a patch release of {current}: a canary control plane "
            "needs a new minor (patch upgrades are in place)"
        )


def canary_name(name: str, version: str) -> str:
    """`istio-sample` or `istio-sample-v16x` -> `istio-sample-v17x` for 1.7.x."""
    major, minor, _ = parse_version(version)
    return f"{_SUFFIX.sub('', name)}-v{major}{minor}x"


def retag(image: str, tag: str) -> str:
    """The same registry/repository at a new tag (`docker.io/istio/pilot:1.6.14` -> `...:1.7.7`)."""
    head, sep, _ = image.rpartition(":")
    if not sep or "/" in image[len(head) :]:
        return f"{image}:{tag}"
    return f"{head}:{tag}"


def honours_create_only(operator_version: str) -> bool:
    """Whether this istio-operator release drops its ownerReference for `createOnly` gateways."""
    try:
        v = parse_version(operator_version, "operator version")
    except UsageError:
        return False
    since = CREATE_ONLY_SINCE.get(v[:2])
    return v >= since if since else v[:2] > (0, 7)
