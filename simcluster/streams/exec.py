"""``pods/exec`` over WebSockets: run a command in a container and stream what it printed.

The checks come first and answer as the apiserver and kubelet do (403 without ``create`` and
``get`` on pods/exec, 404, 400 for a missing or unknown container, a completed pod, a container
that is not running, no command, no Upgrade header). Then the channel protocol kubectl speaks
(v5/v4; SPDY is not served): frames prefixed 1 stdout, 2 stderr, 3 the final Status. The
command itself is answered by an ``ExecHandler`` (the simulated mesh, or a test's script).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from multidict import MultiMapping

from simcluster.apierrors import StoreError
from simcluster.apiobject import Obj
from simcluster.store import Store
from simcluster.wire import Target, dumps, forbidden, method_not_allowed

__all__ = [
    "EXEC_PROTOCOLS",
    "ExecHandler",
    "ExecOutcome",
    "MissingBinary",
    "exec_status",
    "missing_binary",
    "serve_exec",
]

EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")


class ExecOutcome(Protocol):
    """What a command run in a container produced (simcluster.mesh.ExecResult fits)."""

    @property
    def stdout(self) -> bytes: ...
    @property
    def stderr(self) -> bytes: ...
    @property
    def exit_code(self) -> int: ...
    @property
    def error(self) -> str | None: ...


ExecHandler = Callable[[Obj, str, list[str]], ExecOutcome]


@dataclass(frozen=True)
class MissingBinary:
    """The container runtime's answer when argv[0] does not exist (the default exec handler)."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 127
    error: str | None = None


def missing_binary(pod: Obj, container: str, argv: list[str]) -> ExecOutcome:
    """Default exec hook until a mesh is plugged in: every command is a missing binary."""
    return MissingBinary(
        error=(
            f'failed to exec in container: failed to start exec "{pod["metadata"].get("uid", "")}": '
            "OCI runtime exec failed: exec failed: unable to start container process: exec: "
            f'"{argv[0] if argv else ""}": executable file not found in $PATH: unknown'
        )
    )


def _container(pod: Obj, pod_name: str, requested: str) -> str:
    """The container to run in: the one asked for, or the only one; 400 when it cannot run."""
    containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    container = requested
    if not container:
        if len(containers) != 1:
            raise StoreError.bad_request(
                f"a container name must be specified for pod {pod_name}, choose one of: "
                f"[{' '.join(containers)}]"
            )
        container = containers[0]
    if container not in containers:
        raise StoreError.bad_request(f"container {container} is not valid for pod {pod_name}")
    phase = (pod.get("status") or {}).get("phase", "Pending")
    if phase in ("Succeeded", "Failed"):
        raise StoreError.bad_request(
            f"cannot exec into a container in a completed pod; current phase is {phase}"
        )
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    running = any(
        s.get("name") == container and "running" in (s.get("state") or {}) for s in statuses
    )
    if not running:
        raise StoreError.bad_request(
            f'unable to upgrade connection: container not found ("{container}")'
        )
    return container


def _flag(query: MultiMapping[str], name: str) -> bool:
    return query.get(name) in ("true", "1")


async def serve_exec(
    request: web.Request,
    target: Target,
    store: Store,
    *,
    handler: ExecHandler,
    start_delay: float,
) -> web.StreamResponse:
    """Check the request, upgrade to a WebSocket, run the command and send its output."""
    q = request.query
    assert target.name is not None
    if request.method not in ("GET", "POST"):
        raise method_not_allowed()
    rbac = store.rbac
    if not rbac.allowed("create", "pods/exec", target.namespace) or not rbac.allowed(
        "get", "pods/exec", target.namespace
    ):
        raise forbidden(rbac.user, "create", target)
    pod = store.get("Pod", target.namespace, target.name)
    if pod is None:
        raise StoreError.not_found(target.kind, target.name)
    container = _container(pod, target.name, q.get("container", ""))
    argv = q.getall("command", [])
    if not argv:
        raise StoreError.bad_request("you must specify at least 1 command")
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise StoreError.bad_request("Upgrade request required")
    want_stdout, want_stderr, tty = _flag(q, "stdout"), _flag(q, "stderr"), _flag(q, "tty")
    ws = web.WebSocketResponse(protocols=EXEC_PROTOCOLS, autoping=True)
    await ws.prepare(request)
    if want_stdout or want_stderr:
        await ws.send_bytes(b"\x01" if want_stdout else b"\x02")
    # A real exec starts a process before any output exists; see ApiState.exec_start_delay.
    await asyncio.sleep(start_delay)
    result = handler(pod, container, list(argv))
    if result.error is None:
        if want_stdout and result.stdout:
            await ws.send_bytes(b"\x01" + result.stdout)
        if result.stderr:
            if tty and want_stdout:
                await ws.send_bytes(b"\x01" + result.stderr)
            elif want_stderr:
                await ws.send_bytes(b"\x02" + result.stderr)
    await ws.send_bytes(b"\x03" + dumps(exec_status(result)))
    await ws.close(code=1000)
    return ws


def exec_status(result: ExecOutcome) -> Obj:
    """The Status sent on channel 3: Success, NonZeroExitCode, or InternalError (no start)."""
    if result.error is not None:
        return {
            "metadata": {},
            "status": "Failure",
            "message": f"Internal error occurred: error executing command in container: {result.error}",
            "reason": "InternalError",
            "details": {"causes": [{"message": result.error}]},
            "code": 500,
        }
    if result.exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"[{result.exit_code}], exit code {result.exit_code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(result.exit_code)}]},
    }
