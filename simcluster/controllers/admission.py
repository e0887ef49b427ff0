"""Validating admission webhooks as the API server calls them, for Istio's validators.

simcluster runs no webhook servers. On every create and update, the ValidatingWebhookConfigurations
whose rules, namespaceSelector and objectSelector match the request are called in the API
server's order; a call to a Service that does not exist, or that has no ready endpoint, fails
the request with the API server's message when the webhook's ``failurePolicy`` is ``Fail`` and is
skipped when it is ``Ignore``. A call that can be made is allowed (istiod's own checks of the
config are not modelled). The message has the real shape::

    Internal error occurred: failed calling webhook "validation.istio.io": failed to call
    webhook: Post "https://istiod.istio-system.svc:443/validate?timeout=10s": service "istiod"
    not found
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simcluster.apierrors import StoreError
from simcluster.controllers.injection import matching_webhooks, webhook_ready
from simcluster.kinds import kind_by_name
from simcluster.mesh import Objects

__all__ = ["validator", "webhook_call_error"]

Obj = dict[str, Any]


def webhook_call_error(store: Objects, hook: Obj) -> str:
    """Why the API server cannot call ``hook`` ("" when it can)."""
    svc = (hook.get("clientConfig") or {}).get("service") or {}
    if not svc:
        return ""
    name, namespace = str(svc.get("name")), str(svc.get("namespace", "default"))
    path = str(svc.get("path") or "/")
    port = int(svc.get("port") or 443)
    if store.get("Service", namespace, name) is None:
        reason = f'service "{name}" not found'
    elif not webhook_ready(store, namespace, name):
        reason = f'no endpoints available for service "{name}"'
    else:
        return ""
    return (
        f'Internal error occurred: failed calling webhook "{hook.get("name")}": failed to call '
        f'webhook: Post "https://{name}.{namespace}.svc:{port}{path}?timeout=10s": {reason}'
    )


def validator(store: Objects) -> Callable[[str, Obj, Obj | None], None]:
    """The admission hook for ``Store.add_mutator`` that calls the validating webhooks."""

    def admit(operation: str, obj: Obj, old: Obj | None) -> None:
        try:
            kind = kind_by_name(str(obj.get("kind")))
        except KeyError:
            return
        if kind.group not in (
            "networking.istio.io",
            "security.istio.io",
            "telemetry.istio.io",
            "extensions.istio.io",
        ):
            return  # only Istio's validators are modelled; they select only these groups
        if operation == "UPDATE" and old is not None and old.get("spec") == obj.get("spec"):
            return
        for _config, hook in matching_webhooks(
            store,
            "ValidatingWebhookConfiguration",
            obj,
            group=kind.group,
            resource=kind.plural,
            operation=operation,
        ):
            message = webhook_call_error(store, hook)
            if message and hook.get("failurePolicy", "Fail") == "Fail":
                raise StoreError(500, "InternalError", message)

    return admit
