"""Istio releases the Helm flavour knows, and which upgrades it will stage.

The table holds the newest patch of each minor from 1.20 to 1.31, checked against the istio/istio release tags (a mirror of August 2026, which ends at
1.29.6, 1.30.3 and 1.31's release candidates) and the release announcements after it (1.29.8,
1.30.5 and 1.31.1 by late September 2026). As for the Banzai flavour, a target beyond it earns a
warning, not a refusal: new patches ship after istio-canary does, and a release that really does not
exist shows up as an ImagePullBackOff of the new istiod at the first gate.
"""

from __future__ import annotations

from core.errors import UsageError
from core.versions import parse_version

__all__ = [
    "LATEST_PATCH",
    "MAX_MINOR_JUMP",
    "OLDEST_SOURCE",
    "OLDEST_TARGET",
    "check_upgrade",
    "revision_name",
    "unknown_release",
]

LATEST_PATCH: dict[tuple[int, int], int] = {
    (1, 20): 8,
    (1, 21): 6,
    (1, 22): 8,
    (1, 23): 6,
    (1, 24): 6,
    (1, 25): 5,
    (1, 26): 8,
    (1, 27): 9,
    (1, 28): 10,
    (1, 29): 8,
    (1, 30): 5,
    (1, 31): 1,
}
# Targets start at 1.22 (the charts' revision tags, default-revision validator and values as the
# stages edit them); a source may be up to two minors below, so a 1.20 or 1.21 install can
# reach 1.22 or 1.23 in one canary.
OLDEST_TARGET = (1, 22)
OLDEST_SOURCE = (1, 20)
# A revision-based canary may skip one minor (istio.io: 1.8 -> 1.10), never more.
MAX_MINOR_JUMP = 2


def revision_name(version: str) -> str:
    """The revision named after a version, as the Istio docs do: `1.28.2` -> `1-28-2`."""
    return version.replace(".", "-")


def check_upgrade(source: str, target: str) -> None:
    """Refuse (UsageError) a source or target the flavour cannot stage as a canary."""
    src = parse_version(source, "the running istiod chart version")
    tgt = parse_version(target, "--to-version")
    if src[:2] < OLDEST_SOURCE:
        raise UsageError(
            f"the running Istio is {source}; the Helm flavour upgrades from 1.20 on "
            "(upgrade it in place, one minor at a time, to 1.20 first)"
        )
    if tgt[:2] < OLDEST_TARGET:
        raise UsageError(
            f"--to-version {target}: the Helm flavour stages canaries to 1.22 or newer"
        )
    if tgt[0] != src[0] or tgt[1] <= src[1]:
        what = (
            "a patch of the running minor (upgrade it in place)"
            if tgt[:2] == src[:2]
            else ("not newer than the running one")
        )
        raise UsageError(
            f"--to-version {target} is {what}: a canary needs a newer minor than {source}"
        )
    jump = tgt[1] - src[1]
    if jump > MAX_MINOR_JUMP:
        via = f"{tgt[0]}.{src[1] + MAX_MINOR_JUMP}"
        raise UsageError(
            f"--to-version {target} is {jump} minors ahead of {source}; a canary upgrade may jump "
            f"at most {MAX_MINOR_JUMP} (go to {via} first)"
        )


def unknown_release(version: str) -> str:
    """A warning when `version` is not a release this table knows ("" when it is)."""
    major, minor, patch = parse_version(version, "--to-version")
    last = LATEST_PATCH.get((major, minor))
    if last is not None and patch <= last:
        return ""
    newest = (
        f"newest {major}.{minor}: {major}.{minor}.{last}"
        if last is not None
        else f"it knows up to {max(LATEST_PATCH)[0]}.{max(LATEST_PATCH)[1]}"
    )
    return (
        f"Istio {version} is not a release istio-canary knows ({newest}); if it exists, go ahead, "
        "otherwise the new istiod will not start (ImagePullBackOff): re-run init with a released "
        "version"
    )
