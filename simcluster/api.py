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
documents live in ``simcluster.discovery``; the ``api-flaky`` fault is a middleware here.
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
from typing import Any, Protocol

import yaml
from aiohttp import web

from simcluster import discovery, protobuf, tables
from simcluster.apierrors import StoreError
from simcluster.faults import Faults
from simcluster.history import WatchEvent
from simcluster.kinds import Kind, kind_by_plural
from simcluster.patch import APPLY_PATCH, apply_patch
from simcluster.store import Store

Obj = dict[str, Any]
log = logging.getLogger("simcluster.api")

EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
# Kinds whose DELETE answers the deleted object; the others answer a Status (as the registries do).
RETURNS_DELETED_OBJECT = {"Pod", "Service", "Namespace"}


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


# -- responses ------------------------------------------------------------------------------------


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def json_response(
    obj: Any, status: int = 200, content_type: str = "application/json"
) -> web.Response:
    return web.Response(body=_dumps(obj), status=status, headers={"Content-Type": content_type})


def status_response(err: StoreError, headers: dict[str, str] | None = None) -> web.Response:
    resp = json_response(err.to_status(), err.code)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def _not_found_path() -> StoreError:
    return StoreError(404, "NotFound", "the server could not find the requested resource", {})


def _method_not_allowed() -> StoreError:
    return StoreError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


# -- request targets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a resource URL names: a collection (name None) or an object, maybe a subresource."""

    kind: Kind
    namespace: str | None  # None: cluster scope, or all namespaces for a namespaced kind
    name: str | None
    sub: str | None


