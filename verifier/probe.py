"""Runs connectivity probes: bounded concurrency (a thread pool), a few retries per probe.

Envoy configuration propagates eventually, so a probe that is not yet PASSED is retried a few
times with a short backoff inside one evaluation; what it finally says is judged by the pure
`verifier.checks.connectivity.judge`. Exec errors (no exit status, dropped stream, refused
handshake) arrive here as ClusterUnreachable and become "could not verify" results.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from core.errors import ClusterUnreachable
from verifier.checks.connectivity import Probe, ProbeResult, judge
from verifier.execresult import ExecResult
from verifier.result import Status

__all__ = ["Executor", "ProbeSettings", "run_probes"]


class Executor(Protocol):
    """What probing needs from a cluster."""

    def exec(
        self, namespace: str, pod: str, container: str, argv: list[str], timeout: float
    ) -> ExecResult: ...


@dataclass(frozen=True)
class ProbeSettings:
    concurrency: int = 16
    attempts: int = 3
    backoff: float = 0.5
    max_time: float = 5.0


def run_probes(
    cluster: Executor, probes: Sequence[Probe], settings: ProbeSettings
) -> list[ProbeResult]:
    """Every probe's final judgement, in the order given."""
    if not probes:
        return []
    workers = max(1, min(settings.concurrency, len(probes)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
        return list(pool.map(lambda p: _run_one(cluster, p, settings), probes))


def _run_one(cluster: Executor, probe: Probe, settings: ProbeSettings) -> ProbeResult:
    if probe.problem:
        return judge(probe, None)
    verdict: ProbeResult | None = None
    for attempt in range(1, settings.attempts + 1):
        try:
            result = cluster.exec(
                probe.namespace,
                probe.pod,
                probe.container,
                list(probe.argv),
                timeout=settings.max_time + 5.0,
            )
            verdict = judge(probe, result, attempts=attempt)
        except ClusterUnreachable as e:
            verdict = judge(probe, None, error=str(e), attempts=attempt)
        if verdict.status is Status.PASSED:
            return verdict
        if attempt < settings.attempts:
            time.sleep(settings.backoff * attempt)  # backoff between real probes
    assert verdict is not None
    return verdict
