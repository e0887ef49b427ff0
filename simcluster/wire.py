"""The wire forms every API handler shares: JSON and Status responses, and request targets.

A ``Target`` is what a resource URL names (kind, namespace, name, subresource); ``verb_of`` and
``forbidden`` give the RBAC verb and the 403 a real apiserver would send. Kept apart from the
CRUD handlers in ``simcluster.api`` so the streaming handlers (``simcluster.streams``) answer
in exactly the same forms without importing the application.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from simcluster import discovery
from simcluster.apierrors import StoreError
from simcluster.kinds import Kind, kind_by_plural

Obj = dict[str, Any]


# -- responses ---------------------------------------------------------------------------------


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def json_response(
    obj: Any, status: int = 200, content_type: str = "application/json"
) -> web.Response:
    return web.Response(body=dumps(obj), status=status, headers={"Content-Type": content_type})


def status_response(err: StoreError, headers: dict[str, str] | None = None) -> web.Response:
    resp = json_response(err.to_status(), err.code)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def not_found_path() -> StoreError:
    return StoreError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed() -> StoreError:
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


def verb_of(method: str, target: Target, watch: bool) -> str:
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


def forbidden(user: str, verb: str, target: Target) -> StoreError:
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


def table_version(request: web.Request) -> str | None:
    """The Table version the client asks for in Accept (``kubectl get`` does), or None."""
    versions = discovery.wants(request.headers.get("Accept", ""), "meta.k8s.io", "Table")
    for v in versions:
        if v in ("v1", "v1beta1"):
            return f"meta.k8s.io/{v}"
    return None


def table_content_type(api_version: str) -> str:
    return f"application/json;as=Table;v={api_version.split('/')[1]};g=meta.k8s.io"
