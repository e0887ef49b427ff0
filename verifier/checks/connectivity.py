"""Connectivity: the plan's probes, by exec of `curl` in the source pod's app container.

This module is pure: it picks the source pod from the snapshot and builds the command
(:func:`plan_probes`), and judges one exec result (:func:`judge`); `verifier.probe` runs them.
A probe passes on curl exit 0 (channel-3 status, not guessed from output) and HTTP 200 from stdout
parsed apart from stderr; when the target echoes request headers, it also needs mTLS evidence: an
`x-forwarded-client-cert` whose `URI=` is the caller's SPIFFE id. The seed's `-L` is dropped (a
redirect must not become a 200), `--max-time` bounds every call.

One good answer says nothing about the other pods behind a Service, so a probe covers every
ready endpoint of its target: each endpoint pod must have a sidecar (a pod without one answers in
plain text, whatever the caller does), the probe is repeated until every endpoint has answered
(the echoserver names the pod that answered), and every single answer must carry the mTLS
evidence; one plain answer fails the probe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.plan import ConnectivityCheck
from verifier import echo
from verifier import pods as P
from verifier.checks.base import Phase
from verifier.execresult import ExecResult
from verifier.expectation import Expectation
from verifier.result import CheckResult, Status
from verifier.snapshot import Snapshot

NAME = "connectivity"


@dataclass(frozen=True)
class Probe:
    """One exec to run; `problem` is set (and nothing runs) when no source pod is usable."""

    check: ConnectivityCheck
    namespace: str = ""
    pod: str = ""
    container: str = ""
    service_account: str = "default"
    argv: tuple[str, ...] = ()
    problem: str = ""
    endpoints: tuple[str, ...] = ()  # the ready endpoint pods behind the target; each must answer
    # Whose SPIFFE identity the XFCC must name, (namespace, service account); None: the caller's.
    # A probe through a gateway expects the gateway's: its proxy makes the hop to the target.
    identity: tuple[str, str] | None = None
    route: str = ""  # a probe through a gateway: the route it takes (see verifier.routes)


@dataclass(frozen=True)
class ProbeResult:
    """The judged outcome of a probe (after its retries)."""

    probe: Probe
    status: Status
    message: str
    http_code: str = ""
    exit_code: int | None = None
    xfcc: str = ""
    mtls: bool | None = None
    attempts: int = 0
    unverifiable: bool = False
    answered_by: tuple[str, ...] = ()  # the endpoint pods that answered, each with mTLS
    hostname: str = ""  # the pod that gave this answer, when the target echoes it

    def evidence(self) -> dict[str, Any]:
        c = self.probe.check
        return {
            "source": f"{c.source_namespace} ({c.source_selector})",
            "target": f"{c.target_service}.{c.target_namespace}:{c.port}",
            "url": self.probe.argv[-1] if self.probe.route and self.probe.argv else c.url,
            **({"route": self.probe.route} if self.probe.route else {}),
            "pod": f"{self.probe.namespace}/{self.probe.pod}" if self.probe.pod else "",
            "container": self.probe.container,
            "status": self.status.value,
            "httpCode": self.http_code,
            "exitCode": self.exit_code,
            "xfcc": self.xfcc,
            "mtls": self.mtls,
            "attempts": self.attempts,
            "endpoints": list(self.probe.endpoints),
            "answeredBy": list(self.answered_by),
            "message": self.message,
        }


def curl_argv(url: str, max_time: float) -> tuple[str, ...]:
    """`curl -sS -w '\\n%{http_code}'`: body then the code on its own line, errors on stderr."""
    t = f"{max_time:g}"
    return ("curl", "-sS", "-w", "\\n%{http_code}", "--connect-timeout", t, "--max-time", t, url)


def endpoint_pods(snap: Snapshot, c: ConnectivityCheck) -> tuple[list[str], list[str]]:
    """(the ready endpoint pods behind the check's target, those of them without a sidecar)."""
    obj = snap.endpoints.get((c.target_namespace, c.target_service))
    names: list[str] = []
    plain: list[str] = []
    pods = {str(P.meta(p).get("name", "")): p for p in snap.pods_in(c.target_namespace)}
    for subset in (obj or {}).get("subsets") or ():
        for address in subset.get("addresses") or ():
            ref = address.get("targetRef") or {}
            if ref.get("kind", "Pod") != "Pod" or not ref.get("name"):
                continue
            name = str(ref["name"])
            if name in names:
                continue
            names.append(name)
            pod = pods.get(name)
            if pod is not None and P.proxy_container(pod) is None:
                plain.append(name)
    return sorted(names), sorted(plain)


def plan_probes(snap: Snapshot, expect: Expectation, max_time: float = 5.0) -> list[Probe]:
    probes: list[Probe] = []
    for c in expect.probes:
        endpoints, plain = endpoint_pods(snap, c)
        if plain:
            probes.append(
                Probe(
                    c,
                    problem=(
                        f"endpoint pod(s) of {c.target_service}.{c.target_namespace} without a "
                        f"sidecar, which answer without mTLS: "
                        + ", ".join(f"{c.target_namespace}/{n}" for n in plain)
                    ),
                    endpoints=tuple(endpoints),
                )
            )
            continue
        candidates = sorted(
            (
                p
                for p in snap.pods_in(c.source_namespace)
                if P.match_selector(c.source_selector, P.labels(p)) and not P.is_finished(p)
            ),
            key=lambda p: str((p.get("metadata") or {}).get("name")),
        )
        ready = [p for p in candidates if P.is_ready(p)]
        if not ready:
            why = "no pod matches" if not candidates else "no Ready pod matches"
            probes.append(Probe(c, problem=f"{why} {c.source_selector} in {c.source_namespace}"))
            continue
        pod = ready[0]
        spec = pod.get("spec") or {}
        apps = [x.get("name", "") for x in spec.get("containers") or () if x.get("name") != P.PROXY]
        container = c.source_container or (apps[0] if apps else "")
        probes.append(
            Probe(
                c,
                namespace=c.source_namespace,
                pod=str(pod["metadata"]["name"]),
                container=container,
                service_account=str(spec.get("serviceAccountName") or "default"),
                argv=curl_argv(c.url, max_time),
                endpoints=tuple(endpoints),
            )
        )
    return probes


def judge(
    probe: Probe, result: ExecResult | None, error: str = "", attempts: int = 1
) -> ProbeResult:
    """PASSED only on exit 0, HTTP 200 and, where headers are echoed, the caller's XFCC."""
    if probe.problem:
        return ProbeResult(probe, Status.PENDING, probe.problem, attempts=attempts)
    if result is None:
        return ProbeResult(
            probe,
            Status.PENDING,
            f"could not run the probe: {error}",
            attempts=attempts,
            unverifiable=True,
        )
    if result.exit_code is None:
        return ProbeResult(
            probe,
            Status.PENDING,
            f"curl could not run in {probe.container}: {result.error}",
            attempts=attempts,
            unverifiable=True,
        )
    out = echo.parse_curl(result.stdout)
    code = result.exit_code

    answered = echo.hostname(out.body)

    def verdict(
        status: Status, message: str, xfcc: str = "", mtls: bool | None = None
    ) -> ProbeResult:
        by = f" (from {probe.check.target_namespace}/{answered})" if answered else ""
        return ProbeResult(
            probe,
            status,
            message + (by if status is not Status.PASSED else ""),
            out.http_code,
            code,
            xfcc,
            mtls,
            attempts,
            hostname=answered,
        )

    if code != 0:
        err = (result.stderr.strip().splitlines() or [""])[-1]
        return verdict(Status.PENDING, f"curl exit {code}: {err}".strip())
    if out.http_code != "200":
        said = ""
        if probe.route and out.body.strip() and echo.hostname(out.body) == "":
            # a gateway's own answer (Envoy's reason) tells which hop failed and why
            said = ": " + out.body.strip().splitlines()[0][:300]
        return verdict(Status.PENDING, f"HTTP {out.http_code or '(no code)'}, expected 200{said}")
    headers = echo.parse_headers(out.body)
    if headers is None:
        return verdict(Status.PASSED, "HTTP 200 (target echoes no headers: no mTLS evidence)")
    xfcc = headers.get("x-forwarded-client-cert", "")
    if not xfcc:
        return verdict(
            Status.PENDING, "HTTP 200 but no x-forwarded-client-cert: not mTLS", mtls=False
        )
    ns, account = probe.identity or (probe.namespace, probe.service_account)
    want = echo.spiffe_id(ns, account)
    uris = echo.caller_uris(xfcc)
    if not any(want.match(u) for u in uris):
        expected = f".../ns/{ns}/sa/{account}"
        return verdict(
            Status.PENDING,
            f"XFCC names {', '.join(uris) or 'no URI'}, expected {expected}",
            xfcc,
            False,
        )
    return verdict(Status.PASSED, "HTTP 200 over mTLS", xfcc, True)


class Connectivity:
    """Judged on the probes of the stage; the gate runs them once the data plane is as expected
    (`snap.probes` is None until then)."""

    name = NAME
    phase = Phase.PROBES

    def applies(self, expect: Expectation) -> bool:
        return True

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        if snap.probes is None:
            return CheckResult.pending(NAME, "waiting for the data plane before probing")
        return check(snap.probes, allow_none=expect.allow_no_probes)


def check(results: Sequence[ProbeResult], *, allow_none: bool = False) -> CheckResult:
    """Every probe passed; no probes at all is not a pass unless the operator said so."""
    evidence = [r.evidence() for r in results]
    if not results:
        if allow_none:
            return CheckResult.passed(
                NAME, "no connectivity checks for this stage (allowed by --allow-no-probes)"
            )
        return CheckResult.pending(
            NAME,
            "the plan has no connectivity checks for this stage (nor baseline ones): nothing "
            "shows that traffic still flows; pass --allow-no-probes if that is really intended",
        )
    bad = [r for r in results if r.status is not Status.PASSED]
    if bad:
        msg = "; ".join(f"{r.probe.check.label}: {r.message}" for r in bad)
        return CheckResult.pending(
            NAME, msg, evidence, unverifiable=any(r.unverifiable for r in bad)
        )
    return CheckResult.passed(
        NAME, f"{len(results)} probe(s) answered 200 with the caller's identity", evidence
    )
