"""The object store behind simcluster's API: etcd plus the apiserver's registry rules.

Single-threaded by design: only ever call it on the server's asyncio loop thread (from a
handler, a controller task, or ``SimCluster.call``). Every change bumps one global
resourceVersion, is appended to a bounded event window (for watches; older than the window is
410 Expired) and is handed to subscribers synchronously.

Objects given to callers are copies (``get``, ``list``, ``create``/``update``/``delete`` results),
so callers may edit them and pass them back to ``update``. Stored objects are never mutated in
place; a change replaces the stored dict, which is what lets watches and ``list(shared=True)``
hand out the stored dicts without copying. Subscribers get one copy per event, shared by all
subscribers: treat it as read-only.

Rules kept from a real apiserver:
- create fills uid, resourceVersion, creationTimestamp, generation (workloads, webhooks, CRs),
  server-side defaults (``kinds.apply_defaults``), ``generateName``; the namespace must exist.
- update: Conflict 409 when the sent resourceVersion is stale; ``status`` is ignored by a main
  update of a kind with a status subresource, and only ``status`` is taken by ``status_only``;
  generation bumps when anything but metadata/status changed (Deployments: also annotations);
  a no-op update keeps the resourceVersion and emits nothing; pod specs are immutable except
  images, activeDeadlineSeconds and added tolerations (422 otherwise); Service clusterIP and
  nodePorts survive an update that omits them.
- delete: objects with finalizers get deletionTimestamp and stay until an update empties
  ``metadata.finalizers``; ownerReferences drive garbage collection (Background and Foreground
  delete dependents, Orphan strips the owner reference); deleting a Namespace deletes its content.
- mutating admission hooks (``add_mutator``) run on create and update, after defaulting and before
  validation, as webhooks do (sidecar injection plugs in here).
- validation: names, labels, workload selectors vs template labels, immutable selectors, and the
  Banzai CRD fields the canary flow writes (types, enums, ``^1.`` version); null CR fields pruned.
- lists read in key order; ``page(at=rv)`` reads the list as it was at ``rv`` (continue tokens).

Also here for tests and the API: ``rbac`` (an RBAC deny switch), ``compact()`` (forget the event
window, so older resourceVersions answer 410), ``add_listener`` (raw events for watches) and
``json_of`` (encoded JSON cached per stored object).
"""

from __future__ import annotations

import base64
import bisect
import builtins
import datetime as dt
import json
import random
import re
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from simcluster import selectors
from simcluster.allocation import ServiceAllocator
from simcluster.kinds import Kind, apply_defaults, kind_by_name

Obj = dict[str, Any]
Objs = list[Obj]  # (an alias: Store.list shadows the builtin inside the class)
Subscriber = Callable[[str, Obj, "Obj | None"], None]
Mutator = Callable[[str, Obj, "Obj | None"], None]


def deep_copy(value: Any) -> Any:
    """Copy JSON-like data; several times faster than copy.deepcopy for API objects."""
    if type(value) is dict:
        return {k: deep_copy(v) for k, v in value.items()}
    if type(value) is list:
        return [deep_copy(v) for v in value]
    return value


