"""The one boundary around the official `kubernetes` client (aesthetics.md lessons 8 and 10).

Everything that talks to the API server goes through :class:`Cluster`, and every third-party
exception is translated here, so the rest of the verifier sees only our errors:

* :class:`NotFound` for a 404 (a fact about the cluster, which checks may expect);
* :class:`core.errors.ClusterUnreachable` (exit 3) when the cluster could not be asked:
  connection refused, RBAC denied, timeouts, or transient errors that outlasted the retry budget.

Fail-closed rules kept here (verifier.md §1, §5): every request carries a timeout; transient
failures (429 honouring Retry-After, 5xx, connection resets, read timeouts) are retried with capped
exponential backoff inside a bounded budget, never writes; a 410 during a paged list restarts the
list from page one, so a list is whole or an error, never partial; responses are read as raw JSON
(no pydantic models: a 20,000-pod list must be cheap, and a schema quirk must not crash us).
Exec uses `kubernetes.stream` with `_preload_content=False` and reads stdout, stderr and the
channel-3 status separately; a missing status or a connection still open at the deadline is an
error, never an empty success.
"""

from __future__ import annotations

import functools
import http.client
import json
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import urllib3
import websocket
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.stream import stream

from core.errors import CanaryError, ClusterUnreachable, UsageError

__all__ = [
    "APPLICATIONS",
    "DEPLOYMENTS",
    "HELMRELEASES",
    "ISTIOS",
    "KUSTOMIZATIONS",
    "MESHGATEWAYS",
    "NAMESPACES",
    "PODS",
    "SERVICES",
    "AccessDenied",
    "Cluster",
    "ExecResult",
    "NotFound",
    "Resource",
    "RetryPolicy",
]

Obj = dict[str, Any]
Objs = list[Obj]
Argv = list[str]


class NotFound(CanaryError):
    """The object does not exist (HTTP 404); if nothing handles it, we could not verify."""

    exit_code: ClassVar[int] = 3


class AccessDenied(ClusterUnreachable):
    """RBAC said no (401/403): waiting will not help, so the runner stops at once."""


class _Expired(Exception):
    """A continue token expired (HTTP 410) in the middle of a paged list."""


class _Transient(Exception):
    """A failure worth retrying; `after` is the server's Retry-After in seconds, if any."""

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


