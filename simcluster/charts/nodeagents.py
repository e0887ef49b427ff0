"""Istio's ``cni`` and ``ztunnel`` Helm charts, rendered as objects: the node agents.

Each renders one DaemonSet that serves every revision, which is why a chart bump rolls it in
place (the DaemonSet controller replaces its pods) instead of adding a second one. Names,
labels, selectors and images as in istio/istio ``manifests/charts/istio-cni`` and
``manifests/charts/ztunnel`` (1.22 to 1.31 agree on them):

- cni: DaemonSet ``istio-cni-node`` (labels ``k8s-app=istio-cni-node``, ``release``,
  ``istio.io/rev`` = ``revision`` or ``default``, ``app.kubernetes.io/name=istio-cni``; selector
  ``k8s-app``), one container ``install-cni`` with image ``<hub>/install-cni:<tag>`` (before
  1.24 the chart read these under ``cni.``), ServiceAccount ``istio-cni``.
- ztunnel: DaemonSet ``resourceName`` or ``ztunnel`` (selector ``app=ztunnel``), one container
  ``istio-proxy`` with image ``<hub>/ztunnel:<tag>``, env ``CA_ADDRESS``/``XDS_ADDRESS``
  ``istiod[-<revision>].<istioNamespace>.svc:15012`` (the istiod it talks to), the pod
  annotation ``istio.io/rev`` when ``revision`` is set; ServiceAccount of the same name.

Pods of both are labelled ``sidecar.istio.io/inject: "false"`` and
``istio.io/dataplane-mode: none``. RBAC, ConfigMaps and ResourceQuotas are left out.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["AGENT_CHARTS", "CNI_DAEMONSET", "render_cni", "render_ztunnel"]

Obj = dict[str, Any]
AGENT_CHARTS = ("cni", "ztunnel")
CNI_DAEMONSET = "istio-cni-node"
_POD_LABELS = {"sidecar.istio.io/inject": "false", "istio.io/dataplane-mode": "none"}


def _labels(chart: str, release: str, version: str) -> dict[str, str]:
    """The charts' ``istio.labels``."""
    return {
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/part-of": "istio",
        "app.kubernetes.io/version": version,
        "helm.sh/chart": f"{chart}-{version}"[:63].rstrip("-"),
    }


def _minor(version: str) -> tuple[int, int]:
    parts = version.lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (1, 99)


def _image(values: Obj, glob: Obj, default_name: str, version: str) -> str:
    name = str(values.get("image") or default_name)
    if "/" in name:
        return name
    hub = values.get("hub") or glob.get("hub") or "docker.io/istio"
    tag = values.get("tag") or glob.get("tag") or version
    variant = values.get("variant") or glob.get("variant")
    return f"{hub}/{name}:{tag}" + (f"-{variant}" if variant else "")


def _daemonset(name: str, namespace: str, labels: Obj, selector: Obj, pod: Obj) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": pod,
        },
    }


def _account(name: str, namespace: str, labels: Obj) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
    }


def render_cni(release: str, namespace: str, version: str, values: Obj) -> list[Obj]:
    """The cni chart: the ``istio-cni-node`` DaemonSet and its ServiceAccount."""
    values = copy.deepcopy(values or {})
    glob = values.get("global") or {}
    own = (values.get("cni") or {}) if _minor(version) < (1, 24) else values
    common = _labels("cni", release, version)
    revision = str(values.get("revision") or "") or "default"
    labels = {
        "k8s-app": CNI_DAEMONSET,
        "release": release,
        "istio.io/rev": revision,
        "install.operator.istio.io/owning-resource": "unknown",
        "operator.istio.io/component": "Cni",
        "app.kubernetes.io/name": "istio-cni",
        **common,
    }
    pod = {
        "metadata": {
            "labels": {
                "k8s-app": CNI_DAEMONSET,
                **_POD_LABELS,
                "app.kubernetes.io/name": "istio-cni",
                **common,
            },
            "annotations": {"sidecar.istio.io/inject": "false"},
        },
        "spec": {
            "serviceAccountName": "istio-cni",
            "priorityClassName": "system-node-critical",
            "containers": [
                {"name": "install-cni", "image": _image(own, glob, "install-cni", version)}
            ],
        },
    }
    account = {**labels, "app": "istio-cni"}
    del account["k8s-app"]
    return [
        _account("istio-cni", namespace, account),
        _daemonset(CNI_DAEMONSET, namespace, labels, {"k8s-app": CNI_DAEMONSET}, pod),
    ]


def render_ztunnel(release: str, namespace: str, version: str, values: Obj) -> list[Obj]:
    """The ztunnel chart: its DaemonSet and ServiceAccount, bound to ``istiod[-<revision>]``."""
    values = copy.deepcopy(values or {})
    name = str(values.get("resourceName") or "ztunnel")
    revision = str(values.get("revision") or "")
    istiod = f"istiod-{revision}" if revision else "istiod"
    address = f"{istiod}.{values.get('istioNamespace') or 'istio-system'}.svc:15012"
    common = _labels("ztunnel", release, version)
    labels = {"app.kubernetes.io/name": "ztunnel", **common}
    annotations = {"istio.io/rev": revision} if revision else {}
    pod = {
        "metadata": {
            "labels": {
                **_POD_LABELS,
                "app": "ztunnel",
                "app.kubernetes.io/name": "ztunnel",
                **common,
            },
            "annotations": {"sidecar.istio.io/inject": "false", **annotations},
        },
        "spec": {
            "serviceAccountName": name,
            "priorityClassName": "system-node-critical",
            "containers": [
                {
                    "name": "istio-proxy",
                    "image": _image(values, {}, "ztunnel", version),
                    "env": [
                        {"name": "CA_ADDRESS", "value": str(values.get("caAddress") or address)},
                        {"name": "XDS_ADDRESS", "value": str(values.get("xdsAddress") or address)},
                    ],
                }
            ],
        },
    }
    ds = _daemonset(name, namespace, labels, {"app": "ztunnel"}, pod)
    if annotations:
        ds["metadata"]["annotations"] = dict(annotations)
    return [_account(name, namespace, labels), ds]
