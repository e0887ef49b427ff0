"""The store's change history: what watches, continue pages and subscribers read.

Every change gets the next resourceVersion and becomes a ``WatchEvent``. The newest events are
kept in a bounded window, as etcd keeps revisions until compaction: a watch from a
resourceVersion replays what followed it, a continue page reads the list as it was (``rewind``),
and anything older than the window answers 410 Expired. Listeners get each raw event (stored
objects, for the API's watches, which only serialise); subscribers (the controllers) get one
copy per event, shared among them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from simcluster.apierrors import StoreError
from simcluster.apiobject import Obj, deep_copy

__all__ = ["History", "Listener", "Subscriber", "WatchEvent", "rewind"]

Subscriber = Callable[[str, Obj, "Obj | None"], None]


@dataclass(frozen=True)
class WatchEvent:
    """One change: ``obj`` is the stored object after it (for DELETED: its last state)."""

    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    kind: str
    obj: Obj
    old: Obj | None


Listener = Callable[[WatchEvent], None]


class History:
    """The bounded event window plus the callbacks that hear every change."""

    def __init__(self, window: int) -> None:
        self._window = window
        self._events: list[WatchEvent] = []
        self._compacted_rv = 0  # watches/continues from an RV below this are 410 Expired
        self._subscribers: list[Subscriber] = []
        self._listeners: list[Listener] = []

    def record(self, event: WatchEvent) -> None:
        """Keep ``event`` (trimming the window to its size when it doubled) and announce it."""
        self._events.append(event)
        if len(self._events) > 2 * self._window:
            dropped = len(self._events) - self._window
            self._compacted_rv = self._events[dropped - 1].rv
            del self._events[:dropped]
        for listener in list(self._listeners):
            listener(event)
        if self._subscribers:
            obj = deep_copy(event.obj)
            for fn in list(self._subscribers):
                fn(event.type, obj, event.old)

    def since(self, rv: int, current_rv: int) -> list[WatchEvent]:
        """Events newer than ``rv`` (oldest first); 410 Expired when the window lost some."""
        self.check_fresh(rv, current_rv)
        start = bisect.bisect_right(self._events, rv, key=lambda e: e.rv)
        return self._events[start:]

    def check_fresh(self, rv: int, current_rv: int) -> None:
        """410 Expired if ``rv`` is older than the event window."""
        if rv < self._compacted_rv:
            raise StoreError.expired(f"too old resource version: {rv} ({current_rv})")

    def compact(self, current_rv: int) -> None:
        """Forget every event so far, as etcd compaction does; older RVs then answer 410."""
        self._events.clear()
        self._compacted_rv = current_rv

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

        return unsubscribe

    def add_listener(self, fn: Listener) -> Callable[[], None]:
        self._listeners.append(fn)

        def remove() -> None:
            if fn in self._listeners:
                self._listeners.remove(fn)

        return remove

    @property
    def listener_count(self) -> int:
        return len(self._listeners)


def _key(obj: Obj) -> tuple[str, str]:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def rewind(
    current: Iterable[Obj], changed: list[WatchEvent], after: tuple[str, str] | None
) -> Iterator[Obj]:
    """The objects as they were before ``changed`` (the events since then, oldest first).

    ``current`` is today's list past ``after`` (a continue key); undoing the changes newest
    first gives the list of that moment in key order, like an etcd read at an old revision.
    """
    state = {_key(o): o for o in current}
    for event in reversed(changed):
        k = _key(event.obj)
        if after is not None and k <= after:
            continue
        if event.type == "ADDED":
            state.pop(k, None)
        elif event.old is not None:
            state[k] = event.old
    return iter([state[k] for k in sorted(state)])
