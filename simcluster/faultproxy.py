"""The ``api-flaky`` fault in front of a real API server: a proxy of ours that fails some requests.

On the embedded server ``api-flaky`` is a middleware of our API (``simcluster.api``). A real
kube-apiserver cannot be changed, so on ``--control-plane real`` the clients (kubectl, the
verifier) reach it through this proxy, which draws for each request from the same registry
(``Faults.flaky_action``: share, actions, paths, seeded) and answers 429 with ``Retry-After``,
500, resets the connection, or hangs and then resets, exactly as the middleware does; every
other request goes through untouched, streams and exec upgrades included. Our controllers talk
to the API server directly, as simcluster's own controllers bypass its middleware.

It lives in simcluster, not realcluster: it is a simcluster fault, driven by simcluster's
registry, and realcluster stands where a real API server would and imports nothing of ours.

The wire, and who the caller is:

- TLS ends here, with a serving certificate for 127.0.0.1 signed by the cluster CA, so a
  kubeconfig that trusts the cluster CA trusts the proxy; ALPN offers http/1.1 only.
- One request per connection: the upstream request says ``Connection: close``, so every request
  a client sends arrives on a new connection and gets its own draw. Upgrades (exec) and watches
  are piped byte for byte until either side closes.
- A bearer token (the verifier's ServiceAccount) goes upstream as it came, on a connection
  without a client certificate, so the API server authenticates and authorises the caller itself.
- A client certificate cannot be forwarded (the private key stays with the client), so the
  proxy, having verified it against the cluster CA, connects with its own admin certificate and
  sends ``Impersonate-User``/``Impersonate-Group`` from the certificate's CN and O: the API server
  then authorises the caller's own identity. The caller's own ``Impersonate-*`` headers are
  dropped in that case (they would otherwise ride on the admin's right to impersonate).
- A caller with neither goes upstream anonymous.

simcluster's control endpoints (``/simcluster/v1/faults``, ``/sync``, ``/settled``) are answered
here by the ``control`` function given, never drawn for a fault, as the embedded server answers
them beside its API: so ``serve --control-plane real`` takes the same ``curl`` commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from simcluster.faults import Faults

__all__ = ["FaultProxy"]

MAX_HEAD = 64 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer"}
REASONS = {
    200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
    429: "Too Many Requests", 500: "Internal Server Error",
}  # fmt: skip
# (method, path, body) -> (HTTP code, JSON body); called off the proxy's loop
Control = Callable[[str, str, bytes], tuple[int, dict[str, Any]]]


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Kubernetes ``Status`` failure, as the API server words one."""
    body: dict[str, Any] = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    }  # fmt: skip
    if details:
        body["details"] = details
    return body


