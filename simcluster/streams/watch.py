"""``GET ...?watch=true``: a stream of change events from a resourceVersion, with bookmarks.

What a real apiserver does and kubectl and the ``kubernetes`` client rely on: without a
resourceVersion (or ``sendInitialEvents``) the watch starts with ADDED for every current object;
from a resourceVersion it replays what followed it, or sends one ERROR 410 Expired event when
the event window no longer reaches back that far. A MODIFIED event that moves an object into or
out of the selector is sent as ADDED or DELETED. Bookmarks carry the current resourceVersion;
``kubectl get -w`` watches server-side Tables instead of objects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from simcluster import tables
from simcluster.apierrors import StoreError
from simcluster.apiobject import Obj
from simcluster.history import WatchEvent
from simcluster.kinds import Kind
from simcluster.store import Store
from simcluster.wire import Target, dumps, table_version

__all__ = ["serve_watch"]

Event = tuple[str, Obj]  # (type, object) as sent


@dataclass(frozen=True)
class WatchQuery:
    """The query parameters of a watch request, checked."""

    label: str
    fields: str
    timeout: float
    bookmarks: bool
    initial_events: bool
    resource_version: str
    include_object: str
    table: str | None  # the Table apiVersion to send rows as, or None for objects

    @classmethod
    def of(cls, request: web.Request) -> WatchQuery:
        q = request.query
        try:
            timeout = float(q.get("timeoutSeconds") or 1800)
        except ValueError:
            raise StoreError.bad_request("timeoutSeconds must be a number") from None
        return cls(
            label=q.get("labelSelector", ""),
            fields=q.get("fieldSelector", ""),
            timeout=timeout,
            bookmarks=q.get("allowWatchBookmarks") in ("true", "1"),
            initial_events=q.get("sendInitialEvents") == "true",
            resource_version=q.get("resourceVersion", ""),
            include_object=q.get("includeObject", "Metadata"),
            table=table_version(request),
        )


@dataclass(frozen=True)
class Selection:
    """Which store events a watch sees, and as what type (selector moves become ADDED/DELETED)."""

    kind: Kind
    namespace: str | None
    matches: Callable[[Obj], bool]

    def __call__(self, ev: WatchEvent) -> Event | None:
        if ev.kind != self.kind.name:
            return None
        if self.namespace is not None and ev.obj["metadata"].get("namespace") != self.namespace:
            return None
        if ev.type in ("ADDED", "DELETED"):
            return (ev.type, ev.obj) if self.matches(ev.obj) else None
        now_ok, was_ok = self.matches(ev.obj), ev.old is not None and self.matches(ev.old)
        if now_ok and was_ok:
            return ("MODIFIED", ev.obj)
        if now_ok:
            return ("ADDED", ev.obj)
        if was_ok:
            return ("DELETED", ev.obj)
        return None


def _backlog(store: Store, query: WatchQuery, selection: Selection) -> list[Event] | StoreError:
    """The events to send before live ones: the current objects, or those since the RV (or 410)."""
    kind = selection.kind
    if query.resource_version in ("", "0") or query.initial_events:
        items, _ = store.list(
            kind.name, selection.namespace, query.label, query.fields, shared=True
        )
        return [("ADDED", o) for o in items]
    try:
        since = int(query.resource_version)
    except ValueError:
        raise StoreError.bad_request(
            f'resourceVersion: Invalid value: "{query.resource_version}": must be an integer'
        ) from None
    try:
        return [e for e in map(selection, store.events_since(since)) if e is not None]
    except StoreError as err:
        return err


class _Writer:
    """Writes watch events on one response, as objects or as Table rows."""

    def __init__(self, response: web.StreamResponse, store: Store, kind: Kind, query: WatchQuery):
        self.response, self.store, self.kind, self.query = response, store, kind, query

    async def event(self, event_type: str, obj: Obj) -> None:
        if self.query.table is None:
            await self.raw(event_type, obj)
            return
        row = tables.table(
            self.kind,
            [obj],
            resource_version=obj["metadata"].get("resourceVersion", ""),
            include_object=self.query.include_object,
            api_version=self.query.table,
        )
        await self.response.write(dumps({"type": event_type, "object": row}) + b"\n")

    async def raw(self, event_type: str, obj: Obj) -> None:
        """One event line; stored objects reuse their cached JSON."""
        line = (
            b'{"type":"' + event_type.encode() + b'","object":' + self.store.json_of(obj) + b"}\n"
        )
        await self.response.write(line)

    async def bookmark(self, *, initial_end: bool = False) -> None:
        meta: Obj = {"resourceVersion": self.store.resource_version}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        await self.raw(
            "BOOKMARK",
            {"kind": self.kind.kind, "apiVersion": self.kind.api_version, "metadata": meta},
        )


async def _follow(
    request: web.Request,
    writer: _Writer,
    queue: asyncio.Queue[Event],
    query: WatchQuery,
    bookmark_interval: float,
) -> None:
    """Send live events until the timeout or the client leaves, bookmarking when idle."""
    deadline = time.monotonic() + query.timeout
    last_bookmark = time.monotonic()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        wait = min(left, bookmark_interval) if query.bookmarks else min(left, 1.0)
        try:
            event_type, obj = await asyncio.wait_for(queue.get(), timeout=wait)
        except TimeoutError:
            if request.transport is None or request.transport.is_closing():
                return
            if query.bookmarks and time.monotonic() - last_bookmark >= bookmark_interval:
                await writer.bookmark()
                last_bookmark = time.monotonic()
            continue
        await writer.event(event_type, obj)


async def serve_watch(
    request: web.Request,
    target: Target,
    store: Store,
    *,
    bookmark_interval: float,
    streams: set[asyncio.Task[Any]],
) -> web.StreamResponse:
    """Answer one watch request; the task is in ``streams`` while it runs (shutdown cancels)."""
    label, fields = request.query.get("labelSelector", ""), request.query.get("fieldSelector", "")
    matches = store.matcher(target.kind.name, label, fields)  # a bad selector is the first 400
    query = WatchQuery.of(request)
    selection = Selection(target.kind, target.namespace, matches)
    backlog = _backlog(store, query, selection)
    queue: asyncio.Queue[Event] = asyncio.Queue()

    def on_event(ev: WatchEvent) -> None:
        item = selection(ev)
        if item is not None:
            queue.put_nowait(item)

    remove = store.add_listener(on_event)
    task = asyncio.current_task()
    if task is not None:
        streams.add(task)
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    writer = _Writer(response, store, target.kind, query)
    try:
        await response.prepare(request)
        if isinstance(backlog, StoreError):
            await writer.raw("ERROR", backlog.to_status())
            return response
        for event_type, obj in backlog:
            await writer.event(event_type, obj)
        if query.initial_events and query.bookmarks:
            await writer.bookmark(initial_end=True)
        await _follow(request, writer, queue, query, bookmark_interval)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        remove()
        if task is not None:
            streams.discard(task)
    try:
        await response.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass
    return response
