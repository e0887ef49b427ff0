"""What the simulated apiserver rejects with 422 Invalid, and the pruning CRDs get.

Checked on every create and update, after defaulting and admission: object names (RFC 1123
labels for Namespaces and Services, subdomains otherwise), label and annotation values, the
required fields of pods and workloads, the immutable pod spec and workload selectors, and a
slice of the Banzai istio-operator CRD schemas (the fields the canary flow writes; see
docs/banzai-operator.md). Pure functions: they read the object and return or raise.
"""

from __future__ import annotations

import re
from typing import Any

from simcluster import selectors
from simcluster.apierrors import StoreError
from simcluster.apiobject import Obj, deep_copy
from simcluster.kinds import Kind

__all__ = ["prune_nulls", "validate"]

Cause = tuple[str, str]  # (field path, message), as the apiserver lists them

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAMED = {"Namespace", "Service"}
_REQUIRED_SPEC = {"Istio": ("version",), "MeshGateway": ("type", "ports")}
# A slice of the Banzai CRDs' OpenAPI schemas: the fields the canary flow writes, so a manifest
# a real apiserver would reject (wrong type, value outside an enum or pattern) is rejected here
# too. (path with [*] for list items, JSON type, enum or regex pattern)
_CRD_FIELDS: dict[str, tuple[tuple[str, str, tuple[str, ...] | str | None], ...]] = {
    "Istio": (
        ("spec.version", "string", "^1."),
        ("spec.global", "boolean", None),
        ("spec.autoInjectionNamespaces", "array", None),
        ("spec.autoInjectionNamespaces[*]", "string", None),
        ("spec.gateways.enabled", "boolean", None),
        ("spec.gateways.ingress.enabled", "boolean", None),
        ("spec.gateways.ingress.createOnly", "boolean", None),
        ("spec.gateways.egress.enabled", "boolean", None),
        ("spec.istiod.enabled", "boolean", None),
    ),
    "MeshGateway": (
        ("spec.type", "string", ("ingress", "egress")),
        ("spec.serviceType", "string", ("ClusterIP", "NodePort", "LoadBalancer")),
        ("spec.ports", "array", None),
        ("spec.ports[*].port", "integer", None),
        ("spec.replicaCount", "integer", None),
        ("spec.istioControlPlane", "object", None),
        ("spec.istioControlPlane.name", "string", None),
        ("spec.istioControlPlane.namespace", "string", None),
    ),
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def _at(obj: Any, path: str) -> list[tuple[str, Any]]:
    """(concrete path, value) for every value at ``path`` (``[*]`` walks list items)."""
    found: list[tuple[str, Any]] = [("", obj)]
    for part in path.split("."):
        each = part.endswith("[*]")
        key = part.removesuffix("[*]")
        nxt: list[tuple[str, Any]] = []
        for where, value in found:
            if not isinstance(value, dict) or key not in value:
                continue
            here = f"{where}.{key}" if where else key
            if each and isinstance(value[key], list):
                nxt.extend((f"{here}[{i}]", item) for i, item in enumerate(value[key]))
            elif not each:
                nxt.append((here, value[key]))
        found = nxt
    return found


def prune_nulls(value: Any) -> None:
    """Remove null map values in place, as the apiserver does for non-nullable CRD fields."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for v in value.values():
            prune_nulls(v)
    elif isinstance(value, list):
        for v in value:
            prune_nulls(v)


def _schema_causes(kind: str, obj: Obj) -> list[Cause]:
    causes: list[Cause] = []
    for path, json_type, rule in _CRD_FIELDS.get(kind, ()):
        for where, value in _at(obj, path):
            actual = _json_type(value)
            if actual != json_type:
                causes.append(
                    (
                        where,
                        f'Invalid value: "{actual}": {where} in body must be of type '
                        f'{json_type}: "{actual}"',
                    )
                )
            elif isinstance(rule, tuple) and value not in rule:
                allowed = ", ".join(f'"{v}"' for v in rule)
                causes.append((where, f'Unsupported value: "{value}": supported values: {allowed}'))
            elif isinstance(rule, str) and not re.match(rule, str(value)):
                causes.append(
                    (where, f"Invalid value: \"{value}\": {where} in body should match '{rule}'")
                )
    return causes


def validate(kind: Kind, obj: Obj, old: Obj | None) -> None:
    """Raise 422 Invalid listing every cause, as the apiserver does; ``old`` on update."""
    name = str(obj["metadata"].get("name") or "")
    causes = _metadata_causes(kind, obj["metadata"]) + _spec_causes(kind, obj, old)
    if causes:
        raise StoreError.invalid(kind, name, causes)


def _metadata_causes(kind: Kind, meta: Obj) -> list[Cause]:
    name = str(meta.get("name") or "")
    causes: list[Cause] = []
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif kind.kind in _LABEL_NAMED:
        if len(name) > 63 or not _DNS_LABEL.fullmatch(name):
            causes.append(
                (
                    "metadata.name",
                    f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower '
                    "case alphanumeric characters or '-', and must start and end with an "
                    "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                )
            )
    elif len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
                "case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character (e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            )
        )
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        causes.append(("metadata.labels", "Invalid value: must be a map of strings"))
    else:
        for key, value in labels.items():
            try:
                selectors.parse_label_selector(f"{key}={value}" if value else key)
            except selectors.SelectorError:
                causes.append(("metadata.labels", f'Invalid value: "{key}={value}"'))
            if not isinstance(value, str):
                causes.append((f"metadata.labels[{key}]", "Invalid value: must be a string"))
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, dict):
        for key, value in annotations.items():
            if not isinstance(value, str):
                causes.append((f"metadata.annotations[{key}]", "Invalid value: must be a string"))
    return causes


def _spec_causes(kind: Kind, obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = [
        (f"spec.{key}", "Required value")
        for key in _REQUIRED_SPEC.get(kind.name, ())
        if key not in spec
    ]
    causes.extend(_schema_causes(kind.name, obj))
    if kind.kind == "Pod":
        causes.extend(_pod_causes(spec, old))
    if kind.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        causes.extend(_workload_causes(spec, old))
    return causes


def _pod_causes(spec: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    if not spec.get("containers"):
        causes.append(("spec.containers", "Required value"))
    for i, c in enumerate(spec.get("containers") or []):
        if not c.get("name"):
            causes.append((f"spec.containers[{i}].name", "Required value"))
        if not c.get("image"):
            causes.append((f"spec.containers[{i}].image", "Required value"))
    if old is not None and _mutable_pod_spec(spec) != _mutable_pod_spec(old.get("spec") or {}):
        causes.append(
            (
                "spec",
                "Forbidden: pod updates may not change fields other than "
                "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if "
                "it was previously negative)",
            )
        )
    return causes


def _workload_causes(spec: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    selector = spec.get("selector")
    template = spec.get("template") or {}
    if not selector:
        causes.append(("spec.selector", "Required value"))
    elif not selectors.selector_from_match(selector)(template):
        causes.append(
            (
                "spec.template.metadata.labels",
                f"Invalid value: {(template.get('metadata') or {}).get('labels')!r}: "
                "`selector` does not match template `labels`",
            )
        )
    if not (template.get("spec") or {}).get("containers"):
        causes.append(("spec.template.spec.containers", "Required value"))
    if old is not None and selector != (old.get("spec") or {}).get("selector"):
        causes.append(("spec.selector", f"Invalid value: {selector!r}: field is immutable"))
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 0:
        causes.append(
            ("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")
        )
    return causes


def _mutable_pod_spec(spec: Obj) -> Obj:
    """A pod spec without the fields an update may change, for the immutability check."""
    out = deep_copy(spec)
    for key in ("containers", "initContainers"):
        for c in out.get(key) or []:
            c.pop("image", None)
    out.pop("activeDeadlineSeconds", None)
    out.pop("tolerations", None)
    return out
