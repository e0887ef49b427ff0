"""The only place that waits: poll an evaluation until it passes K times in a row, fails, or times out.

Semantics (those of Argo Rollouts' consecutiveSuccessLimit): PASS needs
`successes` consecutive all-PASSED evaluations `interval` seconds apart; any FAILED check (a state
that will not heal) ends at once with exit 1; at the deadline, an evaluation that could not read
the cluster (or a check pending because it could not verify) ends with exit 3, anything else
with exit 1 ("never passed"). Fail-closed: an evaluation without results is never a pass.

A definite judgement beats "could not verify": if the cluster answered well enough for a check to
say the state is wrong (a pod on the wrong revision, a probe without mTLS) in the newest
evaluation that judged anything since the last pass, the deadline ends with exit 1 naming it,
even when later evaluations could not read the cluster (an API that flakes must not turn a
known-bad state into "could not verify").
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.errors import ClusterUnreachable
from verifier.errors import AccessDenied
from verifier.result import CheckResult, Status, worst

__all__ = ["Evaluation", "Outcome", "Polling", "Verdict", "poll"]


@dataclass(frozen=True)
class Evaluation:
    """One look at the cluster: the checks' results, or why the cluster could not be read."""

    results: Sequence[CheckResult]
    error: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def status(self) -> Status:
        return Status.PENDING if self.error else worst(self.results)

    @property
    def unverifiable(self) -> bool:
        return bool(self.error) or any(
            r.unverifiable for r in self.results if r.status is Status.PENDING
        )

    @property
    def definite(self) -> list[CheckResult]:
        """Pending results that are judgements of what the cluster showed, not "could not ask"."""
        return [r for r in self.results if r.status is Status.PENDING and not r.unverifiable]


class Outcome(enum.Enum):
    PASSED = 0
    FAILED = 1
    UNVERIFIABLE = 3

    @property
    def exit_code(self) -> int:
        return self.value


@dataclass(frozen=True)
class Polling:
    timeout: float = 600.0
    interval: float = 10.0
    successes: int = 3


@dataclass(frozen=True)
class Verdict:
    """How the gate ended, with the evaluation that decided it."""

    outcome: Outcome
    reason: str
    last: Evaluation
    evaluations: int
    consecutive: int
    started: datetime
    finished: datetime

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code


def poll(
    evaluate: Callable[[], Evaluation],
    polling: Polling,
    on_evaluation: Callable[[Evaluation, int], None] = lambda ev, k: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Verdict:
    """Evaluate until decided; `on_evaluation(ev, consecutive_passes)` feeds the progress view."""
    started = datetime.now(UTC)
    deadline = clock() + polling.timeout
    consecutive = 0
    count = 0
    definite: Evaluation | None = None  # the newest evaluation with a definite "not yet" verdict
    while True:
        try:
            ev = evaluate()
        except AccessDenied as e:  # RBAC will not change while we wait
            ev = Evaluation((), error=str(e))
            on_evaluation(ev, 0)
            return Verdict(
                Outcome.UNVERIFIABLE, str(e), ev, count + 1, 0, started, datetime.now(UTC)
            )
        except ClusterUnreachable as e:  # outages, timeouts, a 404 nothing expected: may heal
            ev = Evaluation((), error=str(e))
        count += 1
        consecutive = consecutive + 1 if ev.status is Status.PASSED else 0
        if ev.status is Status.PASSED:
            definite = None
        elif ev.definite:
            definite = ev
        on_evaluation(ev, consecutive)

        if ev.status is Status.FAILED:
            failed = [f"{r.name}: {r.message}" for r in ev.results if r.status is Status.FAILED]
            return _verdict(ev, count, consecutive, started, Outcome.FAILED, "; ".join(failed))
        if consecutive >= polling.successes:
            return _verdict(
                ev,
                count,
                consecutive,
                started,
                Outcome.PASSED,
                f"passed {consecutive} consecutive evaluation(s)",
            )
        if clock() + polling.interval > deadline:
            if definite is not None and (definite is not ev or ev.unverifiable):
                seen = "; ".join(f"{r.name}: {r.message}" for r in definite.definite)
                when = "" if definite is ev else " (seen before the cluster stopped answering)"
                return _verdict(
                    ev,
                    count,
                    consecutive,
                    started,
                    Outcome.FAILED,
                    f"never passed before the deadline: {seen}{when}",
                )
            if ev.unverifiable:
                why = ev.error or "; ".join(
                    f"{r.name}: {r.message}" for r in ev.results if r.unverifiable
                )
                return _verdict(
                    ev,
                    count,
                    consecutive,
                    started,
                    Outcome.UNVERIFIABLE,
                    f"could not verify before the deadline: {why}",
                )
            if ev.status is Status.PASSED:
                return _verdict(
                    ev,
                    count,
                    consecutive,
                    started,
                    Outcome.FAILED,
                    f"passed {consecutive} of {polling.successes} required consecutive evaluations before the deadline",
                )
            pending = [f"{r.name}: {r.message}" for r in ev.results if r.status is Status.PENDING]
            return _verdict(
                ev,
                count,
                consecutive,
                started,
                Outcome.FAILED,
                "never passed before the deadline: " + "; ".join(pending),
            )
        sleep(polling.interval)


def _verdict(
    ev: Evaluation, count: int, consecutive: int, started: datetime, outcome: Outcome, reason: str
) -> Verdict:
    return Verdict(outcome, reason, ev, count, consecutive, started, datetime.now(UTC))
