"""Istio's admission webhooks read as the API server reads them: which injectors a pod meets.

Pure functions over the raw MutatingWebhookConfiguration / ValidatingWebhookConfiguration JSON.
The API server calls every mutating webhook whose rules cover pod CREATE and whose
namespaceSelector (against the namespace's live labels) and objectSelector (against the pod's
labels) both match; an absent or empty selector matches everything. Istio's injectors are the
webhooks named `*sidecar-injector.istio.io` (the charts' `rev.namespace.`, `rev.object.`,
`namespace.`, `object.`, `auto.` prefixes), in configurations labelled `app: sidecar-injector`;
each calls an istiod Service, `istiod` (the non-revisioned install, revision `default`) or
`istiod-<revision>` (istio/istio manifests/charts/istio-control/istio-discovery/templates/
mutatingwebhook.yaml, revision-tags-mwc.yaml).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Hook",
    "hooks",
    "injectors_matching",
    "is_injector",
    "revision_of_service",
    "selector_matches",
]

Obj = Mapping[str, Any]
DEFAULT = "default"


@dataclass(frozen=True)
class Hook:
    """One webhook of a configuration, with where it calls."""

    config: str  # the configuration's name
    kind: str  # MutatingWebhookConfiguration or ValidatingWebhookConfiguration
    name: str  # the webhook's name
    service_namespace: str  # "" when the webhook calls a URL
    service: str
    labels: Mapping[str, str]
    raw: Obj

    @property
    def target(self) -> str:
        return f"{self.service_namespace}/{self.service}" if self.service else "(a URL)"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.config} (webhook {self.name})"


def hooks(configs: Iterable[Obj], kind: str) -> list[Hook]:
    """Every webhook of these configurations, in the API server's order (by name, then as listed)."""
    out: list[Hook] = []
    for cfg in sorted(configs, key=lambda c: str((c.get("metadata") or {}).get("name", ""))):
        meta = cfg.get("metadata") or {}
        for h in cfg.get("webhooks") or ():
            svc = (h.get("clientConfig") or {}).get("service") or {}
            out.append(
                Hook(
                    str(meta.get("name", "")),
                    kind,
                    str(h.get("name", "")),
                    str(svc.get("namespace", "")) if svc else "",
                    str(svc.get("name", "")) if svc else "",
                    meta.get("labels") or {},
                    h,
                )
            )
    return out


def revision_of_service(name: str) -> str:
    """`istiod` -> `default`, `istiod-1-28-2` -> `1-28-2` ("" for a Service that is no istiod)."""
    if name == "istiod":
        return DEFAULT
    if name.startswith("istiod-revision-tag-"):
        return ""
    return name[len("istiod-") :] if name.startswith("istiod-") else ""


def _covers_pod_create(hook: Hook) -> bool:
    for rule in hook.raw.get("rules") or ():
        ops = rule.get("operations") or ()
        resources = rule.get("resources") or ()
        groups = rule.get("apiGroups") or ()
        if (
            ("CREATE" in ops or "*" in ops)
            and ("pods" in resources or "*" in resources)
            and ("" in groups or "*" in groups)
        ):
            return True
    return False


def is_injector(hook: Hook) -> bool:
    """An Istio sidecar injector: a pod-CREATE webhook of the injector's name or an istiod's."""
    if not _covers_pod_create(hook):
        return False
    return (
        hook.name.endswith("sidecar-injector.istio.io")
        or hook.labels.get("app") == "sidecar-injector"
        or hook.service.startswith("istiod")
    )


def selector_matches(selector: Obj | None, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector against labels; absent or empty matches everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op = str(expr.get("key", "")), str(expr.get("operator", ""))
        values = [str(v) for v in expr.get("values") or ()]
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False  # an operator the API server would refuse: never counts as a match
    return True


def injectors_matching(
    injectors: Sequence[Hook], ns_labels: Mapping[str, str], pod_labels: Mapping[str, str]
) -> list[Hook]:
    """The injector webhooks the API server would call for a pod with these labels."""
    return [
        h
        for h in injectors
        if selector_matches(h.raw.get("namespaceSelector"), ns_labels)
        and selector_matches(h.raw.get("objectSelector"), pod_labels)
    ]