def parse_target(group: str, version: str, rest: list[str]) -> Target | None:
    """Map the path after ``/api/v1`` or ``/apis/<g>/<v>`` to a Target (None: no such path)."""
    namespace: str | None = None
    if (
        rest
        and rest[0] == "namespaces"
        and len(rest) >= 3
        and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    kind = kind_by_plural(group, version, rest[0])
    if kind is None:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if namespace is not None and not kind.namespaced:
        return None
    if kind.namespaced and namespace is None and name is not None:
        return None
    if sub is not None and sub not in kind.subresources:
        return None
    return Target(kind, namespace, name, sub)


def _verb(method: str, target: Target, watch: bool) -> str:
    if target.name is None:
        return {
            "GET": "watch" if watch else "list",
            "POST": "create",
            "DELETE": "deletecollection",
        }.get(method, method.lower())
    return {
        "GET": "get",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete",
        "POST": "create",
    }.get(method, method.lower())


def _forbidden(user: str, verb: str, target: Target) -> StoreError:
    resource = target.kind.plural + (f"/{target.sub}" if target.sub else "")
    who = f'{target.kind.plural} "{target.name}"' if target.name else target.kind.plural
    where = f'in the namespace "{target.namespace}"' if target.namespace else "at the cluster scope"
    return StoreError(
        403,
        "Forbidden",
        f'{who} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group '
        f'"{target.kind.group}" {where}',
        {"name": target.name or "", "kind": target.kind.plural, "group": target.kind.group},
    )


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
    raw = _dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": list(key)})
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
        # An empty protobuf document: a valid, empty schema set (kubectl.md §7 option 1).
        return web.Response(body=b"", headers={"Content-Type": "application/octet-stream"})

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def faults_list(self, request: web.Request) -> web.Response:
        faults = self.state.faults
        from simcluster.faults import FAULT_NAMES

        active = faults.active() if faults else ()
        return json_response({"faults": {n: n in active for n in FAULT_NAMES}})

    async def fault_put(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        faults = self.state.faults
        if faults is None:
            return status_response(_not_found_path())
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
                return status_response(_not_found_path())
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
        try:
            if not rest:
                if request.method != "GET":
                    raise _method_not_allowed()
                listing = discovery.resource_list(group, version)
                if listing is None:
                    raise _not_found_path()
                return json_response(listing)
            target = parse_target(group, version, rest)
            if target is None:
                raise _not_found_path()
            watch = request.query.get("watch") in ("true", "1")
            verb = _verb(request.method, target, watch)
            if target.sub == "exec":
                return await self._exec(request, target)
            rbac = self.store.rbac
            resource = target.kind.plural + (f"/{target.sub}" if target.sub else "")
            if not rbac.allowed(verb, resource, target.namespace):
                raise _forbidden(rbac.user, verb, target)
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
                raise _method_not_allowed()
            if watch:
                return await self._watch(request, target)
            return self._list(request, target)
        if request.method == "POST":
            if kind.namespaced and target.namespace is None:
                raise _method_not_allowed()
            body = _read_body(await request.read(), request.content_type)
            _check_identity(body, target)
            if kind.kind == "SelfSubjectAccessReview":
                return json_response(self._access_review(body), 201)
            dry_run = request.query.get("dryRun") == "All"
            created = self.store.create(body, dry_run=dry_run)
            return json_response(created, 201)
        if request.method == "DELETE":
            if "deletecollection" not in kind.verbs:
                raise _method_not_allowed()
            label = request.query.get("labelSelector", "")
            fields = request.query.get("fieldSelector", "")
            opts = await self._delete_options(request)
            items, _rv = self.store.list(kind.kind, target.namespace, label, fields, shared=True)
            keys = [(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in items]
            for ns, name in keys:
                try:
                    self.store.delete(kind.kind, ns, name, **opts)
                except StoreError as err:
                    if err.code != 404:
                        raise
            return json_response(
                {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
            )
        raise _method_not_allowed()

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
            kind.kind, target.namespace, label, fields, limit=limit, after=after, at=token_rv
        )
        next_token = _encode_continue(rv, next_key) if next_key else ""
        show_remaining = remaining if next_key and not label and not fields else None
        table = self._table_version(request)
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
                content_type=_table_content_type(table),
            )
        meta: Obj = {"resourceVersion": rv}
        if next_token:
            meta["continue"] = next_token
        if show_remaining:
            meta["remainingItemCount"] = show_remaining
        head = _dumps({"kind": kind.list_kind, "apiVersion": kind.api_version, "metadata": meta})
        items_json = b",".join(self.store.json_of(o) for o in items)
        list_body = head[:-1] + b',"items":[' + items_json + b"]}"
        return web.Response(body=list_body, headers={"Content-Type": "application/json"})

    @staticmethod
    def _table_version(request: web.Request) -> str | None:
        versions = discovery.wants(request.headers.get("Accept", ""), "meta.k8s.io", "Table")
        for v in versions:
            if v in ("v1", "v1beta1"):
                return f"meta.k8s.io/{v}"
        return None

    async def _item(self, request: web.Request, target: Target) -> web.StreamResponse:
        kind, store = target.kind, self.store
        assert target.name is not None
        method, sub = request.method, target.sub
        if sub == "scale":
            return json_response(await self._scale(request, target))
        if sub not in (None, "status", "log"):
            raise _not_found_path()
        if method == "GET":
            obj = store.get(kind.kind, target.namespace, target.name)
            if obj is None:
                raise StoreError.not_found(kind, target.name)
            if sub == "log":
                return web.Response(text="", content_type="text/plain")
            table = self._table_version(request)
            if table and sub is None:
                body = tables.table(
                    kind,
                    [obj],
                    resource_version=obj["metadata"]["resourceVersion"],
                    include_object=request.query.get("includeObject", "Metadata"),
                    api_version=table,
                )
                return json_response(body, content_type=_table_content_type(table))
            return json_response(obj)
        if sub == "log":
            raise _method_not_allowed()
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
            result = store.delete(kind.kind, target.namespace, target.name, **opts)
            if opts["dry_run"]:
                return json_response(result)
            if store.get(kind.kind, target.namespace, target.name) is not None:
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
        raise _method_not_allowed()

    async def _scale(self, request: web.Request, target: Target) -> Obj:
        """The autoscaling/v1 Scale view of a workload (``kubectl scale``): GET, PUT, PATCH."""
        kind, store = target.kind, self.store
        assert target.name is not None
        obj = store.get(kind.kind, target.namespace, target.name)
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
            raise _method_not_allowed()
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
        current = store.get(kind.kind, target.namespace, target.name)
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

    # -- watch ----------------------------------------------------------------------------------

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        kind, store, q = target.kind, self.store, request.query
        label, fields = q.get("labelSelector", ""), q.get("fieldSelector", "")
        matches = store.matcher(kind.kind, label, fields)
        try:
            timeout = float(q.get("timeoutSeconds") or 1800)
        except ValueError:
            raise StoreError.bad_request("timeoutSeconds must be a number") from None
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        initial_events = q.get("sendInitialEvents") == "true"
        rv_param = q.get("resourceVersion", "")
        namespace = target.namespace
        as_table = self._table_version(request)  # `kubectl get -w` watches Tables
        include = q.get("includeObject", "Metadata")

        async def send(event_type: str, obj: Obj) -> None:
            if as_table is None:
                await self._send(response, event_type, obj)
                return
            row = tables.table(
                kind,
                [obj],
                resource_version=obj["metadata"].get("resourceVersion", ""),
                include_object=include,
                api_version=as_table,
            )
            await response.write(_dumps({"type": event_type, "object": row}) + b"\n")

        def translate(ev: WatchEvent) -> tuple[str, Obj] | None:
            if ev.kind != kind.kind:
                return None
            if namespace is not None and ev.obj["metadata"].get("namespace") != namespace:
                return None
            if ev.type == "ADDED":
                return ("ADDED", ev.obj) if matches(ev.obj) else None
            if ev.type == "DELETED":
                return ("DELETED", ev.obj) if matches(ev.obj) else None
            now_ok, was_ok = matches(ev.obj), ev.old is not None and matches(ev.old)
            if now_ok and was_ok:
                return ("MODIFIED", ev.obj)
            if now_ok:
                return ("ADDED", ev.obj)
            if was_ok:
                return ("DELETED", ev.obj)
            return None

        pending: list[tuple[str, Obj]] = []
        expired: StoreError | None = None
        if rv_param in ("", "0") or initial_events:
            items, _ = store.list(kind.kind, namespace, label, fields, shared=True)
            pending = [("ADDED", o) for o in items]
        else:
            try:
                since = int(rv_param)
            except ValueError:
                raise StoreError.bad_request(
                    f'resourceVersion: Invalid value: "{rv_param}": must be an integer'
                ) from None
            try:
                pending = [t for t in map(translate, store.events_since(since)) if t is not None]
            except StoreError as err:
                expired = err
        queue: asyncio.Queue[tuple[str, Obj]] = asyncio.Queue()

        def on_event(ev: WatchEvent) -> None:
            item = translate(ev)
            if item is not None:
                queue.put_nowait(item)

        remove = store.add_listener(on_event)
        task = asyncio.current_task()
        if task is not None:
            self.state.streams.add(task)
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            if expired is not None:
                await self._send(response, "ERROR", expired.to_status())
                return response
            for event_type, obj in pending:
                await send(event_type, obj)
            if initial_events and bookmarks:
                await self._bookmark(response, kind, initial_end=True)
            deadline = time.monotonic() + timeout
            last_bookmark = time.monotonic()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                wait = min(left, self.state.bookmark_interval) if bookmarks else min(left, 1.0)
                try:
                    event_type, obj = await asyncio.wait_for(queue.get(), timeout=wait)
                except TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break
                    if (
                        bookmarks
                        and time.monotonic() - last_bookmark >= self.state.bookmark_interval
                    ):
                        await self._bookmark(response, kind)
                        last_bookmark = time.monotonic()
                    continue
                await send(event_type, obj)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            remove()
            if task is not None:
                self.state.streams.discard(task)
        try:
            await response.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    async def _send(self, response: web.StreamResponse, event_type: str, obj: Obj) -> None:
        line = (
            b'{"type":"' + event_type.encode() + b'","object":' + self.store.json_of(obj) + b"}\n"
        )
        await response.write(line)

    async def _bookmark(
        self, response: web.StreamResponse, kind: Kind, *, initial_end: bool = False
    ) -> None:
        meta: Obj = {"resourceVersion": self.store.resource_version}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        await self._send(
            response,
            "BOOKMARK",
            {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": meta},
        )

    # -- exec -----------------------------------------------------------------------------------

    async def _exec(self, request: web.Request, target: Target) -> web.StreamResponse:
        store, q = self.store, request.query
        assert target.name is not None
        if request.method not in ("GET", "POST"):
            raise _method_not_allowed()
        rbac = store.rbac
        if not rbac.allowed("create", "pods/exec", target.namespace) or not rbac.allowed(
            "get", "pods/exec", target.namespace
        ):
            raise _forbidden(rbac.user, "create", target)
        pod = store.get("Pod", target.namespace, target.name)
        if pod is None:
            raise StoreError.not_found(target.kind, target.name)
        containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
        container = q.get("container", "")
        if not container:
            if len(containers) != 1:
                raise StoreError.bad_request(
                    f"a container name must be specified for pod {target.name}, choose one of: "
                    f"[{' '.join(containers)}]"
                )
            container = containers[0]
        if container not in containers:
            raise StoreError.bad_request(
                f"container {container} is not valid for pod {target.name}"
            )
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
        argv = q.getall("command", [])
        if not argv:
            raise StoreError.bad_request("you must specify at least 1 command")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise StoreError.bad_request("Upgrade request required")
        want_stdout = q.get("stdout") in ("true", "1")
        want_stderr = q.get("stderr") in ("true", "1")
        tty = q.get("tty") in ("true", "1")
        ws = web.WebSocketResponse(protocols=EXEC_PROTOCOLS, autoping=True)
        await ws.prepare(request)
        if want_stdout or want_stderr:
            await ws.send_bytes(b"\x01" if want_stdout else b"\x02")
        await asyncio.sleep(self.state.exec_start_delay)
        result = self.state.exec_handler(pod, container, list(argv))
        if result.error is None:
            if want_stdout and result.stdout:
                await ws.send_bytes(b"\x01" + result.stdout)
            if result.stderr:
                if tty and want_stdout:
                    await ws.send_bytes(b"\x01" + result.stderr)
                elif want_stderr:
                    await ws.send_bytes(b"\x02" + result.stderr)
        await ws.send_bytes(b"\x03" + _dumps(_exec_status(result)))
        await ws.close(code=1000)
        return ws


def _table_content_type(api_version: str) -> str:
    return f"application/json;as=Table;v={api_version.split('/')[1]};g=meta.k8s.io"


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


def _exec_status(result: ExecOutcome) -> Obj:
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


async def _answer(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except StoreError as err:
        return status_response(err)
    except web.HTTPNotFound:
        return status_response(_not_found_path())
    except web.HTTPMethodNotAllowed:
        return status_response(_method_not_allowed())


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
