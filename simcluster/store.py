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

This module is the storage core; the rules it applies live next to it, one concern each:
``simcluster.validation`` (422 Invalid), ``simcluster.garbage`` (owner references),
``simcluster.history`` (event window, watches, subscribers), ``simcluster.access`` (RBAC),
``simcluster.allocation`` (Service addresses) and ``simcluster.apierrors`` (the errors).
"""

from __future__ import annotations

import base64
import bisect
import builtins
import json
import random
import uuid
from collections.abc import Callable, Iterator

from simcluster import garbage, history, selectors, validation
from simcluster.access import AccessRules
from simcluster.allocation import ServiceAllocator, keep_allocations
from simcluster.apierrors import StoreError
from simcluster.apiobject import Obj, deep_copy, now_rfc3339
from simcluster.history import Subscriber, WatchEvent
from simcluster.kinds import Kind, apply_defaults, kind_by_name, kind_of

# Callers outside simcluster import these from here; they are defined next door.
__all__ = ["AccessRules", "Store", "StoreError", "WatchEvent", "deep_copy", "now_rfc3339"]

Objs = list[Obj]  # (an alias: Store.list shadows the builtin inside the class)
Mutator = Callable[[str, Obj, "Obj | None"], None]


# apimachinery's utilrand.String alphabet (no vowels, no 0/1/3): generateName suffixes look as
# on a real cluster.
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


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
        self._history = history.History(window)
        self._mutators: list[Mutator] = []
        self._owners = garbage.OwnerIndex()
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
        changed = [
            e
            for e in self.events_since(at)
            if e.kind == kind
            and (namespace is None or e.obj["metadata"].get("namespace", "") == (namespace or ""))
        ]
        if not changed:
            return None
        return history.rewind(self._iter(kind, namespace, after), changed, after)

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
            suffix = "".join(random.choices(NAME_ALPHABET, k=5))
            meta["name"] = f"{meta['generateName']}{suffix}"
        name = str(meta.get("name") or "")
        namespace = self._check_namespace(kind, meta, name)
        if name and name in self._objects.get(kind.name, {}).get(namespace, {}):
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
        validation.validate(kind, obj, None)
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
        old = self._objects.get(kind.name, {}).get(namespace, {}).get(name)
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
            if kind.kind == "Service":
                keep_allocations(new, old)
            self._prepare(kind, new, old)
            validation.validate(kind, new, old)
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
        return self._history.subscribe(fn)

    def add_listener(self, fn: history.Listener) -> Callable[[], None]:
        """Call ``fn(event)`` with the raw event (stored objects, no copy) after every change.

        For the API's watches, which only serialise; returns a remover.
        """
        return self._history.add_listener(fn)

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
        return self._history.listener_count

    def events_since(self, rv: int) -> builtins.list[WatchEvent]:
        """Events newer than ``rv`` (oldest first); 410 Expired when the window lost some."""
        return self._history.since(rv, self._rv)

    def check_fresh(self, rv: int) -> None:
        """410 Expired if ``rv`` is older than the event window (continue tokens, watches)."""
        self._history.check_fresh(rv, self._rv)

    def compact(self) -> None:
        """Forget every event so far, as etcd compaction does; older RVs then answer 410."""
        self._history.compact(self._rv)

    # -- internals -------------------------------------------------------------------------------

    def _kind_of(self, obj: Obj) -> Kind:
        try:
            kind = kind_of(obj)
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
            validation.prune_nulls(obj)  # CRD fields are not nullable: the apiserver drops nulls
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

    def _commit(self, event_type: str, kind: Kind, obj: Obj, old: Obj | None) -> Obj:
        self._rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self._rv)
        ns = meta.get("namespace", "") if kind.namespaced else ""
        by_name = self._objects.setdefault(kind.name, {}).setdefault(ns, {})
        previous = by_name.get(meta["name"])
        if previous is not None:
            self._json.pop(id(previous), None)
        by_name[meta["name"]] = obj
        self._owners.track(kind, obj, old)
        self._history.record(WatchEvent(self._rv, event_type, kind.name, obj, old))
        return deep_copy(obj)

    def _remove(self, kind: Kind, ns: str, name: str) -> Obj:
        by_ns = self._objects[kind.name]
        stored = by_ns[ns].pop(name)
        self._json.pop(id(stored), None)
        if not by_ns[ns]:
            del by_ns[ns]
        self._rv += 1
        gone = dict(stored)
        gone["metadata"] = dict(stored["metadata"], resourceVersion=str(self._rv))
        self._owners.track(kind, None, stored)
        self._history.record(WatchEvent(self._rv, "DELETED", kind.name, gone, stored))
        return deep_copy(gone)

    def stored(self, key: garbage.ObjectKey) -> Obj | None:
        """The stored object (no copy) for a (kind, namespace, name) key: garbage.Lookup."""
        kind_name, ns, name = key
        return self._objects.get(kind_name, {}).get(ns, {}).get(name)

    def _collect(self, owner_uid: str, propagation: str) -> None:
        """Garbage-collect dependents of a deleted owner (all their owners must be gone)."""
        for action in garbage.collect(owner_uid, self._owners, self):
            if isinstance(action, garbage.Delete):
                kind_name, ns, name = action.key
                self.delete(kind_name, ns or None, name, propagation=propagation)
            else:
                self._release(action)

    def _orphan(self, owner_uid: str) -> None:
        for action in garbage.orphan(owner_uid, self._owners, self):
            self._release(action)

    def _release(self, release: garbage.Release) -> None:
        """Store the dependent with its remaining ownerReferences."""
        stored = self.stored(release.key)
        assert stored is not None  # the collector just read it
        new = deep_copy(stored)
        if release.owner_references is None:
            new["metadata"].pop("ownerReferences", None)
        else:
            new["metadata"]["ownerReferences"] = deep_copy(release.owner_references)
        self._commit("MODIFIED", kind_by_name(release.key[0]), new, stored)

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
