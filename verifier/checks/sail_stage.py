"""What the Sail objects must look like after stage N: the Sail checks' input besides the snapshot.

Pure and small. A Sail canary is one `Istio` whose `spec.version` moves: under `RevisionBased`
the operator makes the new `IstioRevision` beside the old one and deletes the old one itself,
once nothing names it (`InUse` False) and the grace period passed. So after each stage:

- `active` is the revision the Istio's `status.activeRevisionName` must name;
- `ready` revisions must exist and be Ready (the old one while workloads still need it);
- `optional` revisions may exist or be gone (the old one once every planned namespace moved: the
  operator may prune it before the cleanup commit);
- `gone` revisions must be deleted (the old one after cleanup);
- `tags` maps each IstioRevisionTag the plan knows to the revision it must resolve to;
- `cni` is the IstioCNI and the version its DaemonSet must run, when the repo has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["CniExpectation", "RevisionExpectation", "SailStage"]


@dataclass(frozen=True)
class RevisionExpectation:
    """An IstioRevision by name, the Istio version it runs (`1.28.6`) and where its istiod is."""

    name: str
    version: str
    namespace: str = "istio-system"


@dataclass(frozen=True)
class CniExpectation:
    """The IstioCNI (always `default`) and the version its istio-cni-node DaemonSet must run."""

    version: str
    name: str = "default"
    namespace: str = "istio-cni"


@dataclass(frozen=True)
class SailStage:
    """The Sail part of the postconditions of one stage (see the module docstring)."""

    istio: str
    active: RevisionExpectation
    ready: tuple[RevisionExpectation, ...]
    optional: tuple[RevisionExpectation, ...] = ()
    gone: tuple[RevisionExpectation, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    cni: CniExpectation | None = None
    old: str = ""  # the revision being replaced: what cleanup safety looks for
    cleanup: bool = False  # nothing may name `old` (the cleanup gate, and after it)
    # Tags pinned to `old` that the cleanup commit itself points at the new revision: at the
    # cleanup gate they may still name `old` (after cleanup they may not).
    retargeted: tuple[str, ...] = ()
