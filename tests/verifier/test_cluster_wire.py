"""verifier.cluster over real HTTP and websockets with the real kubernetes client (scripted server)."""

from __future__ import annotations

import socket
import time

import pytest

from core.errors import ClusterUnreachable
from tests.verifier.scripted_api import Script, serve
from verifier import rbac
from verifier.cluster import Cluster, RetryPolicy
from verifier.errors import (
    AccessDenied,
    Conflict,
    ConnectionFailed,
    Gone,
    NotFound,
    ServerError,
    Timeout,
)
from verifier.resources import PODS, SERVICES

FAST = RetryPolicy(attempts=4, budget=10, base=0.01, cap=0.05, connect_timeout=1, read_timeout=1)


def test_paged_list_is_whole_and_uses_the_chunk_size() -> None:
    script = Script(pods=7)
    with serve(script) as url, Cluster(host=url, retry=FAST) as c:
        pods = c.list(PODS, chunk=3)
    assert [p["metadata"]["name"] for p in pods] == [f"p{i:03d}" for i in range(7)]
    assert len(script.log) == 3 and all("limit=3" in line for line in script.log)
    assert c.requests["list"] == 3


def test_expired_continue_token_restarts_the_list_from_page_one() -> None:
    script = Script(pods=7, expire_continue_once=True)
    with serve(script) as url, Cluster(host=url, retry=FAST) as c:
        pods = c.list(PODS, chunk=3)
    assert len(pods) == 7 and len({p["metadata"]["name"] for p in pods}) == 7
    first_pages = [line for line in script.log if "continue=" not in line]
    assert len(first_pages) == 2  # the list started over after the 410


def test_429_with_retry_after_and_5xx_are_retried() -> None:
    script = Script(pods=2, faults=[(429, {"Retry-After": "0.3"}), (503, {})])
    with serve(script) as url, Cluster(host=url, retry=FAST) as c:
        started = time.monotonic()
        pods = c.list(PODS)
        took = time.monotonic() - started
    assert len(pods) == 2 and len(script.log) == 3
    assert took >= 0.3  # honoured the server's Retry-After


def test_persistent_5xx_gives_up_after_the_budget_with_exit_3() -> None:
    script = Script(faults=[(500, {})] * 10)
    with (
        serve(script) as url,
        Cluster(host=url, retry=FAST) as c,
        pytest.raises(ClusterUnreachable) as err,
    ):
        c.list(PODS)
    assert "HTTP 500" in str(err.value) and "after 4 attempts" in str(err.value)
    assert len(script.log) == 4 and err.value.exit_code == 3
    assert isinstance(err.value, ServerError) and err.value.status == 500


@pytest.mark.slow
def test_hung_server_times_out_instead_of_blocking() -> None:
    script = Script(hang_seconds=5)
    with (
        serve(script) as url,
        Cluster(
            host=url, retry=RetryPolicy(attempts=2, budget=5, base=0.01, cap=0.01, read_timeout=0.5)
        ) as c,
    ):
        started = time.monotonic()
        with pytest.raises(Timeout, match="Read timed out"):
            c.list(PODS)
        assert time.monotonic() - started < 3


def test_closed_port_is_could_not_verify() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        Cluster(host=f"http://127.0.0.1:{port}", retry=FAST) as c,
        pytest.raises(ConnectionFailed) as err,
    ):
        c.list(PODS)
    assert "after 4 attempts" in str(err.value)


def test_404_is_not_found_and_403_is_access_denied() -> None:
    with serve(Script()) as url, Cluster(host=url, retry=FAST) as c:
        with pytest.raises(NotFound):
            c.get(SERVICES, "istio-system", "istio-ingressgateway")
        assert c.get_or_none(SERVICES, "istio-system", "istio-ingressgateway") is None
        with pytest.raises(AccessDenied, match=r"forbidden \(HTTP 403\).*verifier/rbac.yaml"):
            c.get(SERVICES, "istio-system", "forbidden")


def test_every_error_status_has_its_own_type_and_none_is_retried() -> None:
    script = Script()
    with serve(script) as url, Cluster(host=url, retry=FAST) as c:
        with pytest.raises(Conflict, match="HTTP 409 the object has been modified") as conflict:
            c.get(SERVICES, "istio-system", "conflict")
        with pytest.raises(Gone, match="HTTP 410 too old resource version"):
            c.get(SERVICES, "istio-system", "gone")
    assert conflict.value.status == 409 and conflict.value.exit_code == 3
    assert isinstance(conflict.value, ClusterUnreachable)
    assert len(script.log) == 2  # one request each: a definite answer is not retried


def test_rbac_preflight_names_every_missing_permission() -> None:
    script = Script(denied={"create pods/exec", "list istios"})
    with serve(script) as url, Cluster(host=url, retry=FAST) as c:
        with pytest.raises(AccessDenied) as err:
            rbac.preflight(c, rbac.required("argocd", probes=True))
        assert "list istios.istio.banzaicloud.io, create pods/exec" in str(err.value)
    assert "SSAR get pods/exec" in script.log
    with serve(Script(denied={"create pods/exec"})) as url, Cluster(host=url, retry=FAST) as c:
        assert rbac.preflight(c, rbac.required("argocd", probes=False)) == []


def test_exec_reads_stdout_stderr_and_the_exit_status_separately() -> None:
    with serve(Script()) as url, Cluster(host=url, retry=FAST) as c:
        ok = c.exec("demo-a", "ok", "echo-service", ["curl", "-sS", "http://x/"], timeout=5)
        assert (ok.stdout, ok.stderr, ok.exit_code) == ("body\n200", "warning on stderr", 0)
        seven = c.exec("demo-a", "exit7", "echo-service", ["curl"], timeout=5)
        assert seven.exit_code == 7
        with pytest.raises(ClusterUnreachable, match="without an exit status"):
            c.exec("demo-a", "nostatus", "echo-service", ["curl"], timeout=5)
        started = time.monotonic()
        with pytest.raises(ClusterUnreachable, match="no result within 1s"):
            c.exec("demo-a", "hang", "echo-service", ["curl"], timeout=1)
        assert time.monotonic() - started < 4
