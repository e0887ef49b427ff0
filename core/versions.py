"""Version strings, parsed one way for every package: `1.7.7`, `v1.7`, `1.8.0-beta.1`.

Istio tags its images `X.Y.Z[-pre]`; a Helm chart or a CR may write `v1.7` or `1.7`. The generator
is strict (a target that is not a release would not pull); the verifier and simcluster read what
the cluster says and must not crash on odd tags, so each strict function has a lenient twin that
answers None.
"""

from __future__ import annotations

import re

from core.errors import UsageError

__all__ = [
    "image_version",
    "minor_key",
    "minor_of",
    "parse_version",
    "require_release",
    "version_key",
]

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?$")
_RELEASE = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?$")
_TAG = re.compile(r"^v?\d+\.\d+(?:\.\d+)?")


def version_key(text: str) -> tuple[int, int, int] | None:
    """`1.7.7` -> (1, 7, 7), `v1.7` -> (1, 7, 0); None for anything that is not a version."""
    m = _VERSION.match(str(text).strip())
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else None


def parse_version(text: str, what: str = "version") -> tuple[int, int, int]:
    """Like :func:`version_key`, but a UsageError naming `what` when `text` is no version."""
    key = version_key(text)
    if key is None:
        raise UsageError(f"{what} {text!r} is not a version like 1.7.7")
    return key


def require_release(text: str, what: str) -> tuple[int, int, int]:
    """A target exactly as Istio tags its images (`1.7.7`, `1.8.0-beta.1`): it becomes
    spec.version and the proxy/pilot image tags, so `v1.7.7` or `1.7` would not pull."""
    parsed = parse_version(text, what)
    if not _RELEASE.match(text):
        raise UsageError(
            f"{what} {text!r} is not a release like 1.7.7 (Istio images are tagged X.Y.Z)"
        )
    return parsed


def minor_key(version: str) -> tuple[int, int] | None:
    """(1, 7) of `1.7.7`; None when `version` is not a version."""
    key = version_key(version)
    return key[:2] if key else None


def minor_of(version: str) -> str:
    """`1.7` of `1.7.7`; a UsageError when `version` is not a version."""
    major, minor, _ = parse_version(version)
    return f"{major}.{minor}"


def image_version(image: str) -> str:
    """`docker.io/istio/proxyv2:1.7.7-distroless@sha256:..` -> `1.7.7`; "" when untagged."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return ""
    m = _TAG.match(last.rsplit(":", 1)[1])
    return m.group(0).lstrip("v") if m else ""
