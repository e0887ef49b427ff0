"""The webhook faults: what a botched upgrade leaves behind in the admission configuration.

``webhook-overlap``: an extra injector, MutatingWebhookConfiguration
``istio-sidecar-injector-overlap`` (labelled with the fault's name), points at the oldest upstream
istiod and matches every namespace labelled ``istio-injection=enabled`` or ``istio.io/rev=<any>``.
Its name sorts after the charts' (``istio-revision-tag-*``, ``istio-sidecar-injector[-<rev>]``
for revisions starting with a digit), so the API server calls it last and, since the upstream
injector re-injects, its revision wins: pods in a migrated namespace come up on the old
revision with no error, as with a leftover injector on a real cluster.

``dangling-validator``: ``istiod-default-validator`` (or, without one, every validator pointing
at an istiod) is pointed at ``istiod-retired``, a Service that does not exist, as when
``defaultRevision`` still names a deleted revision; creating Istio config then fails with the
API server's webhook call error (``controllers/admission.py``). A GitOps sync that puts the
name back is corrected as it is stored while the fault is on (an admission hook, so no request
ever sees the good name); switching it off restores the name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simcluster.apierrors import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable

    from simcluster.controllers import Controllers

__all__ = ["DANGLING_SERVICE", "FAULT_LABEL", "OVERLAP_NAME", "WebhookFaults"]

Obj = dict[str, Any]
OVERLAP_NAME = "istio-sidecar-injector-overlap"
DANGLING_SERVICE = "istiod-retired"
FAULT_LABEL = "simcluster.istio-canary.dev/fault"
ORIGINAL = "simcluster.istio-canary.dev/original-service"
KEY = ("webhook-faults", "", "")


def _istiod_services(services: list[Obj]) -> list[Obj]:
    """Upstream istiod Services (not revision-tag ones), oldest first."""
    found = [
        s
        for s in services
        if (s["metadata"].get("labels") or {}).get("app") == "istiod"
        and not (s["metadata"].get("labels") or {}).get("istio.io/tag")
        and ((s.get("spec") or {}).get("selector") or {}).get("app") == "istiod"
    ]
    return sorted(
        found,
        key=lambda s: (str(s["metadata"].get("creationTimestamp", "")), str(s["metadata"]["name"])),
    )


def _points_at_istiod(config: Obj) -> bool:
    return any(
        str(((h.get("clientConfig") or {}).get("service") or {}).get("name", "")).startswith(
            "istiod"
        )
        for h in config.get("webhooks") or []
    )


def overlap_webhooks(service: Obj) -> Obj:
    """The extra injector configuration of ``webhook-overlap`` pointing at ``service``."""
    meta = service["metadata"]
    rev = str((meta.get("labels") or {}).get("istio.io/rev") or "default")
    not_disabled = {
        "matchExpressions": [
            {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}
        ]
    }

    def hook(prefix: str, selector: Obj) -> Obj:
        return {
            "name": f"{prefix}sidecar-injector.istio.io",
            "clientConfig": {
                "service": {
                    "name": str(meta["name"]),
                    "namespace": str(meta.get("namespace", "istio-system")),
                    "path": "/inject",
                    "port": 443,
                }
            },
            "rules": [
                {
                    "operations": ["CREATE"],
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "resources": ["pods"],
                }
            ],
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "reinvocationPolicy": "Never",
            "admissionReviewVersions": ["v1"],
            "namespaceSelector": selector,
            "objectSelector": dict(not_disabled),
        }

    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": OVERLAP_NAME,
            "labels": {
                "app": "sidecar-injector",
                "istio.io/rev": rev,
                FAULT_LABEL: "webhook-overlap",
            },
        },
        "webhooks": [
            hook(
                "overlap.namespace.",
                {
                    "matchExpressions": [
                        {"key": "istio-injection", "operator": "In", "values": ["enabled"]}
                    ]
                },
            ),
            hook(
                "overlap.rev.",
                {
                    "matchExpressions": [
                        {"key": "istio.io/rev", "operator": "Exists"},
                        {"key": "istio-injection", "operator": "DoesNotExist"},
                    ]
                },
            ),
        ],
    }


class WebhookFaults:
    """Keeps the webhook faults' objects in the state the switches say."""

    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.store = ctl.store

    def handlers(self) -> dict[str, Callable[[str, str], None]]:
        return {"webhook-faults": lambda _ns, _name: self.sync()}

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        kind = obj.get("kind")
        if kind == "ValidatingWebhookConfiguration" or (
            kind == "Service" and (obj["metadata"].get("labels") or {}).get("app") == "istiod"
        ):
            self.ctl.enqueue(*KEY)

    def fault_changed(self) -> None:
        self.ctl.enqueue(*KEY)

    def admit(self, operation: str, obj: Obj, old: Obj | None) -> None:
        """Admission hook: while ``dangling-validator`` is on, a target validator stays dangling."""
        if obj.get("kind") != "ValidatingWebhookConfiguration":
            return
        if not self.ctl.faults.enabled("dangling-validator"):
            return
        name = str(obj["metadata"].get("name"))
        has_default = self.store.get(
            "ValidatingWebhookConfiguration", None, "istiod-default-validator"
        )
        if name != "istiod-default-validator" and (
            has_default is not None or not _points_at_istiod(obj)
        ):
            return
        annotations = obj["metadata"].setdefault("annotations", {})
        for hook in obj.get("webhooks") or []:
            svc = (hook.get("clientConfig") or {}).get("service") or {}
            if svc and svc.get("name") != DANGLING_SERVICE:
                annotations[ORIGINAL] = str(svc.get("name"))
                svc["name"] = DANGLING_SERVICE

    def sync(self) -> None:
        self._overlap(self.ctl.faults.enabled("webhook-overlap"))
        self._dangling(self.ctl.faults.enabled("dangling-validator"))

    def _overlap(self, on: bool) -> None:
        live = self.store.get("MutatingWebhookConfiguration", None, OVERLAP_NAME)
        services = _istiod_services(self.store.list("Service", shared=True)[0])
        if not on or not services:
            if live is not None:
                try:
                    self.store.delete("MutatingWebhookConfiguration", None, OVERLAP_NAME)
                except StoreError:
                    pass
            return
        desired = overlap_webhooks(services[0])
        if live is None:
            self.store.create(desired)
        elif live.get("webhooks") != desired["webhooks"]:
            live["webhooks"] = desired["webhooks"]
            live["metadata"]["labels"] = desired["metadata"]["labels"]
            self.store.update(live)

    def _dangling(self, on: bool) -> None:
        configs = self.store.list("ValidatingWebhookConfiguration", shared=True)[0]
        named = [c for c in configs if c["metadata"]["name"] == "istiod-default-validator"]
        targets = named or [
            c
            for c in configs
            if any(
                str(
                    ((h.get("clientConfig") or {}).get("service") or {}).get("name", "")
                ).startswith("istiod")
                for h in c.get("webhooks") or []
            )
        ]
        for config in configs:
            name = str(config["metadata"]["name"])
            current = self.store.get("ValidatingWebhookConfiguration", None, name)
            if current is None:
                continue
            annotations = current["metadata"].setdefault("annotations", {})
            changed = False
            for hook in current.get("webhooks") or []:
                svc = (hook.get("clientConfig") or {}).get("service") or {}
                if not svc:
                    continue
                if on and config in targets and svc.get("name") != DANGLING_SERVICE:
                    annotations[ORIGINAL] = str(svc.get("name"))
                    svc["name"] = DANGLING_SERVICE
                    changed = True
                elif not on and svc.get("name") == DANGLING_SERVICE and annotations.get(ORIGINAL):
                    svc["name"] = annotations[ORIGINAL]
                    changed = True
            if not on and ORIGINAL in annotations and changed:
                del annotations[ORIGINAL]
            if changed:
                self.store.update(current)
