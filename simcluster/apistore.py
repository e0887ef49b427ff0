"""The subset of ``simcluster.store.Store`` the Istio behaviours use, backed by a real API server.

simcluster's Banzai operator, gateways and GitOps sync are written against the in-process store
(``get``/``list``/``create``/``update``/``delete``/``subscribe``). ``ApiStore`` offers those calls
over the Kubernetes REST API, so the same code runs as controllers of a real control plane
(``simcluster serve --control-plane real``, ``simcluster.realserver``):

- reads are live requests (GET, LIST), never a cache: what a controller reads is what the API
  server holds now, so a controller never acts on a stale copy of its own last write;
- writes are real requests (POST, PUT, PUT ``/status`` for ``status_only``, DELETE with a
  ``propagationPolicy``); the API server's defaulting, admission webhooks, validation and
  garbage collector decide, and its ``Status`` errors come back as ``StoreError`` with the same
  code, reason and message;
- ``subscribe`` is fed by one watch per kind (``watch_kinds``), each in a thread, with the
  previous version of the object as ``old`` (kept per watch); events are handed to subscribers
  on the asyncio loop given to ``start``, as the in-process store hands them out on its loop;
- ``rewrite`` lets the caller change an object on its way to the server (the injector webhook
  configuration, which must point at our HTTPS webhook instead of an istiod Service), and
  ``view`` undo it on the way back, so the controllers read what they wrote.

Not offered: ``add_mutator`` (admission is the API server's: a real webhook), ``page``,
``compact``, ``rbac`` (the API server's RBAC), dry runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import urllib3

from simcluster.apierrors import StoreError
from simcluster.history import Subscriber
from simcluster.kinds import Kind, kind_by_name

__all__ = ["ApiStore"]

Obj = dict[str, Any]
Rewrite = Callable[[Obj], Obj]
log = logging.getLogger("simcluster.apistore")

REQUEST_TIMEOUT = 30.0
WATCH_SECONDS = 60  # a watch is re-opened after this (server-side timeoutSeconds)


class ApiStore:
    """The store calls the controllers make, as requests to a real API server."""

    def __init__(
        self,
        url: str,
        ca: Path,
        client_cert: Path,
        client_key: Path,
        *,
        rewrite: Rewrite | None = None,
        view: Rewrite | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.load_cert_chain(str(client_cert), str(client_key))
        self._http = urllib3.PoolManager(num_pools=4, maxsize=16, ssl_context=ctx)
        self.rewrite = rewrite
        self.view = view
        self._subscribers: list[Subscriber] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self.requests = 0  # how many requests were sent (for tests and the bench)

    # -- the wire --------------------------------------------------------------------------------

    @staticmethod
    def _path(kind: Kind, namespace: str | None, name: str = "", sub: str = "") -> str:
        prefix = "/api/v1" if not kind.group else f"/apis/{kind.group}/{kind.version}"
        where = f"/namespaces/{namespace}" if kind.namespaced and namespace else ""
        path = f"{prefix}{where}/{kind.plural}"
        if name:
            path += f"/{name}"
        if sub:
            path += f"/{sub}"
        return path

    def _call(
        self, method: str, path: str, body: Obj | None = None, query: dict[str, str] | None = None
    ) -> Obj:
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        self.requests += 1
        try:
            resp = self._http.request(
                method, url, body=data, headers=headers, timeout=REQUEST_TIMEOUT, retries=False
            )
        except urllib3.exceptions.HTTPError as err:
            raise StoreError(503, "ServiceUnavailable", f"{method} {path}: {err}") from err
        try:
            decoded: Obj = json.loads(resp.data or b"{}")
        except ValueError:
            decoded = {"message": resp.data.decode(errors="replace")}
        if resp.status >= 400:
            raise StoreError(
                resp.status,
                str(decoded.get("reason") or "InternalError"),
                str(decoded.get("message") or f"{method} {path}: HTTP {resp.status}"),
                decoded.get("details"),
            )
        return decoded

    def raw(self, method: str, path: str, body: Obj | None = None) -> Obj:
        """A request for a kind simcluster does not know (kwok's ``Exec``); StoreError on failure."""
        return self._call(method, path, body)

    def _stamp(self, kind: Kind, obj: Obj) -> Obj:
        """List items come without apiVersion/kind on a real server; the controllers read them.
        Then ``view`` undoes what ``rewrite`` did, so readers see what the writer wrote."""
        obj["apiVersion"] = kind.api_version
        obj["kind"] = kind.kind
        return self.view(obj) if self.view is not None else obj

    # -- the Store calls -------------------------------------------------------------------------

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        k = kind_by_name(kind)
        try:
            return self._stamp(k, self._call("GET", self._path(k, namespace, name)))
        except StoreError as err:
            if err.code == 404:
                return None
            raise

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        *,
        shared: bool = False,
    ) -> tuple[list[Obj], str]:
        """All matching objects (``shared`` is accepted and meaningless: they are fresh copies)."""
        k = kind_by_name(kind)
        query = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        try:
            body = self._call("GET", self._path(k, namespace), query=query)
        except StoreError as err:
            if err.code == 404:  # a kind this server does not serve (no CRD): there are none
                return [], ""
            raise
        items = [self._stamp(k, item) for item in body.get("items") or []]
        return items, str((body.get("metadata") or {}).get("resourceVersion") or "")

    def create(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        if dry_run:
            raise StoreError.bad_request("ApiStore does not dry-run")
        k = kind_by_name(str(obj.get("kind", "")))
        obj = self._outgoing(k, obj)
        namespace = (obj.get("metadata") or {}).get("namespace")
        return self._stamp(k, self._call("POST", self._path(k, namespace), obj))

    def update(self, obj: Obj, *, status_only: bool = False, dry_run: bool = False) -> Obj:
        if dry_run:
            raise StoreError.bad_request("ApiStore does not dry-run")
        k = kind_by_name(str(obj.get("kind", "")))
        obj = self._outgoing(k, obj)
        meta = obj["metadata"]
        path = self._path(k, meta.get("namespace"), meta["name"])
        if status_only:
            try:
                return self._stamp(k, self._call("PUT", path + "/status", obj))
            except StoreError as err:
                # no status subresource (Argo CD's Application CRD has none): status is part of
                # the object, written by a main update, as Argo CD itself writes it
                if err.code != 404 or self.get(k.kind, meta.get("namespace"), meta["name"]) is None:
                    raise
        return self._stamp(k, self._call("PUT", path, obj))

    def delete(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        if dry_run:
            raise StoreError.bad_request("ApiStore does not dry-run")
        k = kind_by_name(kind)
        options: Obj = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": propagation,
        }
        preconditions = {
            key: value
            for key, value in (("uid", uid), ("resourceVersion", resource_version))
            if value is not None
        }
        if preconditions:
            options["preconditions"] = preconditions
        return self._call("DELETE", self._path(k, namespace, name), options)

    def _outgoing(self, kind: Kind, obj: Obj) -> Obj:
        obj = dict(obj)
        obj["apiVersion"] = kind.api_version
        obj["kind"] = kind.kind
        if self.rewrite is not None:
            obj = self.rewrite(obj)
        return obj

    # -- watching --------------------------------------------------------------------------------

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(type, obj, old)`` on the loop for every watched change; returns unsubscribe."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def start(self, loop: asyncio.AbstractEventLoop, watch_kinds: Iterable[str]) -> None:
        """Open one watch per kind; each delivers its events to the subscribers on ``loop``.

        Returns once every watch has listed its kind (so a later event is a change)."""
        self._loop = loop
        listed: list[threading.Event] = []
        for kind in watch_kinds:
            ready = threading.Event()
            listed.append(ready)
            thread = threading.Thread(
                target=self._watch, args=(kind_by_name(kind), ready), daemon=True,
                name=f"apistore-watch-{kind}",
            )  # fmt: skip
            thread.start()
            self._threads.append(thread)
        for ready in listed:
            ready.wait(REQUEST_TIMEOUT)

    def stop(self) -> None:
        """Stop delivering; the watch threads end with their current request."""
        self._stopped.set()
        self._subscribers.clear()

    def _deliver(self, event: str, obj: Obj, old: Obj | None) -> None:
        for fn in list(self._subscribers):
            try:
                fn(event, obj, old)
            except Exception:  # a subscriber bug must not stop the others
                log.exception("apistore: subscriber failed on %s %s", event, obj.get("kind"))

    def _post(self, event: str, obj: Obj, old: Obj | None) -> None:
        if self._loop is not None and not self._stopped.is_set():
            try:
                self._loop.call_soon_threadsafe(self._deliver, event, obj, old)
            except RuntimeError:  # the loop closed under us
                self._stopped.set()

    def _watch(self, kind: Kind, ready: threading.Event) -> None:
        """List, then watch from the list's resourceVersion; relist on 410 or a broken stream."""
        seen: dict[tuple[str, str], Obj] = {}

        def key(obj: Obj) -> tuple[str, str]:
            meta = obj.get("metadata") or {}
            return str(meta.get("namespace", "")), str(meta.get("name", ""))

        rv = ""
        while not self._stopped.is_set():
            if not rv:
                try:
                    items, rv = self.list(kind.kind)
                except StoreError as err:
                    log.warning("apistore: cannot list %s: %s", kind.plural, err)
                    self._stopped.wait(1.0)
                    continue
                fresh = {key(o): o for o in items}
                for k, obj in fresh.items():
                    old = seen.get(k)
                    if old is None or old["metadata"].get("resourceVersion") != obj["metadata"].get(
                        "resourceVersion"
                    ):
                        self._post("ADDED" if old is None else "MODIFIED", obj, old)
                for k in set(seen) - set(fresh):
                    self._post("DELETED", seen[k], seen[k])
                seen = fresh
                ready.set()
            rv = self._stream(kind, rv, seen, key)

    def _stream(
        self,
        kind: Kind,
        rv: str,
        seen: dict[tuple[str, str], Obj],
        key: Callable[[Obj], tuple[str, str]],
    ) -> str:
        """One watch request; returns the resourceVersion to resume from ("" to relist)."""
        query = {
            "watch": "1",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        url = self.url + self._path(kind, None) + "?" + urllib.parse.urlencode(query)
        try:
            resp = self._http.request(
                "GET", url, preload_content=False, retries=False,
                timeout=urllib3.Timeout(connect=REQUEST_TIMEOUT, read=WATCH_SECONDS + 30),
                headers={"Accept": "application/json"},
            )  # fmt: skip
        except urllib3.exceptions.HTTPError:
            self._stopped.wait(0.5)
            return rv
        try:
            if resp.status != 200:
                return ""
            buffer = b""
            for chunk in resp.stream(65536):
                if self._stopped.is_set():
                    return rv
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    kind_of_event = event.get("type")
                    if kind_of_event == "ERROR":
                        return ""  # 410 Gone (or worse): list again
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                    if kind_of_event == "BOOKMARK":
                        continue
                    self._stamp(kind, obj)
                    old = seen.get(key(obj))
                    if kind_of_event == "DELETED":
                        seen.pop(key(obj), None)
                    else:
                        seen[key(obj)] = obj
                    self._post(str(kind_of_event), obj, old)
        except (urllib3.exceptions.HTTPError, ValueError, OSError):
            return rv
        finally:
            resp.release_conn()
        return rv
