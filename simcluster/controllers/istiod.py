"""What an upstream istiod (1.22 on) writes into the cluster once it serves: its webhooks' trust.

The charts create every webhook without a ``caBundle`` and the validators with
``failurePolicy: Ignore``. A running istiod of revision R patches the configurations labelled
``istio.io/rev=R``: each injector (``MutatingWebhookConfiguration``, tag webhooks included) gets
its CA bundle in every webhook's ``clientConfig.caBundle``; each validator (its own
``istio-validator-R-<ns>`` and, when base's ``defaultRevision`` is R, ``istiod-default-validator``)
gets the bundle and ``failurePolicy: Fail``. It does so when its Service has a ready endpoint,
and puts the fields back at once when someone (a GitOps sync) writes them: the write is
corrected as it is stored (an admission hook), so no reader ever sees the chart's values
again while istiod runs. A real istiod takes a moment; a gate that polls must not pass on the
moment, so none is modelled.

Fault ``cabundle-drift``: istiod keeps rewriting the bundle (a new one every second), so the
webhook configurations never stop changing.

Banzai's operator-made control planes are left to ``operator.py``.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from simcluster.controllers.injection import webhook_ready
from simcluster.mesh import ROOT_CA_ANNOTATION

if TYPE_CHECKING:
    from collections.abc import Callable

    from simcluster.controllers import Controllers

__all__ = ["Istiods", "ca_bundle", "is_upstream_istiod"]

Obj = dict[str, Any]
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
DRIFT_PERIOD = 1.0


def is_upstream_istiod(obj: Obj) -> bool:
    """An istiod Deployment from the charts (or plain YAML), not one Banzai's operator made."""
    meta = obj.get("metadata") or {}
    return (
        obj.get("kind") == "Deployment"
        and (meta.get("labels") or {}).get("app") == "istiod"
        and not any(r.get("kind") == "Istio" for r in meta.get("ownerReferences") or [])
    )


def ca_bundle(root: str, generation: int = 0) -> str:
    """The base64 PEM bundle an istiod with root ``root`` writes (new bytes per generation)."""
    digest = hashlib.sha256(f"{root}|{generation}".encode()).digest()
    body = base64.b64encode(digest * 24).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode()).decode()


def _revision(deployment: Obj) -> str:
    template = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in template.get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == "REVISION" and env.get("value"):
                return str(env["value"])
    return str((deployment["metadata"].get("labels") or {}).get("istio.io/rev") or "default")


class Istiods:
    """Patches the webhook configurations of each running upstream istiod."""

    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.store = ctl.store
        self._generation: dict[tuple[str, str], int] = {}

    def handlers(self) -> dict[str, Callable[[str, str], None]]:
        return {"istiod": self.sync}

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        kind = obj.get("kind")
        if is_upstream_istiod(obj):
            meta = obj["metadata"]
            self.ctl.enqueue("istiod", str(meta.get("namespace", "")), str(meta["name"]))
        elif kind in WEBHOOK_KINDS or (
            kind == "Endpoints" and str(obj["metadata"]["name"]).startswith("istiod")
        ):
            for dep in self.store.list("Deployment", shared=True)[0]:
                if is_upstream_istiod(dep):
                    meta = dep["metadata"]
                    self.ctl.enqueue("istiod", str(meta.get("namespace", "")), str(meta["name"]))

    def _trust(self, deployment: Obj) -> str:
        """The bundle this istiod writes now."""
        meta = deployment["metadata"]
        namespace = str(meta.get("namespace", ""))
        root = str((meta.get("annotations") or {}).get(ROOT_CA_ANNOTATION, "istio-ca-secret"))
        return ca_bundle(f"{namespace}/{root}", self._generation.get((namespace, meta["name"]), 0))

    def admit(self, operation: str, obj: Obj, old: Obj | None) -> None:
        """Admission hook: a write to a running istiod's webhooks keeps what istiod wrote."""
        kind = obj.get("kind")
        if kind not in WEBHOOK_KINDS:
            return
        revision = (obj["metadata"].get("labels") or {}).get("istio.io/rev")
        if not revision:
            return
        for dep in self.store.list("Deployment", shared=True)[0]:
            meta = dep["metadata"]
            namespace = str(meta.get("namespace", ""))
            if (
                is_upstream_istiod(dep)
                and _revision(dep) == revision
                and webhook_ready(self.store, namespace, str(meta["name"]))
            ):
                _set_trust(str(kind), obj, namespace, self._trust(dep))

    def sync(self, namespace: str, name: str) -> None:
        deployment = self.store.get("Deployment", namespace, name)
        if deployment is None or not is_upstream_istiod(deployment):
            self._generation.pop((namespace, name), None)
            return
        if not webhook_ready(self.store, namespace, name):
            return
        drifting = self.ctl.faults.enabled("cabundle-drift")
        key = (namespace, name)
        if drifting:
            self._generation[key] = self._generation.get(key, 0) + 1
        bundle = self._trust(deployment)
        revision = _revision(deployment)
        for kind in WEBHOOK_KINDS:
            for config in self.store.list(kind, shared=True)[0]:
                labels = config["metadata"].get("labels") or {}
                if labels.get("istio.io/rev") != revision:
                    continue
                self._patch(kind, config, namespace, bundle)
        if drifting:
            self.ctl.later(DRIFT_PERIOD, "istiod", namespace, name)

    def _patch(self, kind: str, config: Obj, namespace: str, bundle: str) -> None:
        current = self.store.get(kind, None, str(config["metadata"]["name"]))
        if current is None:
            return
        if _set_trust(kind, current, namespace, bundle):
            self.store.update(current)


def _set_trust(kind: str, config: Obj, namespace: str, bundle: str) -> bool:
    """Write istiod's bundle (and, in validators, Fail) into ``config``; True if it changed."""
    changed = False
    for hook in config.get("webhooks") or []:
        client = hook.setdefault("clientConfig", {})
        if (client.get("service") or {}).get("namespace", namespace) != namespace:
            continue
        if client.get("caBundle") != bundle:
            client["caBundle"] = bundle
            changed = True
        if kind == "ValidatingWebhookConfiguration" and hook.get("failurePolicy") != "Fail":
            hook["failurePolicy"] = "Fail"
            changed = True
    return changed
