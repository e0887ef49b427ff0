"""The runner's decisions (K consecutive passes, early fail, deadline, could-not-verify), on a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

from core.errors import ClusterUnreachable
from verifier.errors import AccessDenied
from verifier.result import CheckResult
from verifier.runner import Evaluation, Outcome, Polling, Verdict, poll

OK = CheckResult.passed("x", "fine")
WAIT = CheckResult.pending("x", "rollout in progress")
BAD = CheckResult.failed("x", "CrashLoopBackOff")
UNSURE = CheckResult.pending("x", "exec lost", unverifiable=True)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _run(seq: list[object], polling: Polling) -> tuple[Verdict, Clock]:
    clock = Clock()
    it: Iterator[object] = iter(seq)

    def evaluate() -> Evaluation:
        item = next(it)
        if isinstance(item, Exception):
            raise item
        return Evaluation([item]) if isinstance(item, CheckResult) else Evaluation(item)  # type: ignore[arg-type]

    return poll(evaluate, polling, clock=clock, sleep=clock.sleep), clock


def test_needs_k_consecutive_passes_and_a_flap_resets_the_count() -> None:
    verdict, clock = _run([OK, WAIT, OK, OK, OK], Polling(timeout=100, interval=2, successes=3))
    assert verdict.outcome is Outcome.PASSED
    assert verdict.evaluations == 5 and clock.sleeps == [2, 2, 2, 2]


def test_a_failed_check_ends_at_once_with_exit_1() -> None:
    verdict, clock = _run([WAIT, BAD, OK], Polling(timeout=100, interval=2, successes=1))
    assert verdict.outcome is Outcome.FAILED and verdict.exit_code == 1
    assert "CrashLoopBackOff" in verdict.reason and clock.sleeps == [2]


def test_deadline_while_pending_is_exit_1_never_passed() -> None:
    verdict, _ = _run([WAIT] * 10, Polling(timeout=5, interval=2, successes=1))
    assert verdict.outcome is Outcome.FAILED
    assert verdict.reason.startswith("never passed before the deadline: x: rollout in progress")


def test_deadline_while_the_api_is_down_is_exit_3() -> None:
    down = ClusterUnreachable("list pods: connection refused")
    verdict, _ = _run([down] * 10, Polling(timeout=5, interval=2, successes=1))
    assert verdict.outcome is Outcome.UNVERIFIABLE and verdict.exit_code == 3
    assert "connection refused" in verdict.reason
    verdict, _ = _run([UNSURE] * 10, Polling(timeout=5, interval=2, successes=1))
    assert verdict.exit_code == 3


def test_a_pass_after_an_api_error_still_needs_its_streak() -> None:
    down = ClusterUnreachable("HTTP 500")
    verdict, _ = _run([OK, down, OK, OK], Polling(timeout=100, interval=1, successes=2))
    assert verdict.outcome is Outcome.PASSED and verdict.evaluations == 4


def test_rbac_denial_stops_without_waiting() -> None:
    verdict, clock = _run(
        [AccessDenied("RBAC: may not list pods")], Polling(timeout=100, interval=5, successes=1)
    )
    assert verdict.exit_code == 3 and clock.sleeps == []


def test_empty_evaluation_is_never_a_pass() -> None:
    verdict, _ = _run([[]] * 5, Polling(timeout=3, interval=1, successes=1))
    assert verdict.outcome is Outcome.FAILED


def test_a_definite_verdict_seen_before_the_api_flaked_wins_over_could_not_verify() -> None:
    # api-flaky: one evaluation saw a pod on the wrong revision, the later ones could not read
    wrong = CheckResult.pending("data-plane", "demo-a/app-a on old revision")
    seq: list[object] = [wrong, ClusterUnreachable("429"), UNSURE, ClusterUnreachable("reset")]
    verdict, _ = _run(seq, Polling(timeout=7, interval=2, successes=1))
    assert verdict.outcome is Outcome.FAILED and verdict.exit_code == 1
    assert "demo-a/app-a on old revision" in verdict.reason
    assert "before the cluster stopped answering" in verdict.reason


def test_a_definite_verdict_beside_an_unverifiable_one_is_exit_1() -> None:
    wrong = CheckResult.pending("data-plane", "demo-a/app-a on old revision")
    verdict, _ = _run([[wrong, UNSURE]] * 5, Polling(timeout=5, interval=2, successes=1))
    assert verdict.outcome is Outcome.FAILED and "on old revision" in verdict.reason


def test_a_pass_clears_an_earlier_definite_verdict() -> None:
    wrong = CheckResult.pending("data-plane", "rolling")
    seq: list[object] = [wrong, OK, UNSURE, UNSURE, UNSURE]
    verdict, _ = _run(seq, Polling(timeout=7, interval=2, successes=2))
    assert verdict.outcome is Outcome.UNVERIFIABLE and verdict.exit_code == 3
