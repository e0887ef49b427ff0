"""The one boundary around the official `kubernetes` client: reads, access reviews and exec.

Everything that talks to the API server goes through :class:`Cluster`, and every third-party
exception is translated here into the typed errors of :mod:`verifier.errors` (all "could not
verify", exit 3), so the rest of the verifier sees only those and branches on their classes.

Requests are data (:class:`verifier.resources.Read`) and are sent one way, through the client's
`ApiClient.call_api` with the path built from that data; there is no per-kind client method, so a
StatefulSet, a webhook configuration or a custom resource is read exactly like a Pod. We keep the
`kubernetes` client for its kubeconfig loading (auth plugins, TLS) and its exec websocket; a
second client library (lightkube) would add a dependency and a second wire path for the same
requests.

Fail-closed rules kept here: every request carries a timeout; transient failures (429 honouring
Retry-After, 5xx, connection resets, read timeouts) are retried with capped exponential backoff
inside a bounded budget; a 410 during a paged list restarts the list from page one, so a list is
whole or an error, never partial; responses are read as raw JSON (no models: a 20,000-pod list must
be cheap, and a schema quirk must not crash us). Exec uses `kubernetes.stream` with
`_preload_content=False` and reads stdout, stderr and the channel-3 status separately; a missing
status or a connection still open at the deadline is an error, never an empty success.
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import websocket
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.stream import stream

from core.errors import UsageError
from verifier.errors import (
    AccessDenied,
    ApiError,
    BadResponse,
    ConnectionFailed,
    ExecFailed,
    Gone,
    NotFound,
    Timeout,
    Transient,
    from_status,
)
from verifier.execresult import ExecResult, exit_code_of
from verifier.resources import (
    APPLICATIONS,
    DAEMONSETS,
    DEPLOYMENTS,
    HELMRELEASES,
    ISTIOS,
    KUSTOMIZATIONS,
    MESHGATEWAYS,
    MUTATING_WEBHOOKS,
    NAMESPACES,
    PODS,
    SERVICES,
    STATEFULSETS,
    VALIDATING_WEBHOOKS,
    Read,
    Resource,
)

# The vocabulary of a Cluster's methods (kinds, results, errors) is re-exported, so a caller that
# holds a Cluster needs one import; the pure modules import them from where they are defined.
__all__ = [
    "APPLICATIONS",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "HELMRELEASES",
    "ISTIOS",
    "KUSTOMIZATIONS",
    "MESHGATEWAYS",
    "MUTATING_WEBHOOKS",
    "NAMESPACES",
    "PODS",
    "SERVICES",
    "STATEFULSETS",
    "VALIDATING_WEBHOOKS",
    "AccessDenied",
    "Cluster",
    "ExecResult",
    "NotFound",
    "Read",
    "Resource",
    "RetryPolicy",
]

Obj = dict[str, Any]
Objs = list[Obj]
Argv = list[str]
Query = list[tuple[str, str]]

_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: at most `attempts` tries within `budget` seconds, delays capped."""

    attempts: int = 5
    budget: float = 30.0
    base: float = 0.2
    cap: float = 4.0
    retry_after_cap: float = 10.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    def delay(self, attempt: int, after: float | None) -> float:
        backoff = min(self.cap, self.base * 2**attempt) * (0.5 + random.random() / 2)
        return max(backoff, min(self.retry_after_cap, after or 0.0))


_MIN_TIMEOUT = 1.0  # even past the deadline a request gets this long (one last honest look)


