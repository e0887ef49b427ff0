"""A tiny scripted API server (aiohttp on 127.0.0.1, port 0) for the wire tests of verifier.cluster.

It is not a fake of the kubernetes client: the real client talks real HTTP and websockets to it.
It answers only what those tests need (paged pod lists, one get, access reviews, exec) and lets a
test script faults per request: status codes with Retry-After, 410 on a continue token, hangs.
simcluster (tests/verifier/test_sim_*.py) covers the same code against the full simulated cluster.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class Script:
    pods: int = 7
    faults: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # per list request
    expire_continue_once: bool = False
    hang_seconds: float = 0.0
    denied: set[str] = field(default_factory=set)  # "verb resource[/sub]" the SSAR refuses
    log: list[str] = field(default_factory=list)


def _pod(i: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"p{i:03d}", "namespace": "demo-a"},
        "spec": {"containers": [{"name": "c"}]},
    }


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }
    return web.json_response(body, status=code)


def build(script: Script) -> web.Application:
    async def list_pods(request: web.Request) -> web.StreamResponse:
        script.log.append(f"GET {request.path_qs}")
        if script.hang_seconds:
            await asyncio.sleep(script.hang_seconds)
        if script.faults:
            code, headers = script.faults.pop(0)
            return web.json_response({"kind": "Status", "code": code}, status=code, headers=headers)
        limit = int(request.query.get("limit", "0") or 0) or script.pods
        token = request.query.get("continue", "")
        if token and script.expire_continue_once:
            script.expire_continue_once = False
            return _status(410, "Expired", "The provided continue parameter is too old")
        start = int(token or 0)
        items = [_pod(i) for i in range(start, min(start + limit, script.pods))]
        nxt = str(start + limit) if start + limit < script.pods else ""
        return web.json_response(
            {
                "kind": "PodList",
                "apiVersion": "v1",
                "metadata": {"continue": nxt, "resourceVersion": "9"},
                "items": items,
            }
        )

    async def get_service(request: web.Request) -> web.Response:
        script.log.append(f"GET {request.path}")
        name = request.match_info["name"]
        if name == "forbidden":
            return _status(403, "Forbidden", 'services "forbidden" is forbidden')
        if name == "conflict":
            return _status(409, "Conflict", "the object has been modified")
        if name == "gone":
            return _status(410, "Gone", "too old resource version")
        return _status(404, "NotFound", f'services "{name}" not found')

    async def review(request: web.Request) -> web.Response:
        body = await request.json()
        attrs = body["spec"]["resourceAttributes"]
        key = f"{attrs['verb']} {attrs['resource']}" + (
            f"/{attrs['subresource']}" if attrs.get("subresource") else ""
        )
        script.log.append(f"SSAR {key}")
        body["status"] = {"allowed": key not in script.denied}
        return web.json_response(body, status=201)

    async def exec_(request: web.Request) -> web.StreamResponse:
        pod = request.match_info["pod"]
        script.log.append(f"EXEC {pod} {request.query.getall('command')}")
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"))
        await ws.prepare(request)
        await ws.send_bytes(b"\x01")
        if pod == "hang":
            async for msg in ws:
                if msg.type == WSMsgType.CLOSE:
                    break
            return ws
        await ws.send_bytes(b"\x01" + b"body\n200")
        await ws.send_bytes(b"\x02" + b"warning on stderr")
        if pod == "exit7":
            status = {
                "status": "Failure",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": "7"}]},
            }
            await ws.send_bytes(b"\x03" + json.dumps(status).encode())
        elif pod != "nostatus":
            await ws.send_bytes(
                b"\x03" + json.dumps({"metadata": {}, "status": "Success"}).encode()
            )
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/api/v1/pods", list_pods)
    app.router.add_get("/api/v1/namespaces/{ns}/services/{name}", get_service)
    app.router.add_post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    app.router.add_get("/api/v1/namespaces/{ns}/pods/{pod}/exec", exec_)
    return app


@contextmanager
def serve(script: Script) -> Iterator[str]:
    """Run the server in a thread with its own loop; yield its base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(build(script))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]
        ready.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True
    )
    thread.start()
    assert ready.wait(10), "scripted API server did not start"
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
