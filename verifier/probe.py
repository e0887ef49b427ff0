"""Runs connectivity probes: bounded concurrency (a thread pool), a few retries per probe.

A probe covers every ready endpoint behind its target: it is repeated until each endpoint pod
has answered (the echoserver names it) and every answer passed; the first answer that does not
pass (plain text, no mTLS, an error status) is the probe's verdict, since one good answer must
not hide a bad endpoint. Only an exec that could not run is retried, a few times with a short
backoff; each answer is judged by the pure `verifier.checks.connectivity.judge`. Exec errors (no exit status, dropped stream, refused
handshake) arrive here as ClusterUnreachable and become "could not verify" results.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
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
    wanted = set(probe.endpoints)
    # Enough answers to reach every endpoint under round-robin, and room for a random pick.
    budget = max(1, len(wanted)) * 3 + settings.attempts
    answered: set[str] = set()
    passes = 0
    verdict: ProbeResult | None = None
    retries = 0
    for attempt in range(1, budget + 1):
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
        if verdict.unverifiable:
            retries += 1
            if retries >= settings.attempts:
                return verdict
            time.sleep(settings.backoff * retries)  # backoff between real probes
            continue
        if verdict.status is not Status.PASSED:
            return replace(verdict, answered_by=tuple(sorted(answered)))
        passes += 1
        if verdict.hostname:
            answered.add(verdict.hostname)
        covered = answered >= wanted if verdict.hostname else passes >= max(1, len(wanted))
        if covered:
            return replace(verdict, answered_by=tuple(sorted(answered)))
    assert verdict is not None
    missing = sorted(wanted - answered)
    return replace(
        verdict,
        status=Status.PENDING,
        message=f"{passes} answer(s) over mTLS, but none yet from "
        + ", ".join(f"{probe.check.target_namespace}/{m}" for m in missing),
        answered_by=tuple(sorted(answered)),
    )
