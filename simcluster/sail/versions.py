"""Which Istio versions a Sail operator release installs, aliases, and revision names.

Each operator release carries a version table (``pkg/istioversion/versions.yaml`` in
istio-ecosystem/sail-operator): concrete versions ``vX.Y.Z`` of the three newest minors it
supports, an alias ``vX.Y-latest`` per minor pointing at its newest patch, and older versions
kept as valid input but marked end-of-life, which the operator refuses to install. The tables
below are those of the releases 1.28.3, 1.29.2 and 1.30.3; a cluster whose operator version is
unknown gets 1.29.2's, the one release that installs both 1.27 and 1.28.

Revision names follow the Istio controller: the Istio's own name for ``InPlace`` (the default
strategy), ``<name>-<spec.version with dots as dashes>`` for ``RevisionBased``. The version is
used as written, so an alias lands literally in the name (``default-v1-28-latest``, sail#2262),
while the IstioRevision's ``spec.version`` is the resolved concrete version.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_OPERATOR",
    "OPERATOR_RELEASES",
    "VersionError",
    "VersionTable",
    "chart_version",
    "revision_name",
    "table_for",
]


class VersionError(ValueError):
    """``spec.version`` cannot be installed; the message is the operator's."""


@dataclass(frozen=True)
class VersionTable:
    """One operator release's versions: ``{minor: newest patch}`` installable, from patch 0."""

    operator: str
    newest: dict[str, int]

    def aliases(self) -> dict[str, str]:
        return {f"v{minor}-latest": f"v{minor}.{last}" for minor, last in self.newest.items()}

    def installable(self) -> list[str]:
        return [
            f"v{minor}.{patch}" for minor, last in self.newest.items() for patch in range(last + 1)
        ]

    def resolve(self, version: str) -> str:
        """The concrete ``vX.Y.Z`` a ``spec.version`` (or alias) installs; VersionError if none."""
        if version in self.aliases():
            return self.aliases()[version]
        if version in self.installable():
            return version
        if _is_end_of_life(version, self):
            raise VersionError(
                f"version {version!r} is end-of-life and cannot be installed; "
                "use a supported version"
            )
        raise VersionError(f"version {version!r} not found")


def _minor_of(version: str) -> tuple[int, int] | None:
    parts = version.lstrip("v").split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def _is_end_of_life(version: str, table: VersionTable) -> bool:
    """Older than every minor the release installs, but a version Sail ever listed (1.21 on)."""
    minor = _minor_of(version)
    if minor is None or not version.startswith("v"):
        return False
    oldest = min(_minor_of(f"v{m}.0") or (0, 0) for m in table.newest)
    return (1, 21) <= minor < oldest


OPERATOR_RELEASES: dict[str, VersionTable] = {
    "1.28.3": VersionTable("1.28.3", {"1.28": 3, "1.27": 5, "1.26": 8}),
    "1.29.2": VersionTable("1.29.2", {"1.29": 2, "1.28": 6, "1.27": 9}),
    "1.30.3": VersionTable("1.30.3", {"1.30": 3, "1.29": 6, "1.28": 10}),
}
DEFAULT_OPERATOR = "1.29.2"


def table_for(operator_version: str | None) -> VersionTable:
    """The table of the newest known release not newer than ``operator_version``."""
    if not operator_version:
        return OPERATOR_RELEASES[DEFAULT_OPERATOR]
    wanted = _numbers(operator_version)
    known = sorted(OPERATOR_RELEASES, key=_numbers)
    chosen = [v for v in known if _numbers(v) <= wanted]
    return OPERATOR_RELEASES[chosen[-1] if chosen else known[0]]


def _numbers(version: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in version.lstrip("v").split("-")[0].split("."):
        try:
            out.append(int(part))
        except ValueError:
            break
    return tuple(out)


def revision_name(name: str, strategy: str | None, version: str) -> str:
    """The active revision's name for an Istio ``name`` with ``updateStrategy.type`` ``strategy``."""
    if strategy == "RevisionBased":
        return f"{name}-{version.replace('.', '-')}"
    return name


def chart_version(resolved: str) -> str:
    """The Istio chart and image version of a resolved ``vX.Y.Z`` (``X.Y.Z``)."""
    return resolved[1:] if resolved.startswith("v") else resolved