def _response(code: int, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = [
        f"HTTP/1.1 {code} {REASONS[code]}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        "Connection: close",
    ]
    if code == 429:
        head.append("Retry-After: 1")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> bytes:
    return _response(code, status_body(code, reason, message, details))


def _identity(cert: dict[str, Any] | None) -> tuple[str, list[str]] | None:
    """(user, groups) of a verified client certificate: CN and O, as the API server reads them."""
    if not cert:
        return None
    user, groups = "", []
    for rdn in cert.get("subject") or ():
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.append(value)
    return (user, groups) if user else None


class FaultProxy:
    """A TLS proxy to ``upstream`` on its own loop thread; ``start``/``stop`` or a context."""

    def __init__(
        self,
        upstream: str,
        faults: Faults,
        *,
        ca: Path,
        serving_cert: Path,
        serving_key: Path,
        client_cert: Path,
        client_key: Path,
        hang_seconds: float = 30.0,
        control: Control | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 443
        self.faults = faults
        self.hang_seconds = hang_seconds
        self.control = control
        self.url = ""
        self.actions: list[str] = []  # what each faulted request got, for tests
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.load_cert_chain(serving_cert, serving_key)
        self._server_ctx.load_verify_locations(ca)
        self._server_ctx.verify_mode = ssl.CERT_OPTIONAL  # tokens need none; certs are checked
        self._server_ctx.set_alpn_protocols(["http/1.1"])
        self._as_admin = ssl.create_default_context(cafile=str(ca))
        self._as_admin.load_cert_chain(client_cert, client_key)
        self._as_caller = ssl.create_default_context(cafile=str(ca))
        for ctx in (self._as_admin, self._as_caller):
            ctx.set_alpn_protocols(["http/1.1"])
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="faultproxy", daemon=True
        )
        self._thread.start()
        if not ready.wait(10) or not self.url:
            raise RuntimeError("the fault proxy did not start")
        return self

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        stopping = asyncio.Event()
        self._stopping = stopping

        async def serve() -> None:
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._server_ctx)
            self.url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            ready.set()
            async with server:
                await stopping.wait()

        try:
            loop.run_until_complete(serve())
        finally:
            ready.set()
            # a connection accepted while the others wind down starts a task of its own
            for _round in range(5):
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                if not pending:
                    break
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one connection, one request -----------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve_one(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except BaseException:  # cancelled or closed at stop: no await may follow
            writer.transport.abort()
            raise
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            return
        request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        path = request_line.split(" ")[1] if request_line.count(" ") >= 2 else "/"
        headers = [tuple(line.split(":", 1)) for line in lines if ":" in line]
        if path.startswith("/simcluster/"):
            await self._control(request_line.split(" ")[0], path, headers, reader, writer)
            return
        if await self._fault(path, writer):
            return
        names = {name.strip().lower() for name, _ in headers}
        upgrade = "upgrade" in names
        caller = _identity(writer.get_extra_info("peercert"))
        out = [request_line]
        for name, value in headers:
            low = name.strip().lower()
            if low in HOP_BY_HOP and not (upgrade and low == "connection"):
                continue
            if caller is not None and low.startswith("impersonate-"):
                continue
            out.append(f"{name.strip()}:{value}")
        if not upgrade:
            out.append("Connection: close")
        if caller is not None:
            user, groups = caller
            out.append(f"Impersonate-User: {user}")
            out.extend(f"Impersonate-Group: {group}" for group in groups)
        ctx = self._as_admin if caller is not None else self._as_caller
        up_reader, up_writer = await asyncio.open_connection(
            self.host, self.port, ssl=ctx, server_hostname=self.host
        )
        try:
            up_writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
            await up_writer.drain()
            upstream = asyncio.ensure_future(self._pipe(up_reader, writer))
            downstream = asyncio.ensure_future(self._pipe(reader, up_writer))
            # the response decides: once the API server is done (or the client went away and
            # writing to it failed), the connection is over
            await upstream
            downstream.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await downstream
        except BaseException:  # failed, cancelled or closed at stop: no await may follow
            up_writer.transport.abort()
            raise
        up_writer.close()
        with contextlib.suppress(Exception):
            await up_writer.wait_closed()

    async def _control(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, ...]],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        length = next((int(v) for k, v in headers if k.strip().lower() == "content-length"), 0)
        body = await reader.readexactly(length) if length else b""
        if self.control is None:
            code, answer = 404, status_body(404, "NotFound", "the server could not find it")
        else:
            code, answer = await asyncio.to_thread(self.control, method, path, body)
        writer.write(_response(code, answer))
        await writer.drain()

    async def _fault(self, path: str, writer: asyncio.StreamWriter) -> bool:
        """The middleware's draw, for this request; True if it was answered (or dropped)."""
        faults = self.faults
        if faults.flaky_paths and not any(p in path for p in faults.flaky_paths):
            return False
        action = faults.flaky_action()
        if action is None:
            return False
        self.actions.append(action)
        if action == "429":
            writer.write(
                _status(
                    429, "TooManyRequests",
                    "the server has received too many requests and has asked us to try again later",
                    {"retryAfterSeconds": 1},
                )
            )  # fmt: skip
            await writer.drain()
            return True
        if action == "500":
            writer.write(
                _status(500, "InternalError", "Internal error occurred: simcluster api-flaky fault")
            )
            await writer.drain()
            return True
        if action == "hang":
            stopping = self._stopping
            with contextlib.suppress(asyncio.TimeoutError):
                if stopping is not None:
                    await asyncio.wait_for(stopping.wait(), self.hang_seconds)
        writer.transport.abort()  # reset (after a hang: the client has long given up)
        return True

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while chunk := await src.read(65536):
                dst.write(chunk)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            return
