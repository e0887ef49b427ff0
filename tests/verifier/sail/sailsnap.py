"""Reading a simcluster with the Sail operator the way the gate does, and judging it.

Set-up goes through the real `kubernetes` client (`tests.simcluster.sailhelp.Cluster`); reads go
through the verifier's own boundary (`verifier.cluster.Cluster`) over real HTTP, into the same
`Snapshot` fields `collect` fills for a Sail plan.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.polling import wait_for
from verifier import sailview
from verifier.cluster import Cluster
from verifier.resources import DEPLOYMENTS, NAMESPACES, PODS
from verifier.result import CheckResult, Status
from verifier.snapshot import Snapshot

__all__ = ["judge_until", "read"]


def _key(obj: dict[str, object]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    assert isinstance(meta, dict)
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def read(kubeconfig: Path) -> Snapshot:
    """One evaluation's reads of a Sail cluster (pods, meshed namespaces, Deployments, Sail)."""
    with Cluster(kubeconfig) as c:
        pods = c.list(PODS)
        meshed = {
            _key(n)[1]: n
            for selector in ("istio-injection", "istio.io/rev")
            for n in c.list(NAMESPACES, label_selector=selector)
        }
        workloads = {_key(d): d for d in c.list(DEPLOYMENTS)}
        sail = sailview.read(c)
    return Snapshot(pods, {}, {}, {}, {}, meshed_namespaces=meshed, workloads=workloads, sail=sail)


def judge_until(
    kubeconfig: Path,
    judge: Callable[[Snapshot], CheckResult],
    status: Status,
    *,
    what: str,
    timeout: float = 20,
) -> CheckResult:
    """Read and judge until the check says `status` (the runner's loop, in a test's terms)."""
    return wait_for(
        lambda: judge(read(kubeconfig)),
        lambda r: r.status is status,
        what=what,
        timeout=timeout,
    )
