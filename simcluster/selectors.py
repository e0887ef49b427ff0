"""Label and field selectors with the apiserver's grammar and error messages.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``,
joined by commas. Field selectors: ``f=v``, ``f==v``, ``f!=v`` over a per-kind set of fields;
an unsupported field is a 400, as on a real server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


class SelectorError(ValueError):
    """A selector the apiserver would answer with 400 BadRequest; the message is the server's."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!":
            return self.key not in labels
        if self.op in ("=", "in"):
            return self.key in labels and labels[self.key] in self.values
        # "!=" and "notin" match objects without the key, like the apiserver
        return self.key not in labels or labels[self.key] not in self.values


_KEY = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_KEY_RE = re.compile(_KEY)
_VALUE_RE = re.compile(_VALUE)
_TOKEN_RE = re.compile(r"\s*(\(|\)|,|!=|==|=|!|[^\s(),!=]+)")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:  # pragma: no cover - the pattern matches any non-space char
            raise SelectorError(f"unable to parse requirement: {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _check_key(key: str) -> str:
    if not _KEY_RE.fullmatch(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise SelectorError(
            f"unable to parse requirement: values[0][{key}]: Invalid value: {key!r}: name part "
            "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character"
        )
    return key


def _check_value(key: str, value: str) -> str:
    if not _VALUE_RE.fullmatch(value) or len(value) > 63:
        raise SelectorError(
            f"unable to parse requirement: values[0][{key}]: Invalid value: {value!r}: a valid "
            "label must be an empty string or consist of alphanumeric characters, '-', '_' or "
            "'.', and must start and end with an alphanumeric character"
        )
    return value


def parse_label_selector(text: str) -> tuple[Requirement, ...]:
    """Parse a label selector string; raises SelectorError with the server's wording."""
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def peek() -> str | None:
        return toks[i] if i < len(toks) else None

    while i < len(toks):
        tok = toks[i]
        if tok == "!":
            i += 1
            key = peek()
            if key is None or key in "(),=!":
                raise SelectorError(
                    f"unable to parse requirement: found '{key or ''}', expected: identifier"
                )
            reqs.append(Requirement(_check_key(key), "!"))
            i += 1
        else:
            key = _check_key(tok)
            i += 1
            op = peek()
            if op is None or op == ",":
                reqs.append(Requirement(key, "exists"))
            elif op in ("=", "==", "!="):
                i += 1
                value = peek()
                if value is None or value == ",":
                    value = ""
                else:
                    if value in "()=!":
                        raise SelectorError(
                            f"unable to parse requirement: found '{value}', expected: identifier"
                        )
                    i += 1
                reqs.append(
                    Requirement(key, "!=" if op == "!=" else "=", (_check_value(key, value),))
                )
            elif op in ("in", "notin"):
                i += 1
                if peek() != "(":
                    raise SelectorError(
                        f"unable to parse requirement: found '{peek() or ''}', expected: '('"
                    )
                i += 1
                values: list[str] = []
                while True:
                    tok2 = peek()
                    if tok2 is None:
                        raise SelectorError("unable to parse requirement: found '', expected: ')'")
                    if tok2 == ")":
                        i += 1
                        break
                    if tok2 == ",":
                        i += 1
                        continue
                    values.append(_check_value(key, tok2))
                    i += 1
                if not values:
                    values = [""]
                reqs.append(Requirement(key, op, tuple(values)))
            else:
                raise SelectorError(
                    f"unable to parse requirement: found '{op}', expected: "
                    "in, notin, =, ==, !=, gt, lt"
                )
        nxt = peek()
        if nxt is not None:
            if nxt != ",":
                raise SelectorError(f"found '{nxt}', expected: ',' or 'end of string'")
            i += 1
            if peek() is None:
                raise SelectorError("found '', expected: !, identifier, or 'end of string'")
    return tuple(reqs)


def label_matcher(text: str) -> Callable[[Obj], bool]:
    """A predicate over objects for a label selector string ("" selects everything)."""
    reqs = parse_label_selector(text)
    if not reqs:
        return lambda _obj: True

    def match(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)

    return match


def selector_from_match(selector: Obj | None) -> Callable[[Obj], bool]:
    """A predicate for a LabelSelector object ({matchLabels, matchExpressions}), as workloads use."""
    if not selector:
        return lambda _obj: False
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        reqs.append(
            Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ()))
        )

    def match(obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)

    return match


# Fields each kind supports in fieldSelector beyond metadata.name / metadata.namespace.
FIELDS: dict[str, tuple[str, ...]] = {
    "Pod": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    ),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "Namespace": ("status.phase",),
    "Secret": ("type",),
    "ReplicaSet": ("status.replicas",),
    "Job": ("status.successful",),
}
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")


def _field_value(obj: Obj, path: str) -> str:
    if path == "status.podIPs":
        ips = (obj.get("status") or {}).get("podIPs") or []
        return ",".join(str(ip.get("ip", "")) for ip in ips)
    if path == "source":
        return str(((obj.get("source") or {}).get("component")) or "")
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_matcher(kind: str, text: str) -> Callable[[Obj], bool]:
    """A predicate for a field selector on ``kind``; unsupported fields raise SelectorError."""
    text = text.strip()
    if not text:
        return lambda _obj: True
    allowed = _COMMON_FIELDS + FIELDS.get(kind, ())
    reqs: list[tuple[str, bool, str]] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*", part)
        if m is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        path, op, value = m.groups()
        if path not in allowed:
            raise SelectorError(f"field label not supported: {path}")
        reqs.append((path, op != "!=", value))

    def match(obj: Obj) -> bool:
        return all((_field_value(obj, p) == v) == eq for p, eq, v in reqs)

    return match
