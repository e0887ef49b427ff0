"""PATCH bodies as the apiserver applies them, chosen by Content-Type.

- ``application/json-patch+json``: RFC 6902 (``~0``/``~1`` pointer escapes, ``-`` appends, ``test``);
- ``application/merge-patch+json``: RFC 7386 (null deletes, lists replaced);
- ``application/strategic-merge-patch+json``: Kubernetes strategic merge for built-in kinds: lists
  of containers, env, volumes, ports... merge by their key, ``$patch: delete|replace|merge``
  directives, ``$setElementOrder/<field>``, ``$deleteFromPrimitiveList/<field>``, ``$retainKeys``;
  custom resources answer 415 as a real server does;
- ``application/apply-patch+yaml``: server-side apply, approximated as a merge of the applied
  configuration (no field ownership or conflicts).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from simcluster.apierrors import StoreError
from simcluster.apiobject import deep_copy

Obj = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


def _invalid(message: str) -> StoreError:
    return StoreError(422, "Invalid", message)


# -- RFC 6902 -------------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid(f'json patch: invalid path "{path}": must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, path: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise _invalid(f'json patch: invalid array index "{token}" in path "{path}"')
    idx = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if idx > limit:
        raise _invalid(f'json patch: index {idx} out of range in path "{path}": missing value')
    return idx


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    cur = doc
    for tok in tokens[:-1]:
        if isinstance(cur, dict):
            if tok not in cur:
                raise _invalid(f'doc is missing path: "{path}": missing value')
            cur = cur[tok]
        elif isinstance(cur, list):
            cur = cur[_index(cur, tok, path, allow_end=False)]
        else:
            raise _invalid(f'doc is missing path: "{path}": missing value')
    return cur


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _invalid(f'doc is missing path: "{path}": missing value')
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, path, allow_end=False)]
    raise _invalid(f'doc is missing path: "{path}": missing value')


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), value)
    else:
        raise _invalid(
            f'add operation does not apply: doc is missing path: "{path}": missing value'
        )
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise _invalid(f"{op} operation does not apply: cannot remove the whole document")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _invalid(
                f'{op} operation does not apply: doc is missing path: "{path}": missing value'
            )
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, path, allow_end=False)]
    else:
        raise _invalid(
            f'{op} operation does not apply: doc is missing path: "{path}": missing value'
        )
    return doc


def _replace(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    _get(doc, path)  # the target must exist
    parent = _parent(doc, tokens, path)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent[_index(parent, tokens[-1], path, allow_end=False)] = value
    return doc


def json_patch(doc: Obj, ops: Any) -> Obj:
    """Apply an RFC 6902 patch to a copy of ``doc``; 400 if malformed, 422 if it does not apply."""
    if not isinstance(ops, list):
        raise StoreError.bad_request(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    out: Any = deep_copy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise StoreError.bad_request(f"invalid JSON patch operation: {json.dumps(op)}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise StoreError.bad_request(f'{kind} operation is missing "value": {json.dumps(op)}')
        if kind == "add":
            out = _add(out, path, deep_copy(op["value"]))
        elif kind == "remove":
            out = _remove(out, path)
        elif kind == "replace":
            out = _replace(out, path, deep_copy(op["value"]))
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise StoreError.bad_request(
                    f'{kind} operation is missing "from": {json.dumps(op)}'
                )
            value = deep_copy(_get(out, op["from"]))
            if kind == "move":
                out = _remove(out, op["from"], "move")
            out = _add(out, path, value)
        elif kind == "test":
            if _get(out, path) != op["value"]:
                raise _invalid(f"testing value {path} failed: test failed")
        else:
            raise StoreError.bad_request(f'Unexpected kind: "{kind}"')
    if not isinstance(out, dict):
        raise _invalid("json patch: the patched document is not an object")
    return out


# -- RFC 7386 -------------------------------------------------------------------------------------


def merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    out = deep_copy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# -- strategic merge ------------------------------------------------------------------------------

# Merge keys of the built-in types (from the Go struct tags `patchMergeKey`), by field name; the
# caller's path decides the ambiguous ``ports``.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "conditions": "type",
    "topologySpreadConstraints": "topologyKey",
    "webhooks": "name",
    "resourceClaims": "name",
}
# Primitive lists with patchStrategy "merge" (union instead of replace).
_MERGED_PRIMITIVES = {"finalizers"}


def _merge_key(field: str, path: tuple[str, ...]) -> str | None:
    if field == "ports":
        return (
            "containerPort"
            if path and path[-1] in _MERGE_KEYS and path[-1].endswith("ontainers")
            else "port"
        )
    return _MERGE_KEYS.get(field)


def _order(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """Apply ``$setElementOrder``: listed elements in that order, the others after them."""

    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    order_ids = [ident(o) for o in order]
    listed = sorted(
        (i for i in items if ident(i) in order_ids), key=lambda i: order_ids.index(ident(i))
    )
    return listed + [i for i in items if ident(i) not in order_ids]


def _merge_list(field: str, path: tuple[str, ...], current: Any, patch: list[Any]) -> list[Any]:
    key = _merge_key(field, path)
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [
            _strip(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")
        ]
    current_list = deep_copy(current) if isinstance(current, list) else []
    if key is None:
        if field in _MERGED_PRIMITIVES:
            return current_list + [p for p in patch if p not in current_list]
        return [_strip(p) for p in patch]
    for item in patch:
        if not isinstance(item, dict):
            raise StoreError.bad_request(
                f"unable to find api field in struct {field} for the json field {item!r}"
            )
        if key not in item:
            raise StoreError.bad_request(f"map: {item} does not contain declared merge key: {key}")
        idx = next(
            (
                i
                for i, c in enumerate(current_list)
                if isinstance(c, dict) and c.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if idx is not None:
                del current_list[idx]
            continue
        if idx is None:
            current_list.append(_strip(item))
        else:
            current_list[idx] = strategic_merge(current_list[idx], item, (*path, field))
    return current_list


def _strip(value: Any) -> Any:
    """Remove patch directives from a value that is inserted as is."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def strategic_merge(doc: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """Kubernetes strategic merge of ``patch`` into a copy of ``doc`` (built-in kinds only)."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"})
    if directive not in (None, "merge"):
        raise StoreError.bad_request(f"Unknown patch type: {directive}")
    out = deep_copy(doc) if isinstance(doc, dict) else {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value if isinstance(value, list) else []
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(out.get(field), list) and isinstance(value, list):
                out[field] = [v for v in out[field] if v not in value]
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list):
            out[key] = _merge_list(key, path, out.get(key), value)
        elif isinstance(value, dict):
            merged = strategic_merge(out.get(key), value, (*path, key))
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        else:
            out[key] = value
    for field, order in orders.items():
        if isinstance(out.get(field), list):
            out[field] = _order(out[field], order, _merge_key(field, path))
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


# -- dispatch -------------------------------------------------------------------------------------


def apply_patch(content_type: str, doc: Obj, body: bytes, *, custom: bool) -> Obj:
    """The patched copy of ``doc``; 415 for unsupported types (and SMP on custom resources)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in PATCH_TYPES or (custom and media == STRATEGIC_PATCH):
        raise StoreError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}"
            + ("" if custom else f", {STRATEGIC_PATCH}"),
        )
    try:
        patch = yaml.safe_load(body) if media == APPLY_PATCH else json.loads(body or b"null")
    except (ValueError, yaml.YAMLError) as err:
        raise StoreError.bad_request(f"error decoding patch: {err}") from None
    if media == JSON_PATCH:
        return json_patch(doc, patch)
    if not isinstance(patch, dict):
        raise StoreError.bad_request(
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        )
    if media == MERGE_PATCH:
        return dict(merge_patch(doc, patch))
    if media == STRATEGIC_PATCH:
        return dict(strategic_merge(doc, patch))
    merge = strategic_merge if not custom else merge_patch
    return dict(merge(doc, patch))
