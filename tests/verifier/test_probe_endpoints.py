"""A probe covers every endpoint of its target, and one plain answer among good ones fails it.

The executor is a hand-written stand-in for the cluster's exec (the pure retry/coverage logic is
what is under test; the same code runs over real websockets in test_adversarial.py).
"""

from __future__ import annotations

from dataclasses import replace

from tests.verifier import builders as B
from verifier.checks import connectivity
from verifier.execresult import ExecResult
from verifier.probe import ProbeSettings, run_probes
from verifier.result import Status

MTLS = (
    "\n\nHostname: {pod}\n\nRequest Headers:\n\taccept=*/*\n"
    "\tx-forwarded-client-cert=By=spiffe://cluster.local/ns/demo-b/sa/default;Hash=ab;"
    "Subject=&quot;&quot;;URI=spiffe://cluster.local/ns/demo-a/sa/default\n\n200"
)
PLAIN = "\n\nHostname: {pod}\n\nRequest Headers:\n\taccept=*/*\n\n200"


class RoundRobin:
    """Answers from each endpoint in turn, like a Service spreading requests."""

    def __init__(self, answers: list[tuple[str, str]]) -> None:
        self.answers, self.calls = answers, 0

    def exec(
        self, namespace: str, pod: str, container: str, argv: list[str], timeout: float
    ) -> ExecResult:
        name, body = self.answers[self.calls % len(self.answers)]
        self.calls += 1
        return ExecResult(body.format(pod=name), "", 0, {"status": "Success"})


def _probe(endpoints: tuple[str, ...]) -> connectivity.Probe:
    probe = connectivity.Probe(B.A_TO_B, "demo-a", "app-a-x", "echo-service", "default", ("curl",))
    return replace(probe, endpoints=endpoints)


FAST = ProbeSettings(backoff=0)


def test_every_endpoint_must_answer_over_mtls() -> None:
    pods = ("app-b-1", "app-b-2", "app-b-3")
    ex = RoundRobin([(p, MTLS) for p in pods])
    (r,) = run_probes(ex, [_probe(pods)], FAST)
    assert r.status is Status.PASSED and r.answered_by == pods and ex.calls == 3


def test_one_plain_answer_among_good_ones_fails_the_probe_naming_the_pod() -> None:
    pods = ("app-b-1", "app-b-2", "app-b-3")
    ex = RoundRobin([("app-b-1", MTLS), ("app-b-2", PLAIN), ("app-b-3", MTLS)])
    (r,) = run_probes(ex, [_probe(pods)], FAST)
    assert r.status is Status.PENDING
    assert "no x-forwarded-client-cert: not mTLS (from demo-b/app-b-2)" in r.message


def test_an_endpoint_that_never_answers_keeps_the_probe_pending() -> None:
    pods = ("app-b-1", "app-b-2")
    ex = RoundRobin([("app-b-1", MTLS)])  # app-b-2 is listed but never reached
    (r,) = run_probes(ex, [_probe(pods)], FAST)
    assert r.status is Status.PENDING and "none yet from demo-b/app-b-2" in r.message
