"""A strict validator for the OpenAPI v3 structural-schema subset the operator's CRDs use.

What the API server does with a v1 CRD, reduced to what can be wrong in a manifest: wrong types,
missing required fields, values outside an enum or pattern, and unknown fields (which the server
would silently prune, losing them; here they are errors). `x-kubernetes-preserve-unknown-fields`
and `x-kubernetes-int-or-string` are honoured.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["problems"]

Schema = dict[str, Any]


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    raise ValueError(f"schema type {kind!r} is not in the subset")


def problems(value: Any, schema: Schema, path: str = "") -> list[str]:
    """Every way `value` breaks `schema`, as `path: what` lines (empty when it is valid)."""
    where = path or "."
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null is not allowed"]
    if schema.get("x-kubernetes-int-or-string"):
        if not (_type_ok(value, "integer") or _type_ok(value, "string")):
            return [f"{where}: {value!r} is neither an integer nor a string"]
        return []
    kind = schema.get("type")
    if kind and not _type_ok(value, kind):
        return [f"{where}: {type(value).__name__} {value!r:.40} is not {kind}"]
    out: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        out.append(f"{where}: {value!r} does not match {schema['pattern']}")
    for bound, test in (("minimum", lambda v, b: v >= b), ("maximum", lambda v, b: v <= b)):
        if bound in schema and _type_ok(value, "number") and not test(value, schema[bound]):
            out.append(f"{where}: {value} is outside {bound} {schema[bound]}")
    if isinstance(value, dict):
        props: dict[str, Schema] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key in schema.get("required") or []:
            if key not in value:
                out.append(f"{path}.{key}: required")
        for key, sub in value.items():
            if not path and key in ("apiVersion", "kind", "metadata"):
                continue  # the API server validates these itself; CRDs leave them open
            if key in props:
                out += problems(sub, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                out += problems(sub, extra, f"{path}.{key}")
            elif extra is True or schema.get("x-kubernetes-preserve-unknown-fields"):
                continue
            else:
                out.append(f"{path}.{key}: unknown field (the API server would prune it)")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += problems(item, schema["items"], f"{path}[{i}]")
    return out
