"""RBAC as the simulated apiserver applies it: a deny list that tests switch on and off.

A real cluster evaluates Roles and bindings; simcluster has one anonymous user who may do
everything until a test denies a (verb, resource, namespace). That is enough to rehearse what
the verifier does when it lacks a permission, without modelling RBAC objects.
"""

from __future__ import annotations

__all__ = ["AccessRules"]


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
