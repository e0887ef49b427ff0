"""The Kubernetes REST API over a Store, as an aiohttp application.

What kubectl 1.32 and the ``kubernetes`` Python client observe is the contract: discovery in
aggregated (v2, v2beta1) and legacy form, ``/version`` 1.32 (so the kubectl dispatcher runs its
built-in 1.32), an empty protobuf ``/openapi/v2`` (so ``apply`` validates without schemas), CRUD
with Status errors, server-side Tables, selectors, ``limit``/``continue`` (410 Expired), watches
from a resourceVersion with bookmarks and 410, patches by Content-Type, DELETE with
propagationPolicy and preconditions, status and scale subresources, SelfSubjectAccessReview,
protobuf request bodies of ``kubectl create ns|configmap|secret|serviceaccount`` and ``auth can-i``
(``simcluster.protobuf``), and exec over WebSockets (v5/v4 channel protocols; SPDY is not served).
Handlers run on the server's loop thread, the only thread that touches the store. Discovery
documents live in ``simcluster.discovery``; watches and exec, which hold their connection open,
in ``simcluster.streams``; the response forms all of them share in ``simcluster.wire``. The
``api-flaky`` fault is a middleware here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from aiohttp import web

from simcluster import discovery, protobuf, tables
from simcluster.apierrors import StoreError
from simcluster.faults import Faults
from simcluster.patch import APPLY_PATCH, apply_patch
from simcluster.store import Store
from simcluster.streams.exec import ExecHandler, missing_binary, serve_exec
from simcluster.streams.watch import serve_watch
from simcluster.wire import (
    Target,
    dumps,
    forbidden,
    json_response,
    method_not_allowed,
    not_found_path,
    parse_target,
    status_response,
    table_content_type,
    table_version,
    verb_of,
)

Obj = dict[str, Any]
log = logging.getLogger("simcluster.api")

# Kinds whose DELETE answers the deleted object; the others answer a Status (as the registries do).
RETURNS_DELETED_OBJECT = {"Pod", "Service", "Namespace"}


@dataclass
class ApiState:
    """Everything the handlers share; one per server."""

    store: Store
    faults: Faults | None = None
    exec_handler: ExecHandler = missing_binary
    sync: Callable[[], Awaitable[str | None]] | None = None
    # answers whether controllers are idle and the store quiet (`simcluster serve`'s settle probe)
    settled: Callable[[], bool] = lambda: True
    bookmark_interval: float = 1.0
    # A real exec starts a process in the container before any output exists (tens of ms).
    # kubectl's websocket client registers its streams only after the upgrade, and discards
    # frames for streams it has not registered yet ("Unknown stream id 1, discarding
    # message"), so answering in the same instant loses output now and then.
    exec_start_delay: float = 0.05
    hang_seconds: float = 30.0
    requests: collections.deque[tuple[str, str, str]] = field(
        default_factory=lambda: collections.deque(maxlen=2000)
    )
    streams: set[asyncio.Task[Any]] = field(default_factory=set)
    # (path, seconds spent in the handler) of finished non-streaming requests, for benchmarks
    timings: collections.deque[tuple[str, float]] = field(
        default_factory=lambda: collections.deque(maxlen=2000)
    )


STATE: web.AppKey[ApiState] = web.AppKey("simcluster_state", ApiState)


def _read_body(raw: bytes, content_type: str) -> Obj:
    if "protobuf" in content_type:
        try:
            return protobuf.decode(raw)
        except (protobuf.ProtobufError, UnicodeDecodeError) as err:
            raise StoreError(415, "UnsupportedMediaType", f"{err}") from None
    if not raw.strip():
        raise StoreError.bad_request("the body of the request was empty")
    try:
        body = yaml.safe_load(raw) if "yaml" in content_type else json.loads(raw)
    except (ValueError, yaml.YAMLError) as err:
        raise StoreError.bad_request(
            f"couldn't get version/kind; json parse error: {err}"
        ) from None
    if not isinstance(body, dict):
        raise StoreError.bad_request(
            "couldn't get version/kind; json parse error: body is not a JSON object"
        )
    return body


def _check_identity(body: Obj, target: Target) -> None:
    """Fill kind/apiVersion/namespace from the URL; 400 when the body contradicts it."""
    kind = target.kind
    body.setdefault("kind", kind.kind)
    body.setdefault("apiVersion", kind.api_version)
    if body["apiVersion"] != kind.api_version or body["kind"] != kind.kind:
        raise StoreError.bad_request(
            f"the API version in the data ({body['apiVersion']}) does not match the expected API "
            f"version ({kind.api_version})"
            if body["apiVersion"] != kind.api_version
            else f"the kind in the data ({body['kind']}) does not match the expected kind ({kind.kind})"
        )
    meta = body.get("metadata")
    if meta is None:
        meta = body["metadata"] = {}
    if not isinstance(meta, dict):
        raise StoreError.bad_request("metadata must be an object")
    if kind.namespaced and target.namespace is not None:
        if meta.get("namespace") and meta["namespace"] != target.namespace:
            raise StoreError.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = target.namespace
    if target.name is not None:
        if meta.get("name") and meta["name"] != target.name:
            raise StoreError.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({target.name})"
            )
        meta["name"] = target.name


# -- continue tokens ------------------------------------------------------------------------------


def _encode_continue(rv: str, key: tuple[str, str]) -> str:
    raw = dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": list(key)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        start = data["start"]
        return int(data["rv"]), (str(start[0]), str(start[1]))
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error):
        raise StoreError.bad_request(
            "continue key is not valid: the continue token could not be decoded"
        ) from None


# -- the application ------------------------------------------------------------------------------


class Api:
    """Request handlers bound to one ApiState."""

    def __init__(self, state: ApiState) -> None:
        self.state = state
        self.store = state.store

    # discovery & meta endpoints

    async def version(self, request: web.Request) -> web.Response:
        return json_response(discovery.VERSION_INFO)

    async def api_root(self, request: web.Request) -> web.Response:
        return self._discovery(request, core=True)

    async def apis_root(self, request: web.Request) -> web.Response:
        return self._discovery(request, core=False)

    @staticmethod
    def _discovery(request: web.Request, *, core: bool) -> web.Response:
        body, content_type = discovery.document(
            request.headers.get("Accept", ""), request.host or "127.0.0.1", core=core
        )
        return json_response(body, content_type=content_type)

    async def openapi_v2(self, request: web.Request) -> web.Response:
        # An empty protobuf document is a valid, empty schema set: kubectl's client-side
        # validation then has nothing to check against and accepts every manifest.
        return web.Response(body=b"", headers={"Content-Type": "application/octet-stream"})

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def faults_list(self, request: web.Request) -> web.Response:
        faults = self.state.faults
        from simcluster.faults import KNOWN_FAULTS

        active = faults.active() if faults else ()
        return json_response({"faults": {n: n in active for n in KNOWN_FAULTS}})

    async def fault_put(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        faults = self.state.faults
        if faults is None:
            return status_response(not_found_path())
        try:
            faults.check_name(name)
        except Exception as err:
            return status_response(StoreError(404, "NotFound", str(err)))
        try:
            body = json.loads(await request.read() or b"{}")
            enabled = body["enabled"]
            if not isinstance(enabled, bool):
                raise TypeError("enabled must be true or false")
        except (ValueError, KeyError, TypeError) as err:
            return status_response(
                StoreError.bad_request(f'body must be {{"enabled": true|false}}: {err}')
            )
        faults.set(name, enabled)
        return json_response({"name": name, "enabled": faults.enabled(name)})

    async def settled_get(self, request: web.Request) -> web.Response:
        """Whether the controllers are idle: lets a client of `serve` wait as the harness does."""
        return json_response({"settled": bool(self.state.settled())})

    async def sync_post(self, request: web.Request) -> web.Response:
        if self.state.sync is None:
            return status_response(StoreError(404, "NotFound", "this server syncs no repo"))
        sha = await self.state.sync()
        return json_response({"revision": sha})

    # resources

    async def core(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.match_info.get("tail", "").split("/") if p]
        if not parts:
            return await self.api_root(request)
        version, rest = parts[0], parts[1:]
        return await self._dispatch(request, "", version, rest)

    async def named(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.match_info.get("tail", "").split("/") if p]
        if not parts:
            return await self.apis_root(request)
        if len(parts) == 1:
            group = parts[0]
            versions = dict(discovery.served_groups()).get(group)
            if not versions or group == "":
                return page_not_found()
            return json_response(
                {
                    "kind": "APIGroup",
                    "apiVersion": "v1",
                    "name": group,
                    "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                    "preferredVersion": {
                        "groupVersion": f"{group}/{versions[0]}",
                        "version": versions[0],
                    },
                }
            )
        return await self._dispatch(request, parts[0], parts[1], parts[2:])

    async def _dispatch(
        self, request: web.Request, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
        if version not in dict(discovery.served_groups()).get(group, ()):
            return page_not_found()
        try:
            if not rest:
                if request.method != "GET":
                    raise method_not_allowed()
                listing = discovery.resource_list(group, version)
                if listing is None:
                    raise not_found_path()
                return json_response(listing)
            target = parse_target(group, version, rest)
            if target is None:
                raise not_found_path()
            watch = request.query.get("watch") in ("true", "1")
            verb = verb_of(request.method, target, watch)
            if target.sub == "exec":
                return await serve_exec(
                    request,
                    target,
                    self.store,
                    handler=self.state.exec_handler,
                    start_delay=self.state.exec_start_delay,
                )
            rbac = self.store.rbac
            resource = target.kind.plural + (f"/{target.sub}" if target.sub else "")
            if not rbac.allowed(verb, resource, target.namespace):
                raise forbidden(rbac.user, verb, target)
            if target.name is None:
                return await self._collection(request, target, watch)
            return await self._item(request, target)
        except StoreError as err:
            return status_response(err)

    async def _collection(
        self, request: web.Request, target: Target, watch: bool
    ) -> web.StreamResponse:
        kind = target.kind
        if request.method == "GET":
            if "list" not in kind.verbs:
                raise method_not_allowed()
            if watch:
                return await serve_watch(
                    request,
                    target,
                    self.store,
                    bookmark_interval=self.state.bookmark_interval,
                    streams=self.state.streams,
                )
            return self._list(request, target)
        if request.method == "POST":
            if kind.namespaced and target.namespace is None:
                raise method_not_allowed()
            body = _read_body(await request.read(), request.content_type)
            _check_identity(body, target)
            if kind.kind == "SelfSubjectAccessReview":
                return json_response(self._access_review(body), 201)
            dry_run = request.query.get("dryRun") == "All"
            created = self.store.create(body, dry_run=dry_run)
            return json_response(created, 201)
        if request.method == "DELETE":
            if "deletecollection" not in kind.verbs:
                raise method_not_allowed()
            label = request.query.get("labelSelector", "")
            fields = request.query.get("fieldSelector", "")
            opts = await self._delete_options(request)
            items, _rv = self.store.list(kind.name, target.namespace, label, fields, shared=True)
            keys = [(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in items]
            for ns, name in keys:
                try:
                    self.store.delete(kind.name, ns, name, **opts)
                except StoreError as err:
                    if err.code != 404:
                        raise
            return json_response(
                {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
            )
        raise method_not_allowed()

    def _list(self, request: web.Request, target: Target) -> web.Response:
        kind, q = target.kind, request.query
        label, fields = q.get("labelSelector", ""), q.get("fieldSelector", "")
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise StoreError.bad_request(f"limit: Invalid value: {q.get('limit')!r}") from None
        token = q.get("continue", "")
        after: tuple[str, str] | None = None
        token_rv: int | None = None
        if token:
            token_rv, after = _decode_continue(token)
            try:
                self.store.check_fresh(token_rv)
            except StoreError:
                fresh = _encode_continue(self.store.resource_version, after)
                body = StoreError.expired(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use the "
                    "continue token in this response to retrieve the remainder of the results. "
                    "Continuing with the provided token results in an inconsistent list - objects "
                    "that were created, modified, or deleted between the time the first chunk was "
                    "returned and now may show up in the list."
                ).to_status()
                body["metadata"] = {"continue": fresh}
                return json_response(body, 410)
        items, rv, next_key, remaining = self.store.page(
            kind.name, target.namespace, label, fields, limit=limit, after=after, at=token_rv
        )
        next_token = _encode_continue(rv, next_key) if next_key else ""
        show_remaining = remaining if next_key and not label and not fields else None
        table = table_version(request)
        if table:
            return json_response(
                tables.table(
                    kind,
                    items,
                    resource_version=rv,
                    include_object=q.get("includeObject", "Metadata"),
                    api_version=table,
                    continue_token=next_token,
                    remaining=show_remaining,
                ),
                content_type=table_content_type(table),
            )
        meta: Obj = {"resourceVersion": rv}
        if next_token:
            meta["continue"] = next_token
        if show_remaining:
            meta["remainingItemCount"] = show_remaining
        head = dumps({"kind": kind.list_kind, "apiVersion": kind.api_version, "metadata": meta})
        items_json = b",".join(self.store.json_of(o) for o in items)
        list_body = head[:-1] + b',"items":[' + items_json + b"]}"
        return web.Response(body=list_body, headers={"Content-Type": "application/json"})

    async def _item(self, request: web.Request, target: Target) -> web.StreamResponse:
        kind, store = target.kind, self.store
        assert target.name is not None
        method, sub = request.method, target.sub
        if sub == "scale":
            return json_response(await self._scale(request, target))
        if sub not in (None, "status", "log"):
            raise not_found_path()
        if method == "GET":
            obj = store.get(kind.name, target.namespace, target.name)
            if obj is None:
                raise StoreError.not_found(kind, target.name)
            if sub == "log":
                return web.Response(text="", content_type="text/plain")
            table = table_version(request)
            if table and sub is None:
                body = tables.table(
                    kind,
                    [obj],
                    resource_version=obj["metadata"]["resourceVersion"],
                    include_object=request.query.get("includeObject", "Metadata"),
                    api_version=table,
                )
                return json_response(body, content_type=table_content_type(table))
            return json_response(obj)
        if sub == "log":
            raise method_not_allowed()
        dry_run = request.query.get("dryRun") == "All"
        if method == "PUT":
            body = _read_body(await request.read(), request.content_type)
            _check_identity(body, target)
            if kind.custom and not body["metadata"].get("resourceVersion"):
                raise StoreError.invalid(
                    kind,
                    target.name,
                    [
                        (
                            "metadata.resourceVersion",
                            "Invalid value: 0x0: must be specified for an update",
                        )
                    ],
                )
            updated = store.update(body, status_only=sub == "status", dry_run=dry_run)
            return json_response(updated)
        if method == "PATCH":
            return json_response(await self._patch(request, target, dry_run))
        if method == "DELETE" and sub is None:
            opts = await self._delete_options(request)
            result = store.delete(kind.name, target.namespace, target.name, **opts)
            if opts["dry_run"]:
                return json_response(result)
            if store.get(kind.name, target.namespace, target.name) is not None:
                return json_response(result, 202)  # finalizers hold it: deletion is pending
            if kind.kind in RETURNS_DELETED_OBJECT:
                return json_response(result)
            details: Obj = {
                "name": target.name,
                "kind": kind.plural,
                "uid": result["metadata"]["uid"],
            }
            if kind.group:
                details["group"] = kind.group
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
            )
        raise method_not_allowed()

    async def _scale(self, request: web.Request, target: Target) -> Obj:
        """The autoscaling/v1 Scale view of a workload (``kubectl scale``): GET, PUT, PATCH."""
        kind, store = target.kind, self.store
        assert target.name is not None
        obj = store.get(kind.name, target.namespace, target.name)
        if obj is None:
            raise StoreError.not_found(kind, target.name)
        current = _scale_of(obj)
        if request.method == "GET":
            return current
        raw = await request.read()
        if request.method == "PUT":
            wanted = _read_body(raw, request.content_type)
        elif request.method == "PATCH":
            wanted = apply_patch(
                request.headers.get("Content-Type", ""), current, raw, custom=False
            )
        else:
            raise method_not_allowed()
        replicas = (wanted.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise StoreError.invalid(
                kind, target.name, [("spec.replicas", f"Invalid value: {replicas!r}: must be >= 0")]
            )
        sent_rv = (wanted.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != obj["metadata"]["resourceVersion"]:
            raise StoreError.conflict(kind, target.name)
        obj["spec"]["replicas"] = replicas
        dry_run = request.query.get("dryRun") == "All"
        return _scale_of(store.update(obj, dry_run=dry_run))

    async def _patch(self, request: web.Request, target: Target, dry_run: bool) -> Obj:
        kind, store = target.kind, self.store
        assert target.name is not None
        content_type = request.headers.get("Content-Type", "")
        raw = await request.read()
        current = store.get(kind.name, target.namespace, target.name)
        if current is None:
            if content_type.startswith(APPLY_PATCH) and target.sub is None:
                body = apply_patch(content_type, {}, raw, custom=kind.custom)
                _check_identity(body, target)
                return store.create(body, dry_run=dry_run)
            raise StoreError.not_found(kind, target.name)
        patched = apply_patch(content_type, current, raw, custom=kind.custom)
        meta = patched.get("metadata")
        if not isinstance(meta, dict):
            raise StoreError.bad_request("metadata must be an object")
        if meta.get("name") != target.name or (
            kind.namespaced and meta.get("namespace") != target.namespace
        ):
            raise StoreError.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                f"({target.name})"
            )
        for key in ("kind", "apiVersion"):
            if patched.get(key) != current.get(key):
                raise StoreError.bad_request(f"{key} cannot be changed by a patch")
        return store.update(patched, status_only=target.sub == "status", dry_run=dry_run)

    async def _delete_options(self, request: web.Request) -> Obj:
        raw = await request.read()
        body: Obj = {}
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as err:
                raise StoreError.bad_request(f"invalid DeleteOptions: {err}") from None
            if not isinstance(body, dict):
                raise StoreError.bad_request("invalid DeleteOptions: not an object")
        propagation = body.get("propagationPolicy") or request.query.get("propagationPolicy")
        if propagation is None and body.get("orphanDependents") is not None:
            propagation = "Orphan" if body["orphanDependents"] else "Background"
        pre = body.get("preconditions") or {}
        dry_sent = body.get("dryRun")
        dry = [str(d) for d in dry_sent] if dry_sent else request.query.getall("dryRun", [])
        return {
            "propagation": propagation or "Background",
            "uid": pre.get("uid"),
            "resource_version": pre.get("resourceVersion"),
            "dry_run": "All" in dry,
        }

    def _access_review(self, body: Obj) -> Obj:
        attrs = (body.get("spec") or {}).get("resourceAttributes") or {}
        resource = str(attrs.get("resource", ""))
        if attrs.get("subresource"):
            resource += f"/{attrs['subresource']}"
        allowed = self.store.rbac.allowed(
            str(attrs.get("verb", "")), resource, attrs.get("namespace") or None
        )
        out = dict(body)
        out["metadata"] = dict(body.get("metadata") or {}, creationTimestamp=None)
        out["status"] = {"allowed": allowed}
        if not allowed:
            out["status"]["denied"] = True
            out["status"]["reason"] = "denied by simcluster RBAC switch"
        return out


def _scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    selector = (obj.get("spec") or {}).get("selector") or {}
    labels = ",".join(f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items()))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": labels},
    }


# -- middleware -----------------------------------------------------------------------------------


def _flaky_middleware(state: ApiState) -> Any:
    """The api-flaky fault: a share of API requests answer 429, 500, a reset, or hang."""

    @web.middleware
    async def flaky(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        state.requests.append(
            (request.method, request.path_qs, request.headers.get("Content-Type", ""))
        )
        faults = state.faults
        if faults is None or request.path.startswith("/simcluster/"):
            return await handler(request)
        if faults.flaky_paths and not any(p in request.path for p in faults.flaky_paths):
            return await handler(request)
        action = faults.flaky_action()
        if action is None:
            return await handler(request)
        if action == "429":
            return status_response(
                StoreError(
                    429,
                    "TooManyRequests",
                    "the server has received too many requests and has asked us to try again later",
                    {"retryAfterSeconds": 1},
                ),
                {"Retry-After": "1"},
            )
        if action == "500":
            return status_response(
                StoreError(
                    500, "InternalError", "Internal error occurred: simcluster api-flaky fault"
                )
            )
        if action == "hang":
            task = asyncio.current_task()
            if task is not None:
                state.streams.add(task)
            try:
                await asyncio.sleep(state.hang_seconds)
            finally:
                if task is not None:
                    state.streams.discard(task)
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPServiceUnavailable()  # never delivered: the connection is gone

    return flaky


def _errors_middleware(state: ApiState) -> Any:
    """StoreErrors become Status bodies; unknown paths answer a Status 404 like the apiserver."""

    @web.middleware
    async def errors(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        response = await _answer(request, handler)
        if not isinstance(response, web.WebSocketResponse) and response.prepared is False:
            state.timings.append((request.path, time.perf_counter() - started))
        return response

    return errors


def page_not_found() -> web.Response:
    """A group or version the server does not serve: the API server's mux answers with Go's
    ``http.NotFound``, plain text and no Status object (an unserved resource of a served
    group/version is a Status, ``not_found_path``)."""
    resp = web.Response(status=404, text="404 page not found\n", content_type="text/plain")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


async def _answer(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except StoreError as err:
        return status_response(err)
    except web.HTTPNotFound:
        return status_response(not_found_path())
    except web.HTTPMethodNotAllowed:
        return status_response(method_not_allowed())


def make_app(state: ApiState) -> web.Application:
    """The aiohttp application serving ``state.store``."""
    app = web.Application(
        middlewares=[_flaky_middleware(state), _errors_middleware(state)],
        client_max_size=64 * 1024**2,
    )
    app[STATE] = state
    api = Api(state)
    r = app.router
    r.add_get("/version", api.version)
    r.add_get("/version/", api.version)
    r.add_get("/healthz", api.health)
    r.add_get("/livez", api.health)
    r.add_get("/readyz", api.health)
    r.add_get("/openapi/v2", api.openapi_v2)
    r.add_get("/simcluster/v1/faults", api.faults_list)
    r.add_put("/simcluster/v1/faults/{name}", api.fault_put)
    r.add_post("/simcluster/v1/sync", api.sync_post)
    r.add_get("/simcluster/v1/settled", api.settled_get)
    r.add_route("*", "/api", api.core)
    r.add_route("*", "/api/{tail:.*}", api.core)
    r.add_route("*", "/apis", api.named)
    r.add_route("*", "/apis/{tail:.*}", api.named)

    async def cancel_streams(_app: web.Application) -> None:
        for task in list(state.streams):
            task.cancel()

    app.on_shutdown.append(cancel_streams)
    return app