class Cluster:
    """Reads the cluster (and runs probe commands in pods) for the verifier; see module docs."""

    def __init__(
        self,
        kubeconfig: Path | None = None,
        context: str | None = None,
        retry: RetryPolicy | None = None,
        host: str | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._exec_apis: list[client.CoreV1Api] = []
        self._idle_exec_apis: list[client.CoreV1Api] = []
        cfg = client.Configuration()
        if host is not None:
            cfg.host = host
        else:
            try:
                config.load_kube_config(
                    config_file=str(kubeconfig) if kubeconfig else None,
                    context=context,
                    client_configuration=cfg,
                )
            except (ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as e:
                where = kubeconfig or "the default kubeconfig"
                first = " ".join(str(e).split())
                if isinstance(e, (TypeError, KeyError)):  # the loader indexed a wrong shape
                    first = f"not a kubeconfig ({_shape_of(kubeconfig)})"
                raise UsageError(f"cannot use kubeconfig {where}: {first}") from e
        self.deadline: float | None = None  # time.monotonic() the whole run must end by
        cfg.retries = 0  # our loop owns retries; urllib3's own would hide them and ignore budgets
        self._config = cfg
        self._api = client.ApiClient(cfg)
        self.host = cfg.host

    def close(self) -> None:
        self._api.close()
        with self._lock:
            for api in self._exec_apis:
                api.api_client.close()
            self._exec_apis.clear()
            self._idle_exec_apis.clear()

    def _exec_api(self) -> client.CoreV1Api:
        """An idle exec client, or a new one (at most one per concurrent exec, then reused)."""
        with self._lock:
            if self._idle_exec_apis:
                return self._idle_exec_apis.pop()
            api = client.CoreV1Api(client.ApiClient(self._config))
            self._exec_apis.append(api)
            return api

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- reads ---------------------------------------------------------------------------

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        label_selector: str | None = None,
        chunk: int = 500,
    ) -> Objs:
        """Every object (all namespaces unless given), paged by `chunk`; 410 restarts from page 1."""
        return self.read_all(Read(resource, namespace, label_selector=label_selector), chunk)

    def read_all(self, read: Read, chunk: int = 500) -> Objs:
        """The whole list `read` names, paged by `chunk`; a list is whole or an error."""
        what = read.description
        for _restart in range(3):
            items: Objs = []
            token: str | None = None
            try:
                while True:
                    page = self._request("list", what, "GET", read.path, read.query(chunk, token))
                    items.extend(page.get("items") or ())
                    token = (page.get("metadata") or {}).get("continue") or None
                    if not token:
                        return items
            except Gone:
                continue
        raise Gone(f"{what}: the list kept expiring (410) while paging; try again")

    def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        """One object; raises NotFound on 404."""
        read = Read(resource, namespace, name)
        return self._request("get", read.description, "GET", read.path, read.query())

    def get_or_none(self, resource: Resource, namespace: str, name: str) -> Obj | None:
        try:
            return self.get(resource, namespace, name)
        except NotFound:
            return None

    def can_i(
        self,
        verb: str,
        resource: Resource,
        subresource: str = "",
        namespace: str = "",
        until: float | None = None,
    ) -> bool | None:
        """SelfSubjectAccessReview; None when the cluster has no authorization API to ask.

        `until` (time.monotonic()) caps this review's timeouts and retries below the run's own
        deadline, so a hanging review API cannot use up the time the checks need."""
        attributes: dict[str, str] = {"verb": verb, "group": resource.group}
        attributes["resource"] = resource.plural
        if subresource:
            attributes["subresource"] = subresource
        if namespace:
            attributes["namespace"] = namespace
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        try:
            # a review has no side effect, so retrying it (as _request does) is safe
            review = self._request(
                "create",
                f"review access to {verb} {resource.label}",
                "POST",
                _REVIEWS,
                [],
                body=body,
                until=until,
            )
        except NotFound:
            return None
        return bool((review.get("status") or {}).get("allowed"))

    # ----- exec ----------------------------------------------------------------------------

    def exec(
        self, namespace: str, pod: str, container: str, argv: Argv, timeout: float
    ) -> ExecResult:
        """Run `argv` in a container over the exec websocket; a ClusterUnreachable if it cannot run.

        A client of its own while it runs: `kubernetes.stream` swaps `call_api` on the client it
        is given, which is not safe to share between the probe threads; idle ones are reused.
        """
        what = f"exec in {namespace}/{pod} -c {container}"
        if self.deadline is not None:
            timeout = max(_MIN_TIMEOUT, min(timeout, self.deadline - time.monotonic()))
        self._count("exec")
        # kubernetes' create_websocket opens the socket with no timeout at all (websocket's
        # default timeout is not consulted there), so a server that accepts and never answers
        # the upgrade would hold the probe forever: run the exchange in a daemon thread and
        # give up on it at the deadline (it returns its client to the pool if it ever ends).
        box: dict[str, Any] = {}

        def exchange() -> None:
            try:
                box["out"] = self._exec_stream(namespace, pod, container, argv, timeout, what)
            except BaseException as e:  # handed to the caller's thread below
                box["err"] = e

        worker = threading.Thread(target=exchange, name=f"exec {namespace}/{pod}", daemon=True)
        worker.start()
        limit = self.retry.connect_timeout + timeout
        if self.deadline is not None:
            limit = max(_MIN_TIMEOUT, min(limit, self.deadline - time.monotonic()))
        worker.join(limit)
        if worker.is_alive():
            raise Timeout(f"{what}: no answer within {limit:g}s")
        if "err" in box:
            raise box["err"]
        stdout, stderr, raw_status = box["out"]
        if not raw_status.strip():
            raise ExecFailed(f"{what}: the exec stream ended without an exit status")
        try:
            status = json.loads(raw_status)
        except ValueError as e:
            raise ExecFailed(f"{what}: unreadable exit status {raw_status[:80]!r}") from e
        return ExecResult(stdout, stderr, exit_code_of(status), status)

    def _exec_stream(
        self, namespace: str, pod: str, container: str, argv: Argv, timeout: float, what: str
    ) -> tuple[str, str, str]:
        """One exec over the websocket: stdout, stderr and the channel-3 status text."""
        api = self._exec_api()
        # Process-wide default for websocket code paths that consult it (the handshake does not:
        # exec() bounds the whole exchange).
        websocket.setdefaulttimeout(self.retry.connect_timeout + timeout)
        ws: Any = None
        try:
            ws = stream(
                api.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=argv,
                container=container,
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _preload_content=False,
                _request_timeout=timeout,
            )
            ws.run_forever(timeout=timeout)
            if ws.is_open():
                raise Timeout(f"{what}: no result within {timeout:g}s")
            stdout = ws.read_stdout(timeout=0) or ""
            stderr = ws.read_stderr(timeout=0) or ""
            raw_status = ws.read_channel(3, timeout=0) or ""
        except ApiException as e:
            raise ExecFailed(f"{what}: {_handshake_reason(e)}") from e
        except (websocket.WebSocketException, OSError, urllib3.exceptions.HTTPError) as e:
            raise ConnectionFailed(f"{what}: connection lost ({e.__class__.__name__}: {e})") from e
        finally:
            if ws is not None:
                try:
                    ws.close()
                except (websocket.WebSocketException, OSError):
                    pass
            with self._lock:
                self._idle_exec_apis.append(api)
        return stdout, stderr, raw_status

    # ----- plumbing ------------------------------------------------------------------------

    def _wire_problem(self, what: str, e: BaseException) -> Transient:
        """The typed error for a failure on the wire, with one plain sentence (no urllib3 reprs)."""
        where = urllib3.util.parse_url(self.host)
        addr = f"{where.host}:{where.port or (443 if where.scheme == 'https' else 80)}"
        cause = _innermost(e)
        timed_out = f"{what}: {addr}: Read timed out (no answer within {self._timeout()[1]:g}s)"
        if isinstance(e, urllib3.exceptions.ReadTimeoutError):
            return Timeout(timed_out)
        if isinstance(e, urllib3.exceptions.ConnectTimeoutError):
            return Timeout(f"{what}: {addr}: connect timed out")
        if isinstance(cause, ConnectionRefusedError):
            return ConnectionFailed(f"{what}: cannot connect to {addr} (connection refused)")
        if isinstance(cause, (http.client.RemoteDisconnected, ConnectionResetError)):
            # a plain-http request to a TLS port ends either way, depending on timing
            hint = " (an https server?)" if where.scheme == "http" else ""
            return ConnectionFailed(
                f"{what}: {addr} closed the connection without an HTTP response{hint}"
            )
        if isinstance(cause, ssl.SSLError):
            reason = getattr(cause, "reason", None) or cause
            return ConnectionFailed(f"{what}: TLS to {addr} failed: {reason}")
        if isinstance(cause, (TimeoutError, urllib3.exceptions.TimeoutError)):
            return Timeout(timed_out)
        if isinstance(cause, OSError) and cause.strerror:
            return ConnectionFailed(f"{what}: cannot reach {addr} ({cause.strerror.lower()})")
        return ConnectionFailed(f"{what}: {e.__class__.__name__}: {_short(e)}")

    def end_by(self, deadline: float) -> None:
        """Cap every later request (timeouts and retry budget) at the gate's --timeout, so a
        hanging API server cannot hold the gate for a read timeout past its deadline."""
        self.deadline = deadline

    def _timeout(self, until: float | None = None) -> tuple[float, float]:
        read = self.retry.read_timeout
        ends = [d for d in (self.deadline, until) if d is not None]
        if ends:
            read = max(_MIN_TIMEOUT, min(read, min(ends) - time.monotonic()))
        return (min(self.retry.connect_timeout, read), read)

    def _count(self, verb: str) -> None:
        with self._lock:
            self.requests[verb] += 1

    def _request(
        self,
        verb: str,
        what: str,
        method: str,
        path: str,
        query: Query,
        body: Mapping[str, Any] | None = None,
        until: float | None = None,
    ) -> Obj:
        """Send one request with the retry policy (only idempotent requests are sent); return
        its JSON body. Transient errors are retried within the budget, the rest raised at once."""
        deadline = time.monotonic() + self.retry.budget
        for end in (self.deadline, until):
            if end is not None:
                deadline = min(deadline, end)
        attempt = 0
        while True:
            self._count(verb)
            try:
                return self._once(what, method, path, query, body, until)
            except Transient as e:
                pause = self.retry.delay(attempt, e.retry_after)
                attempt += 1
                if attempt >= self.retry.attempts or time.monotonic() + pause > deadline:
                    # re-raised as itself, so callers still see which failure outlasted the budget
                    e.args = (f"{e} (gave up after {attempt} attempts)",)
                    raise
                time.sleep(pause)  # backoff between real requests, not test synchronisation

    def _once(
        self,
        what: str,
        method: str,
        path: str,
        query: Query,
        body: Mapping[str, Any] | None,
        until: float | None,
    ) -> Obj:
        """One HTTP exchange through the client's ApiClient, its answer read as a JSON object."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            request = self._api.param_serialize(
                method,
                path,
                query_params=query or None,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            resp = self._api.call_api(*request, _request_timeout=self._timeout(until))
            data = resp.read()
        except ApiException as e:  # the client's own failures (TLS) carry status 0
            status = int(e.status or 0)
            raise _error_for(what, status, e.reason, e.body or b"", e.headers or {}) from e
        except urllib3.exceptions.HTTPError as e:
            raise self._wire_problem(what, e) from e
        except OSError as e:
            raise self._wire_problem(what, e) from e
        if not 200 <= resp.status <= 299:
            raise _error_for(what, resp.status, resp.reason, data, resp.headers)
        try:
            parsed = json.loads(data)
        except ValueError as e:
            raise BadResponse(f"{what}: unreadable response ({e})") from e
        if not isinstance(parsed, dict):
            raise BadResponse(f"{what}: response is not a JSON object")
        return parsed


def _shape_of(kubeconfig: Path | None) -> str:
    """Why a YAML file is not a kubeconfig, for the one-line error."""
    try:
        data = yaml.safe_load(kubeconfig.read_text(encoding="utf-8")) if kubeconfig else None
    except (OSError, ValueError, yaml.YAMLError):
        return "unreadable"
    if isinstance(data, list):
        return "a YAML list, not a mapping"
    if not isinstance(data, dict):
        return "a YAML scalar, not a mapping"
    return "clusters, users and contexts must be lists of named entries"


def _innermost(e: BaseException) -> BaseException:
    """The socket-level cause urllib3 wraps (MaxRetryError -> NewConnectionError -> OSError)."""
    seen: set[int] = set()
    while id(e) not in seen:
        seen.add(id(e))
        inner = getattr(e, "reason", None)
        if isinstance(inner, BaseException):
            e = inner
            continue
        args = getattr(e, "args", ())
        nested = [a for a in args if isinstance(a, BaseException)]
        if isinstance(e, urllib3.exceptions.ProtocolError) and nested:
            e = nested[-1]
            continue
        if e.__cause__ is not None and isinstance(e, urllib3.exceptions.HTTPError):
            e = e.__cause__
            continue
        break
    return e


def _error_for(
    what: str, status: int, reason: str | None, body: bytes | str, headers: Mapping[str, str]
) -> ApiError:
    """The typed error for an error status, with the API server's own message where it has one."""
    if status == 404:
        return NotFound(f"{what}: not found", status)
    if status in (401, 403):
        return AccessDenied(
            f"{what}: {'forbidden' if status == 403 else 'unauthorized'} (HTTP {status}); "
            "the verifier needs the read-only role in verifier/rbac.yaml",
            status,
        )
    if status in (0, 429) or status >= 500:
        return from_status(
            status, f"{what}: HTTP {status} {reason or ''}".strip(), _retry_after(headers)
        )
    return from_status(status, f"{what}: HTTP {status} {_status_message(body, reason)}")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _status_message(body: bytes | str, reason: str | None) -> str:
    """The `message` of the Status object the API server sends with an error, else the reason."""
    try:
        status = json.loads(body or b"{}")
    except (ValueError, TypeError):
        status = {}
    message = status.get("message") if isinstance(status, dict) else None
    return str(message or reason or "")


def _short(e: BaseException) -> str:
    reason = getattr(e, "reason", None)
    return str(reason or e).split("\n")[0][:200]


def _handshake_reason(e: ApiException) -> str:
    """Why the exec handshake was refused: the client packs the handshake's HTTP status and
    headers into one reason string, separated by ` -+-+- `; the first part is the status line."""
    reason = str(e.reason or e).split(" -+-+- ")[0]
    return f"exec refused ({reason})"
