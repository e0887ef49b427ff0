"""Istio releases istio-canary knows of: a target outside them earns a warning, not a refusal.

New patch releases appear after istio-canary ships, so refusing an unknown patch would block
users for no reason; but a typo (1.7.99) only shows up later as an ImagePullBackOff of the new
istiod, so `init` says so up front. simcluster's registry uses the same table for the tags it
can pull.
"""

from __future__ import annotations

from core.versions import parse_version

__all__ = ["LATEST_PATCH", "released_istio_tags", "unknown_release"]

# Newest patch of each minor the Banzai v1beta1 operators reconcile (0.6.x: 1.6, 0.7.x: 1.7).
LATEST_PATCH: dict[tuple[int, int], int] = {(1, 6): 14, (1, 7): 8}


def released_istio_tags() -> frozenset[str]:
    """Every `docker.io/istio/{proxyv2,pilot}` tag of the known minors (1.6.0 ... 1.7.8)."""
    return frozenset(
        f"{major}.{minor}.{patch}"
        for (major, minor), last in LATEST_PATCH.items()
        for patch in range(last + 1)
    )


def unknown_release(version: str) -> str:
    """A warning when `version` is not a known Istio release ("" when it is, or cannot be known)."""
    major, minor, patch = parse_version(version, "--to-version")
    last = LATEST_PATCH.get((major, minor))
    if last is None:
        return ""  # a minor newer than this table: nothing to compare against
    if patch <= last:
        return ""
    return (
        f"Istio {version} is not a release istio-canary knows (newest {major}.{minor}: "
        f"{major}.{minor}.{last}); if it exists, go ahead, otherwise the new istiod will not "
        "start (ImagePullBackOff): re-run init with a released version"
    )
