"""Argo CD's comparison of desired and live objects, for the fields controllers rewrite.

An Application is OutOfSync when a live object differs from what Git renders, unless the
Application's ``spec.ignoreDifferences`` covers the difference. As in argo-cd's
``util/argo/normalizers/diff_normalizer.go``, entries select objects by ``group`` (``""`` for
the core group) and ``kind``, both globs (``*``), and optionally exact ``name`` and
``namespace``; a field is ignored when one of ``jsonPointers`` (RFC 6901, e.g.
``/webhooks/0/clientConfig/caBundle``, removed with everything below it) or
``jqPathExpressions`` (Argo CD deletes them with jq; here the path subset ``.a.b``, ``.a[]``,
``.a[]?``, ``.a[0]``, ``.["a"]``, while ``select(...)`` and other filters ignore nothing)
names it or a field above it. ``managedFieldsManagers`` is not modelled.

What differs (``differences``): every field Git sets whose live value is not the same, and,
for webhook configurations, a ``caBundle`` the live webhook has and Git does not: istiod
writes one into every webhook of its revision and flips the validators' ``failurePolicy`` from
the chart's ``Ignore`` to ``Fail``, which is what leaves naive istiod Applications OutOfSync.
Other fields only the live object has (server defaults, status) are not differences.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

__all__ = ["differences", "ignored", "jq_path", "pointer", "rules_for"]

Obj = dict[str, Any]
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_SKIP = ("status", "metadata")


def pointer(parts: list[str | int]) -> str:
    """An RFC 6901 JSON pointer for path parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _leaf_diffs(desired: Any, live: Any, path: list[str | int], out: list[str]) -> None:
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            out.append(pointer(path))
            return
        for key, value in desired.items():
            _leaf_diffs(value, live.get(key), [*path, key], out)
        return
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            out.append(pointer(path))
            return
        for i, (d, v) in enumerate(zip(desired, live, strict=True)):
            _leaf_diffs(d, v, [*path, i], out)
        return
    if desired != live and not (isinstance(desired, (int, float)) and str(desired) == str(live)):
        out.append(pointer(path))


def differences(desired: Obj, live: Obj) -> list[str]:
    """JSON pointers of the fields where ``live`` differs from ``desired`` (see module doc)."""
    out: list[str] = []
    for key, value in desired.items():
        if key in _SKIP or key in ("apiVersion", "kind"):
            continue
        _leaf_diffs(value, live.get(key), [key], out)
    for key in ("labels", "annotations"):
        wanted = (desired.get("metadata") or {}).get(key) or {}
        have = (live.get("metadata") or {}).get(key) or {}
        for k, v in wanted.items():
            if have.get(k) != v:
                out.append(pointer(["metadata", key, k]))
    if desired.get("kind") in WEBHOOK_KINDS:
        for i, hook in enumerate(live.get("webhooks") or []):
            wanted_hooks = desired.get("webhooks") or []
            wanted = wanted_hooks[i] if i < len(wanted_hooks) else {}
            if (hook.get("clientConfig") or {}).get("caBundle") and not (
                (wanted.get("clientConfig") or {}).get("caBundle")
            ):
                out.append(pointer(["webhooks", i, "clientConfig", "caBundle"]))
    return out


_JQ_TOKEN = re.compile(
    r'\.\s*([A-Za-z_][A-Za-z0-9_-]*)|\[\s*\]\??|\[\s*(\d+)\s*\]\??|\.?\[\s*"([^"]*)"\s*\]'
)


def jq_path(expression: str) -> list[str | None] | None:
    """A jq path expression as pointer segments (None: any array index); None if unsupported."""
    text = expression.strip()
    segments: list[str | None] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "?":
            pos += 1
            continue
        match = _JQ_TOKEN.match(text, pos)
        if not match:
            return None
        token = match.group(0)
        if match.group(1) is not None:
            segments.append(match.group(1))
        elif match.group(2) is not None:
            segments.append(match.group(2))
        elif match.group(3) is not None:
            segments.append(match.group(3))
        elif token.startswith("["):
            segments.append(None)
        pos = match.end()
    return segments


def _split(ptr: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]] if ptr else []


def _covers(pattern: list[str | None], parts: list[str]) -> bool:
    if len(pattern) > len(parts):
        return False
    return all((p is None and parts[i].isdigit()) or p == parts[i] for i, p in enumerate(pattern))


def rules_for(app: Obj, obj: Obj) -> list[Obj]:
    """The Application's ``ignoreDifferences`` entries that select ``obj``."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    meta = obj.get("metadata") or {}
    out = []
    for rule in (app.get("spec") or {}).get("ignoreDifferences") or []:
        if not fnmatch.fnmatchcase(group, str(rule.get("group", ""))):
            continue
        if not fnmatch.fnmatchcase(str(obj.get("kind", "")), str(rule.get("kind", ""))):
            continue
        if rule.get("name") and rule["name"] != meta.get("name"):
            continue
        if rule.get("namespace") and rule["namespace"] != meta.get("namespace"):
            continue
        out.append(rule)
    return out


def ignored(ptr: str, rules: list[Obj]) -> bool:
    """Is the difference at ``ptr`` (or a field above it) covered by one of ``rules``?"""
    parts = _split(ptr)
    for rule in rules:
        for raw in rule.get("jsonPointers") or []:
            if _covers(list(_split(str(raw))), parts):
                return True
        for expr in rule.get("jqPathExpressions") or []:
            pattern = jq_path(str(expr))
            if pattern is not None and _covers(pattern, parts):
                return True
    return False