@dataclass(frozen=True)
class Resource:
    """A kind of object, addressed the way the API server addresses it."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def label(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


PODS = Resource("", "v1", "pods")
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False)
SERVICES = Resource("", "v1", "services")
DEPLOYMENTS = Resource("apps", "v1", "deployments")
ISTIOS = Resource("istio.banzaicloud.io", "v1beta1", "istios")
MESHGATEWAYS = Resource("istio.banzaicloud.io", "v1beta1", "meshgateways")
APPLICATIONS = Resource("argoproj.io", "v1alpha1", "applications")
KUSTOMIZATIONS = Resource("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
HELMRELEASES = Resource("helm.toolkit.fluxcd.io", "v2", "helmreleases")


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


@dataclass(frozen=True)
class ExecResult:
    """What a command printed and how it ended; `exit_code` is None when it could not run."""

    stdout: str
    stderr: str
    exit_code: int | None
    status: Mapping[str, Any]

    @property
    def error(self) -> str:
        """Why the command did not run (e.g. binary missing); "" when it ran (any exit code)."""
        if self.exit_code is not None:
            return ""
        return str(self.status.get("message") or self.status.get("reason") or "no exit status")


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
        what = f"list {resource.label}" + (f" in {namespace}" if namespace else "")
        for _restart in range(3):
            items: Objs = []
            token: str | None = None
            try:
                while True:
                    page = self._call(
                        "list",
                        what,
                        functools.partial(
                            self._list_page, resource, namespace, label_selector, chunk, token
                        ),
                        pageable=True,
                    )
                    items.extend(page.get("items") or ())
                    token = (page.get("metadata") or {}).get("continue") or None
                    if not token:
                        return items
            except _Expired:
                continue
        raise ClusterUnreachable(f"{what}: the list kept expiring (410) while paging; try again")

    def get(self, resource: Resource, namespace: str, name: str) -> Obj:
        """One object; raises NotFound on 404."""
        what = f"get {resource.label} {namespace + '/' if namespace else ''}{name}"
        return self._call("get", what, lambda: self._get(resource, namespace, name))

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
        body = client.V1SelfSubjectAccessReview(
            api_version="authorization.k8s.io/v1",
            kind="SelfSubjectAccessReview",
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    verb=verb,
                    group=resource.group,
                    resource=resource.plural,
                    subresource=subresource or None,
                    namespace=namespace or None,
                )
            ),
        )
        api = client.AuthorizationV1Api(self._api)
        try:
            review = self._call(
                "create",
                f"review access to {verb} {resource.label}",
                lambda: api.create_self_subject_access_review(
                    body, _preload_content=False, _request_timeout=self._timeout(until)
                ),
                idempotent=True,  # a review has no side effect, so retrying it is safe
                until=until,
            )
        except NotFound:
            return None
        return bool((review.get("status") or {}).get("allowed"))

    # ----- exec ----------------------------------------------------------------------------

    def exec(
        self, namespace: str, pod: str, container: str, argv: Argv, timeout: float
    ) -> ExecResult:
        """Run `argv` in a container over the exec websocket; ClusterUnreachable if it cannot run.

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
            raise ClusterUnreachable(f"{what}: no answer within {limit:g}s")
        if "err" in box:
            raise box["err"]
        stdout, stderr, raw_status = box["out"]
        if not raw_status.strip():
            raise ClusterUnreachable(f"{what}: the exec stream ended without an exit status")
        try:
            status = json.loads(raw_status)
        except ValueError as e:
            raise ClusterUnreachable(f"{what}: unreadable exit status {raw_status[:80]!r}") from e
        return ExecResult(stdout, stderr, _exit_code(status), status)

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
                raise ClusterUnreachable(f"{what}: no result within {timeout:g}s")
            stdout = ws.read_stdout(timeout=0) or ""
            stderr = ws.read_stderr(timeout=0) or ""
            raw_status = ws.read_channel(3, timeout=0) or ""
        except ApiException as e:
            raise ClusterUnreachable(f"{what}: {_handshake_reason(e)}") from e
        except (websocket.WebSocketException, OSError, urllib3.exceptions.HTTPError) as e:
            raise ClusterUnreachable(
                f"{what}: connection lost ({e.__class__.__name__}: {e})"
            ) from e
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

    def _wire_problem(self, e: BaseException) -> str:
        """One plain sentence for what went wrong on the wire (no urllib3 reprs)."""
        where = urllib3.util.parse_url(self.host)
        addr = f"{where.host}:{where.port or (443 if where.scheme == 'https' else 80)}"
        cause = _innermost(e)
        if isinstance(e, urllib3.exceptions.ReadTimeoutError):
            return f"{addr}: Read timed out (no answer within {self._timeout()[1]:g}s)"
        if isinstance(e, urllib3.exceptions.ConnectTimeoutError):
            return f"{addr}: connect timed out"
        if isinstance(cause, ConnectionRefusedError):
            return f"cannot connect to {addr} (connection refused)"
        if isinstance(cause, (http.client.RemoteDisconnected, ConnectionResetError)):
            # a plain-http request to a TLS port ends either way, depending on timing
            hint = " (an https server?)" if where.scheme == "http" else ""
            return f"{addr} closed the connection without an HTTP response{hint}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS to {addr} failed: {getattr(cause, 'reason', None) or cause}"
        if isinstance(cause, (TimeoutError, urllib3.exceptions.TimeoutError)):
            return f"{addr}: Read timed out (no answer within {self._timeout()[1]:g}s)"
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot reach {addr} ({cause.strerror.lower()})"
        return f"{e.__class__.__name__}: {_short(e)}"

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

    def _list_page(
        self,
        resource: Resource,
        namespace: str | None,
        selector: str | None,
        limit: int,
        token: str | None,
    ) -> Any:
        kw: dict[str, Any] = {
            "limit": limit,
            "_continue": token,
            "label_selector": selector,
            "_preload_content": False,
            "_request_timeout": self._timeout(),
        }
        if not resource.group:
            core = client.CoreV1Api(self._api)
            if resource.plural == "namespaces":
                return core.list_namespace(**kw)
            if namespace:
                return getattr(core, f"list_namespaced_{_singular(resource)}")(namespace, **kw)
            return getattr(core, f"list_{_singular(resource)}_for_all_namespaces")(**kw)
        if resource.group == "apps":
            apps = client.AppsV1Api(self._api)
            if namespace:
                return apps.list_namespaced_deployment(namespace, **kw)
            return apps.list_deployment_for_all_namespaces(**kw)
        custom = client.CustomObjectsApi(self._api)
        g, v, p = resource.group, resource.version, resource.plural
        if namespace:
            return custom.list_namespaced_custom_object(g, v, namespace, p, **kw)
        return custom.list_cluster_custom_object(g, v, p, **kw)

    def _get(self, resource: Resource, namespace: str, name: str) -> Any:
        kw: dict[str, Any] = {"_preload_content": False, "_request_timeout": self._timeout()}
        if not resource.group:
            core = client.CoreV1Api(self._api)
            if resource.plural == "namespaces":
                return core.read_namespace(name, **kw)
            return getattr(core, f"read_namespaced_{_singular(resource)}")(name, namespace, **kw)
        if resource.group == "apps":
            return client.AppsV1Api(self._api).read_namespaced_deployment(name, namespace, **kw)
        custom = client.CustomObjectsApi(self._api)
        g, v, p = resource.group, resource.version, resource.plural
        return custom.get_namespaced_custom_object(g, v, namespace, p, name, **kw)

    def _call(
        self,
        verb: str,
        what: str,
        fn: Callable[[], Any],
        pageable: bool = False,
        idempotent: bool = True,
        until: float | None = None,
    ) -> Obj:
        """Run one request with the retry policy; return its JSON body as a dict."""
        deadline = time.monotonic() + self.retry.budget
        for end in (self.deadline, until):
            if end is not None:
                deadline = min(deadline, end)
        last = ""
        for attempt in range(self.retry.attempts):
            self._count(verb)
            try:
                return self._once(what, fn, pageable)
            except _Transient as e:
                last = str(e)
                if not idempotent:
                    break
                pause = self.retry.delay(attempt, e.after)
                if attempt + 1 >= self.retry.attempts or time.monotonic() + pause > deadline:
                    break
                time.sleep(pause)  # backoff between real requests, not test synchronisation
        raise ClusterUnreachable(f"{what}: {last} (gave up after {attempt + 1} attempts)")

    def _once(self, what: str, fn: Callable[[], Any], pageable: bool) -> Obj:
        try:
            resp = fn()
            data = resp.data
        except ApiException as e:
            status = int(e.status or 0)
            if status == 404:
                raise NotFound(f"{what}: not found") from e
            if status == 410 and pageable:
                raise _Expired() from e
            if status == 429 or status >= 500 or status == 0:
                raise _Transient(f"HTTP {status} {e.reason or ''}".strip(), _retry_after(e)) from e
            if status in (401, 403):
                raise AccessDenied(
                    f"{what}: {'forbidden' if status == 403 else 'unauthorized'} (HTTP {status}); "
                    "the verifier needs the read-only role in verifier/rbac.yaml"
                ) from e
            raise ClusterUnreachable(f"{what}: HTTP {status} {_status_message(e)}") from e
        except urllib3.exceptions.HTTPError as e:
            raise _Transient(self._wire_problem(e)) from e
        except OSError as e:
            raise _Transient(self._wire_problem(e)) from e
        try:
            body = json.loads(data)
        except ValueError as e:
            raise _Transient(f"unreadable response ({e})") from e
        if not isinstance(body, dict):
            raise _Transient("response is not a JSON object")
        return body


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


def _singular(resource: Resource) -> str:
    return {"pods": "pod", "services": "service", "namespaces": "namespace"}[resource.plural]


def _retry_after(e: ApiException) -> float | None:
    headers = e.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _status_message(e: ApiException) -> str:
    try:
        body = json.loads(e.body or "{}")
    except (ValueError, TypeError):
        body = {}
    return str(body.get("message") or e.reason or "")


def _short(e: BaseException) -> str:
    reason = getattr(e, "reason", None)
    return str(reason or e).split("\n")[0][:200]


def _handshake_reason(e: ApiException) -> str:
    """The client packs the handshake's HTTP status into the reason string (verifier.md §1.6)."""
    reason = str(e.reason or e).split(" -+-+- ")[0]
    return f"exec refused ({reason})"


def _exit_code(status: Mapping[str, Any]) -> int | None:
    """0 on Success; the ExitCode cause on NonZeroExitCode; None when the command did not run."""
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or ():
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                return None
    return None