def now_rfc3339() -> str:
    """Second-precision UTC timestamp, the format of creationTimestamp."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StoreError(Exception):
    """An apiserver error: ``code``/``reason`` and the message a real server would send."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> Obj:
        """The ``Status`` body the API sends with this error."""
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body

    # -- the errors every registry raises -------------------------------------------------------

    @staticmethod
    def _details(kind: Kind, name: str, *, by_kind: bool = False) -> Obj:
        d: Obj = {"name": name, "kind": kind.kind if by_kind else kind.plural}
        if kind.group:
            d["group"] = kind.group
        return d

    @classmethod
    def not_found(cls, kind: Kind, name: str) -> StoreError:
        return cls(
            404, "NotFound", f'{kind.group_resource} "{name}" not found', cls._details(kind, name)
        )

    @classmethod
    def already_exists(cls, kind: Kind, name: str) -> StoreError:
        return cls(
            409,
            "AlreadyExists",
            f'{kind.group_resource} "{name}" already exists',
            cls._details(kind, name),
        )

    @classmethod
    def conflict(cls, kind: Kind, name: str) -> StoreError:
        return cls(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {kind.group_resource} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            cls._details(kind, name),
        )

    @classmethod
    def invalid(cls, kind: Kind, name: str, causes: list[tuple[str, str]]) -> StoreError:
        """``causes`` are (field, message) pairs; the message joins them like the apiserver."""
        qualified = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
        text = ", ".join(f"{f}: {m}" for f, m in causes)
        if len(causes) > 1:
            text = "[" + text + "]"
        details = cls._details(kind, name, by_kind=True)
        details["causes"] = [
            {"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes
        ]
        return cls(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)

    @classmethod
    def bad_request(cls, message: str) -> StoreError:
        return cls(400, "BadRequest", message)

    @classmethod
    def expired(cls, message: str) -> StoreError:
        return cls(410, "Expired", message)


class AccessRules:
    """Which requests RBAC denies: everything is allowed until a test denies (verb, resource).

    ``resource`` is the plural, optionally with a subresource (``pods/exec``); ``namespace`` None
    denies in every namespace. The API answers denied requests 403 and SelfSubjectAccessReviews
    with ``allowed: false``.
    """

    user = "system:anonymous"

    def __init__(self) -> None:
        self._denied: set[tuple[str, str, str | None]] = set()

    def deny(self, verb: str, resource: str, namespace: str | None = None) -> None:
        self._denied.add((verb, resource, namespace))

    def allow_all(self) -> None:
        self._denied.clear()

    def allowed(self, verb: str, resource: str, namespace: str | None = None) -> bool:
        for v, r, ns in self._denied:
            if v in (verb, "*") and r in (resource, "*") and (ns is None or ns == namespace):
                return False
        return True


@dataclass(frozen=True)
class WatchEvent:
    """One change: ``obj`` is the stored object after it (for DELETED: its last state)."""

    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    kind: str
    obj: Obj
    old: Obj | None


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAMED = {"Namespace", "Service"}
_REQUIRED_SPEC = {"Istio": ("version",), "MeshGateway": ("type", "ports")}
# A slice of the Banzai CRDs' OpenAPI schemas: the fields the canary flow writes, so a manifest
# a real apiserver would reject (wrong type, value outside an enum or pattern) is rejected here
# too. (path with [*] for list items, JSON type, enum or regex pattern)
_CRD_FIELDS: dict[str, tuple[tuple[str, str, tuple[str, ...] | str | None], ...]] = {
    "Istio": (
        ("spec.version", "string", "^1."),
        ("spec.global", "boolean", None),
        ("spec.autoInjectionNamespaces", "array", None),
        ("spec.autoInjectionNamespaces[*]", "string", None),
        ("spec.gateways.enabled", "boolean", None),
        ("spec.gateways.ingress.enabled", "boolean", None),
        ("spec.gateways.ingress.createOnly", "boolean", None),
        ("spec.gateways.egress.enabled", "boolean", None),
        ("spec.istiod.enabled", "boolean", None),
    ),
    "MeshGateway": (
        ("spec.type", "string", ("ingress", "egress")),
        ("spec.serviceType", "string", ("ClusterIP", "NodePort", "LoadBalancer")),
        ("spec.ports", "array", None),
        ("spec.ports[*].port", "integer", None),
        ("spec.replicaCount", "integer", None),
        ("spec.istioControlPlane", "object", None),
        ("spec.istioControlPlane.name", "string", None),
        ("spec.istioControlPlane.namespace", "string", None),
    ),
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def _at(obj: Any, path: str) -> list[tuple[str, Any]]:
    """(concrete path, value) for every value at ``path`` (``[*]`` walks list items)."""
    found: list[tuple[str, Any]] = [("", obj)]
    for part in path.split("."):
        each = part.endswith("[*]")
        key = part.removesuffix("[*]")
        nxt: list[tuple[str, Any]] = []
        for where, value in found:
            if not isinstance(value, dict) or key not in value:
                continue
            here = f"{where}.{key}" if where else key
            if each and isinstance(value[key], list):
                nxt.extend((f"{here}[{i}]", item) for i, item in enumerate(value[key]))
            elif not each:
                nxt.append((here, value[key]))
        found = nxt
    return found


def _prune_nulls(value: Any) -> None:
    """Remove null map values in place, as the apiserver does for non-nullable CRD fields."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for v in value.values():
            _prune_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _prune_nulls(v)


def _schema_causes(kind: str, obj: Obj) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    for path, json_type, rule in _CRD_FIELDS.get(kind, ()):
        for where, value in _at(obj, path):
            actual = _json_type(value)
            if actual != json_type:
                causes.append(
                    (
                        where,
                        f'Invalid value: "{actual}": {where} in body must be of type '
                        f'{json_type}: "{actual}"',
                    )
                )
            elif isinstance(rule, tuple) and value not in rule:
                allowed = ", ".join(f'"{v}"' for v in rule)
                causes.append((where, f'Unsupported value: "{value}": supported values: {allowed}'))
            elif isinstance(rule, str) and not re.match(rule, str(value)):
                causes.append(
                    (where, f"Invalid value: \"{value}\": {where} in body should match '{rule}'")
                )
    return causes


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def _body(obj: Obj, *, with_status: bool) -> Obj:
    """Everything generation cares about: the object minus metadata (and status)."""
    skip = {"metadata", "status"} if with_status else {"metadata"}
    return {k: v for k, v in obj.items() if k not in skip}


class Store:
    """All cluster objects, keyed kind -> namespace ("" for cluster scope) -> name."""

    def __init__(self, *, window: int = 100_000) -> None:
        self._objects: dict[str, dict[str, dict[str, Obj]]] = {}
        self._rv = 0
        self._window = window
        self._events: builtins.list[WatchEvent] = []
        self._compacted_rv = 0  # watches/continues from an RV below this are 410 Expired
        self._subscribers: list[Subscriber] = []
        self._mutators: list[Mutator] = []
        self._dependents: dict[str, set[tuple[str, str, str]]] = {}
        self._uids: set[str] = set()
        self._listeners: builtins.list[Callable[[WatchEvent], None]] = []
        self._json: dict[int, bytes] = {}  # id(stored object) -> its JSON, until it is replaced
        self.rbac = AccessRules()
        self.addresses = ServiceAllocator()

    # -- reading ---------------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        """The current (newest) resourceVersion, as lists report it."""
        return str(self._rv)

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """A copy of the object, or None."""
        obj = self._objects.get(kind, {}).get(namespace or "", {}).get(name)
        return deep_copy(obj) if obj is not None else None

    def must_get(self, kind: str, namespace: str | None, name: str) -> Obj:
        """Like ``get`` but NotFound (404) when absent."""
        obj = self.get(kind, namespace, name)
        if obj is None:
            raise StoreError.not_found(kind_by_name(kind), name)
        return obj

    def _iter(
        self, kind: str, namespace: str | None, after: tuple[str, str] | None = None
    ) -> Iterator[Obj]:
        """Stored objects in key order (namespace, name) after ``after``, like etcd range reads."""
        by_ns = self._objects.get(kind, {})
        namespaces = [namespace or ""] if namespace is not None else sorted(by_ns)
        if after is not None:
            namespaces = namespaces[bisect.bisect_left(namespaces, after[0]) :]
        for ns in namespaces:
            names = by_ns.get(ns, {})
            keys = sorted(names)
            if after is not None and ns == after[0]:
                keys = keys[bisect.bisect_right(keys, after[1]) :]
            for name in keys:
                yield names[name]

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        *,
        shared: bool = False,
    ) -> tuple[Objs, str]:
        """Matching objects (copies unless ``shared``) and the list resourceVersion.

        ``namespace=None`` lists all namespaces. ``shared=True`` returns the stored dicts
        themselves, for serialising without a copy: never mutate them. Bad selectors raise
        StoreError 400 with the server's message.
        """
        items, rv, _next, _remaining = self.page(kind, namespace, label_selector, field_selector)
        return (items if shared else [deep_copy(o) for o in items]), rv

    def page(
        self,
        kind: str,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
        *,
        limit: int = 0,
        after: tuple[str, str] | None = None,
        at: int | None = None,
    ) -> tuple[Objs, str, tuple[str, str] | None, int]:
        """One page of a list: (stored items, list RV, key to continue after or None, remaining).

        Items are the stored dicts (read-only). ``after`` is the (namespace, name) of the last
        item of the previous page. ``remaining`` counts matching objects past the page. ``at``
        reads the list as it was at that resourceVersion (continue pages: one consistent
        snapshot, like etcd's MVCC read); 410 Expired when the event window no longer has it.
        """
        matches = self._matcher(kind, label_selector, field_selector)
        items: Objs = []
        next_key: tuple[str, str] | None = None
        remaining = 0
        unfiltered = not label_selector.strip() and not field_selector.strip()
        rest = self._snapshot(kind, namespace, after, at) if at is not None else None
        if rest is None:
            rest = self._iter(kind, namespace, after)
        for obj in rest:
            if not matches(obj):
                continue
            if limit and len(items) >= limit:
                remaining = 1 + sum(1 for o in rest if unfiltered or matches(o))
                break
            items.append(obj)
        if remaining:
            last = items[-1]["metadata"]
            next_key = (last.get("namespace", ""), last["name"])
        return items, str(self._rv if at is None else at), next_key, remaining

    def _snapshot(
        self, kind: str, namespace: str | None, after: tuple[str, str] | None, at: int
    ) -> Iterator[Obj] | None:
        """Objects at resourceVersion ``at`` (None when nothing of theirs changed since)."""
        self.check_fresh(at)

        def key(obj: Obj) -> tuple[str, str]:
            return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

        changed = [
            e
            for e in self.events_since(at)
            if e.kind == kind and (namespace is None or key(e.obj)[0] == (namespace or ""))
        ]
        if not changed:
            return None
        state = {key(o): o for o in self._iter(kind, namespace, after)}
        for event in reversed(changed):  # undo the changes newest first
            k = key(event.obj)
            if after is not None and k <= after:
                continue
            if event.type == "ADDED":
                state.pop(k, None)
            elif event.old is not None:
                state[k] = event.old
        return iter([state[k] for k in sorted(state)])

    def _matcher(
        self, kind: str, label_selector: str, field_selector: str
    ) -> Callable[[Obj], bool]:
        try:
            by_label = selectors.label_matcher(label_selector)
            by_field = selectors.field_matcher(kind, field_selector)
        except selectors.SelectorError as err:
            raise StoreError.bad_request(str(err)) from None
        if not label_selector.strip():
            return by_field
        if not field_selector.strip():
            return by_label
        return lambda o: by_label(o) and by_field(o)

    def matcher(
        self, kind: str, label_selector: str = "", field_selector: str = ""
    ) -> Callable[[Obj], bool]:
        """The predicate ``list`` uses, for filtering watch events the same way (400 if bad)."""
        return self._matcher(kind, label_selector, field_selector)

    # -- writing ---------------------------------------------------------------------------------

    def add_mutator(self, fn: Mutator) -> Callable[[], None]:
        """Register a mutating admission hook ``fn(operation, obj, old)``; returns a remover.

        ``operation`` is "CREATE" or "UPDATE"; ``fn`` edits ``obj`` in place (it is the object about
        to be stored, defaults applied) and may raise StoreError to deny the request.
        """
        self._mutators.append(fn)
        return lambda: self._mutators.remove(fn)

    def create(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        """Store a new object; returns a copy as stored. AlreadyExists 409, NotFound namespace."""
        kind = self._kind_of(obj)
        obj = deep_copy(obj)
        obj["apiVersion"] = kind.api_version
        meta = _meta(obj)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        name = str(meta.get("name") or "")
        namespace = self._check_namespace(kind, meta, name)
        if name and name in self._objects.get(kind.kind, {}).get(namespace, {}):
            raise StoreError.already_exists(kind, name)
        if kind.kind == "Namespace" and not name:
            raise StoreError.invalid(
                kind, name, [("metadata.name", "Required value: name or generateName is required")]
            )
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if kind.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        self._prepare(kind, obj, None)
        self._validate(kind, obj, None)
        if dry_run:
            return obj
        return self._commit("ADDED", kind, obj, None)

    def update(self, obj: Obj, *, status_only: bool = False, dry_run: bool = False) -> Obj:
        """Replace an object (or only its status); returns a copy as stored.

        Conflict 409 when ``metadata.resourceVersion`` is given and stale, NotFound when absent.
        """
        kind = self._kind_of(obj)
        meta = _meta(obj)
        name = str(meta.get("name") or "")
        namespace = str(meta.get("namespace") or "") if kind.namespaced else ""
        old = self._objects.get(kind.kind, {}).get(namespace, {}).get(name)
        if old is None:
            raise StoreError.not_found(kind, name)
        sent_rv = meta.get("resourceVersion")
        if sent_rv not in (None, "") and str(sent_rv) != old["metadata"]["resourceVersion"]:
            raise StoreError.conflict(kind, name)
        if status_only:
            new = deep_copy(old)
            if "status" in obj:
                new["status"] = deep_copy(obj["status"])
            else:
                new.pop("status", None)
        else:
            new = deep_copy(obj)
            new["apiVersion"] = kind.api_version
            new_meta = _meta(new)
            for key in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if key in old["metadata"]:
                    new_meta[key] = old["metadata"][key]
                else:
                    new_meta.pop(key, None)
            if kind.namespaced:
                new_meta["namespace"] = namespace
            if kind.has_status:
                if "status" in old:
                    new["status"] = deep_copy(old["status"])
                else:
                    new.pop("status", None)
            self._carry_allocations(kind, new, old)
            self._prepare(kind, new, old)
            self._validate(kind, new, old)
        new_meta = new["metadata"]
        if kind.generation:
            generation = int(old["metadata"].get("generation", 1))
            changed = _body(new, with_status=True) != _body(old, with_status=True)
            if kind.kind == "Deployment" and not status_only:
                changed = changed or new_meta.get("annotations") != old["metadata"].get(
                    "annotations"
                )
            new_meta["generation"] = generation + 1 if changed else generation
        new_meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return deep_copy(old)
        if dry_run:
            return new
        if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
            self._commit("MODIFIED", kind, new, old)
            gone = self._remove(kind, namespace, name)
            self._collect(gone["metadata"]["uid"], "Background")
            return gone
        return self._commit("MODIFIED", kind, new, old)

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
        """Delete an object (and, unless Orphan, its dependents); returns its last state.

        ``uid``/``resource_version`` are DeleteOptions preconditions (Conflict 409 on mismatch).
        An object with finalizers only gets a deletionTimestamp (it is returned, still stored).
        """
        k = kind_by_name(kind)
        ns = (namespace or "") if k.namespaced else ""
        stored = self._objects.get(kind, {}).get(ns, {}).get(name)
        if stored is None:
            raise StoreError.not_found(k, name)
        meta = stored["metadata"]
        if uid is not None and uid != meta["uid"]:
            raise StoreError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {k.group_resource} "{name}": Precondition failed: '
                f"UID in precondition: {uid}, UID in object meta: {meta['uid']}",
                StoreError._details(k, name),
            )
        if resource_version is not None and resource_version != meta["resourceVersion"]:
            raise StoreError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {k.group_resource} "{name}": Precondition failed: '
                f"ResourceVersion in precondition: {resource_version}, ResourceVersion in object "
                f"meta: {meta['resourceVersion']}",
                StoreError._details(k, name),
            )
        if propagation not in ("Background", "Foreground", "Orphan"):
            raise StoreError.bad_request(
                f'propagationPolicy: Unsupported value: "{propagation}": supported values: '
                '"Foreground", "Background", "Orphan"'
            )
        if dry_run:
            return deep_copy(stored)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return deep_copy(stored)
            new = deep_copy(stored)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            return self._commit("MODIFIED", k, new, stored)
        if propagation == "Orphan":
            self._orphan(meta["uid"])
        elif propagation == "Foreground":
            self._collect(meta["uid"], "Foreground")
        if k.kind == "Namespace":
            self._empty_namespace(name)
        result = self._remove(k, ns, name)
        if propagation == "Background":
            self._collect(meta["uid"], "Background")
        return result

    # -- watching --------------------------------------------------------------------------------

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(type, obj, old)`` after every change (obj read-only); returns unsubscribe."""
        self._subscribers.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

        return unsubscribe

    def add_listener(self, fn: Callable[[WatchEvent], None]) -> Callable[[], None]:
        """Call ``fn(event)`` with the raw event (stored objects, no copy) after every change.

        For the API's watches, which only serialise; returns a remover.
        """
        self._listeners.append(fn)

        def remove() -> None:
            if fn in self._listeners:
                self._listeners.remove(fn)

        return remove

    def json_of(self, obj: Obj) -> bytes:
        """Compact JSON of an object; cached while ``obj`` is the stored (immutable) version.

        Lists and watches of unchanged objects then cost a join, not a serialisation, the way
        the apiserver's watch cache keeps encoded objects.
        """
        cached = self._json.get(id(obj))
        if cached is not None:
            return cached
        data = json.dumps(obj, separators=(",", ":")).encode()
        meta = obj.get("metadata") or {}
        kind_map = self._objects.get(str(obj.get("kind", "")), {})
        if kind_map.get(meta.get("namespace", ""), {}).get(meta.get("name", "")) is obj or (
            kind_map.get("", {}).get(meta.get("name", "")) is obj
        ):
            self._json[id(obj)] = data
        return data

    @property
    def listener_count(self) -> int:
        """How many raw listeners (open watches plus the server's own) are registered."""
        return len(self._listeners)

    def events_since(self, rv: int) -> builtins.list[WatchEvent]:
        """Events newer than ``rv`` (oldest first); 410 Expired when the window lost some."""
        if rv < self._compacted_rv:
            raise StoreError.expired(f"too old resource version: {rv} ({self._rv})")
        start = bisect.bisect_right(self._events, rv, key=lambda e: e.rv)
        return self._events[start:]

    def check_fresh(self, rv: int) -> None:
        """410 Expired if ``rv`` is older than the event window (continue tokens, watches)."""
        if rv < self._compacted_rv:
            raise StoreError.expired(f"too old resource version: {rv} ({self._rv})")

    def compact(self) -> None:
        """Forget every event so far, as etcd compaction does; older RVs then answer 410."""
        self._events.clear()
        self._compacted_rv = self._rv

    # -- internals -------------------------------------------------------------------------------

    def _kind_of(self, obj: Obj) -> Kind:
        try:
            kind = kind_by_name(str(obj.get("kind", "")))
        except KeyError as err:
            raise StoreError.bad_request(str(err.args[0])) from None
        if not kind.persisted:
            raise StoreError.bad_request(f"{kind.kind} objects are not stored")
        if obj.get("apiVersion") not in (None, "", kind.api_version):
            raise StoreError.bad_request(
                f"simcluster serves {kind.kind} as {kind.api_version}, not {obj.get('apiVersion')}"
            )
        return kind

    def _check_namespace(self, kind: Kind, meta: Obj, name: str) -> str:
        if not kind.namespaced:
            meta.pop("namespace", None)
            return ""
        namespace = str(meta.get("namespace") or "")
        if not namespace:
            raise StoreError.invalid(kind, name, [("metadata.namespace", "Required value")])
        ns = self._objects.get("Namespace", {}).get("", {}).get(namespace)
        if ns is None:
            raise StoreError(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        if ns["metadata"].get("deletionTimestamp"):
            raise StoreError(
                403,
                "Forbidden",
                f'{kind.plural} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                StoreError._details(kind, name),
            )
        return namespace

    def _prepare(self, kind: Kind, obj: Obj, old: Obj | None) -> None:
        """Defaults, admission mutators, defaults again (for what the mutators added)."""
        if kind.custom:
            _prune_nulls(obj)  # CRD fields are not nullable: the apiserver drops nulls
        apply_defaults(kind, obj, self.addresses)
        if kind.kind == "Secret":
            self._fold_string_data(obj)
        if self._mutators:
            for fn in list(self._mutators):
                fn("CREATE" if old is None else "UPDATE", obj, old)
            apply_defaults(kind, obj, self.addresses)

    @staticmethod
    def _fold_string_data(obj: Obj) -> None:
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        obj.setdefault("type", "Opaque")

    @staticmethod
    def _carry_allocations(kind: Kind, new: Obj, old: Obj) -> None:
        """Service clusterIP and nodePorts survive an update that leaves them out."""
        if kind.kind != "Service":
            return
        new_spec, old_spec = new.setdefault("spec", {}), old.get("spec", {})
        for key in ("clusterIP", "clusterIPs"):
            if not new_spec.get(key) and old_spec.get(key):
                new_spec[key] = deep_copy(old_spec[key])
        old_ports = {
            (p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or []
        }
        for port in new_spec.get("ports") or []:
            prev = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
            if prev and "nodePort" in prev and "nodePort" not in port:
                port["nodePort"] = prev["nodePort"]

    def _validate(self, kind: Kind, obj: Obj, old: Obj | None) -> None:
        meta = obj["metadata"]
        name = str(meta.get("name") or "")
        causes: builtins.list[tuple[str, str]] = []
        if not name:
            causes.append(("metadata.name", "Required value: name or generateName is required"))
        elif kind.kind in _LABEL_NAMED:
            if len(name) > 63 or not _DNS_LABEL.fullmatch(name):
                causes.append(
                    (
                        "metadata.name",
                        f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower '
                        "case alphanumeric characters or '-', and must start and end with an "
                        "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                    )
                )
        elif len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
            causes.append(
                (
                    "metadata.name",
                    f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
                    "case alphanumeric characters, '-' or '.', and must start and end with an "
                    "alphanumeric character (e.g. 'example.com', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                )
            )
        labels = meta.get("labels") or {}
        if not isinstance(labels, dict):
            causes.append(("metadata.labels", "Invalid value: must be a map of strings"))
        else:
            for key, value in labels.items():
                try:
                    selectors.parse_label_selector(f"{key}={value}" if value else key)
                except selectors.SelectorError:
                    causes.append(("metadata.labels", f'Invalid value: "{key}={value}"'))
                if not isinstance(value, str):
                    causes.append((f"metadata.labels[{key}]", "Invalid value: must be a string"))
        annotations = meta.get("annotations") or {}
        if isinstance(annotations, dict):
            for key, value in annotations.items():
                if not isinstance(value, str):
                    causes.append(
                        (f"metadata.annotations[{key}]", "Invalid value: must be a string")
                    )
        causes.extend(self._validate_spec(kind, obj, old))
        if causes:
            raise StoreError.invalid(kind, name, causes)

    @staticmethod
    def _validate_spec(kind: Kind, obj: Obj, old: Obj | None) -> builtins.list[tuple[str, str]]:
        causes: builtins.list[tuple[str, str]] = []
        spec = obj.get("spec") or {}
        for key in _REQUIRED_SPEC.get(kind.kind, ()):
            if key not in spec:
                causes.append((f"spec.{key}", "Required value"))
        causes.extend(_schema_causes(kind.kind, obj))
        if kind.kind == "Pod":
            if not spec.get("containers"):
                causes.append(("spec.containers", "Required value"))
            for i, c in enumerate(spec.get("containers") or []):
                if not c.get("name"):
                    causes.append((f"spec.containers[{i}].name", "Required value"))
                if not c.get("image"):
                    causes.append((f"spec.containers[{i}].image", "Required value"))
            if old is not None and _mutable_pod_spec(spec) != _mutable_pod_spec(
                old.get("spec") or {}
            ):
                causes.append(
                    (
                        "spec",
                        "Forbidden: pod updates may not change fields other than "
                        "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                        "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if "
                        "it was previously negative)",
                    )
                )
        if kind.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            selector = spec.get("selector")
            template = spec.get("template") or {}
            if not selector:
                causes.append(("spec.selector", "Required value"))
            elif not selectors.selector_from_match(selector)(template):
                causes.append(
                    (
                        "spec.template.metadata.labels",
                        f"Invalid value: {(template.get('metadata') or {}).get('labels')!r}: "
                        "`selector` does not match template `labels`",
                    )
                )
            if not (template.get("spec") or {}).get("containers"):
                causes.append(("spec.template.spec.containers", "Required value"))
            if old is not None and selector != (old.get("spec") or {}).get("selector"):
                causes.append(("spec.selector", f"Invalid value: {selector!r}: field is immutable"))
            replicas = spec.get("replicas", 1)
            if not isinstance(replicas, int) or replicas < 0:
                causes.append(
                    (
                        "spec.replicas",
                        f"Invalid value: {replicas}: must be greater than or equal to 0",
                    )
                )
        return causes

    def _commit(self, event_type: str, kind: Kind, obj: Obj, old: Obj | None) -> Obj:
        self._rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self._rv)
        ns = meta.get("namespace", "") if kind.namespaced else ""
        by_name = self._objects.setdefault(kind.kind, {}).setdefault(ns, {})
        previous = by_name.get(meta["name"])
        if previous is not None:
            self._json.pop(id(previous), None)
        by_name[meta["name"]] = obj
        self._index_owners(kind, obj, old)
        self._uids.add(meta["uid"])
        self._record(WatchEvent(self._rv, event_type, kind.kind, obj, old))
        return deep_copy(obj)

    def _remove(self, kind: Kind, ns: str, name: str) -> Obj:
        by_ns = self._objects[kind.kind]
        stored = by_ns[ns].pop(name)
        self._json.pop(id(stored), None)
        if not by_ns[ns]:
            del by_ns[ns]
        self._rv += 1
        gone = dict(stored)
        gone["metadata"] = dict(stored["metadata"], resourceVersion=str(self._rv))
        self._index_owners(kind, None, stored)
        self._uids.discard(stored["metadata"]["uid"])
        self._record(WatchEvent(self._rv, "DELETED", kind.kind, gone, stored))
        return deep_copy(gone)

    def _record(self, event: WatchEvent) -> None:
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

    def _index_owners(self, kind: Kind, new: Obj | None, old: Obj | None) -> None:
        for obj, add in ((old, False), (new, True)):
            if obj is None:
                continue
            meta = obj["metadata"]
            key = (kind.kind, meta.get("namespace", "") if kind.namespaced else "", meta["name"])
            for ref in meta.get("ownerReferences") or []:
                uid = ref.get("uid")
                if not uid:
                    continue
                if add:
                    self._dependents.setdefault(uid, set()).add(key)
                elif uid in self._dependents:
                    self._dependents[uid].discard(key)
                    if not self._dependents[uid]:
                        del self._dependents[uid]

    def _collect(self, owner_uid: str, propagation: str) -> None:
        """Garbage-collect dependents of a deleted owner (all their owners must be gone)."""
        for kind_name, ns, name in sorted(self._dependents.get(owner_uid, ())):
            stored = self._objects.get(kind_name, {}).get(ns, {}).get(name)
            if stored is None:
                continue
            owners = [
                r
                for r in stored["metadata"].get("ownerReferences") or []
                if r.get("uid") != owner_uid
            ]
            if any(self._uid_exists(r.get("uid", "")) for r in owners):
                new = deep_copy(stored)
                new["metadata"]["ownerReferences"] = owners
                self._commit("MODIFIED", kind_by_name(kind_name), new, stored)
                continue
            self.delete(kind_name, ns or None, name, propagation=propagation)

    def _orphan(self, owner_uid: str) -> None:
        for kind_name, ns, name in sorted(self._dependents.get(owner_uid, ())):
            stored = self._objects.get(kind_name, {}).get(ns, {}).get(name)
            if stored is None:
                continue
            new = deep_copy(stored)
            refs = [
                r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
            ]
            if refs:
                new["metadata"]["ownerReferences"] = refs
            else:
                new["metadata"].pop("ownerReferences", None)
            self._commit("MODIFIED", kind_by_name(kind_name), new, stored)

    def _uid_exists(self, uid: str) -> bool:
        return uid in self._uids

    def _empty_namespace(self, namespace: str) -> None:
        for kind_name, by_ns in list(self._objects.items()):
            for name in sorted(by_ns.get(namespace, {})):
                if name in self._objects.get(kind_name, {}).get(namespace, {}):
                    stored = self._objects[kind_name][namespace][name]
                    if stored["metadata"].get("finalizers"):
                        new = deep_copy(stored)
                        new["metadata"]["finalizers"] = []
                        self._commit("MODIFIED", kind_by_name(kind_name), new, stored)
                    self._remove(kind_by_name(kind_name), namespace, name)


def _mutable_pod_spec(spec: Obj) -> Obj:
    """A pod spec without the fields an update may change, for the immutability check."""
    out = deep_copy(spec)
    for key in ("containers", "initContainers"):
        for c in out.get(key) or []:
            c.pop("image", None)
    out.pop("activeDeadlineSeconds", None)
    out.pop("tolerations", None)
    return out
