"""Sidecar injection as the injector webhooks of Banzai's Istio 1.6/1.7 control planes do it.

Runs as a mutating admission hook on pod CREATE. The webhooks are the
MutatingWebhookConfiguration objects the simulated operator writes, so the precedence is read
from their selectors exactly as the API server would match them (the webhook layout is in
docs/banzai-operator.md):

- global CP: ``istio-injection In [enabled]``; its secondary webhook takes
  ``istio-injection DoesNotExist`` + ``istio.io/rev In [<global-cr>.<ns>]``;
- revisioned CP: ``istio-injection DoesNotExist`` + ``istio.io/rev In [<cr>.<ns>]``;

so ``istio-injection=enabled`` wins. A pod annotated ``sidecar.istio.io/inject: "false"`` is left
alone. When the selected webhook's istiod has no ready endpoint the pod is rejected (failurePolicy
Fail), which the ReplicaSet controller surfaces as FailedCreate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simcluster.apierrors import StoreError
from simcluster.mesh import Objects

__all__ = [
    "INJECT_ANNOTATION",
    "STATUS_ANNOTATION",
    "InjectionConfig",
    "inject",
    "matches_selector",
    "mutator",
]

Obj = dict[str, Any]
STATUS_ANNOTATION = "sidecar.istio.io/status"
INJECT_ANNOTATION = "sidecar.istio.io/inject"
WEBHOOK_NAMES = ("sidecar-injector.istio.io", "secondary.sidecar-injector.istio.io")


@dataclass(frozen=True)
class InjectionConfig:
    """What one control plane's injector template needs."""

    revision: str  # <cr>.<ns>, the istio.io/rev value
    istiod: str  # istiod Service name
    namespace: str  # control-plane namespace
    proxy_image: str
    init_image: str
    trust_domain: str = "cluster.local"
    cluster_id: str = "Kubernetes"
    mesh_id: str = "cluster.local"
    jwt_policy: str = "first-party-jwt"

    @classmethod
    def from_cr(cls, cr: Obj) -> InjectionConfig:
        """Read the injector settings from an Istio CR (images default to its version)."""
        meta, spec = cr["metadata"], cr.get("spec") or {}
        version = str(spec.get("version", "1.6.8"))
        revisioned = spec.get("global") is False
        name = str(meta["name"])
        proxy = (spec.get("proxy") or {}).get("image") or f"docker.io/istio/proxyv2:{version}"
        init = (spec.get("proxyInit") or {}).get("image") or proxy
        return cls(
            revision=f"{name}.{meta.get('namespace', 'istio-system')}",
            istiod=f"istiod-{name.replace('.', '-')}" if revisioned else "istiod",
            namespace=str(meta.get("namespace", "istio-system")),
            proxy_image=str(proxy),
            init_image=str(init),
            trust_domain=str(spec.get("trustDomain") or "cluster.local"),
            cluster_id=str(spec.get("clusterName") or "Kubernetes"),
            mesh_id=str(spec.get("meshID") or spec.get("trustDomain") or "cluster.local"),
            jwt_policy=str(spec.get("jwtPolicy") or "first-party-jwt"),
        )


def matches_selector(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions) against labels; empty matches all."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _env(name: str, value: str) -> Obj:
    return {"name": name, "value": value}


def _field_env(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def inject(pod: Obj, cfg: InjectionConfig) -> Obj:
    """Add istio-init and istio-proxy the way the 1.6/1.7 injector template does; edits ``pod``."""
    meta = pod.setdefault("metadata", {})
    spec = pod.setdefault("spec", {})
    labels = meta.setdefault("labels", {})
    annotations = meta.setdefault("annotations", {})
    namespace = str(meta.get("namespace", "default"))
    app_containers = [str(c.get("name")) for c in spec.get("containers") or []]
    ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or []]
    workload = str(meta.get("generateName") or meta.get("name", "")).rstrip("-")
    template_hash = labels.get("pod-template-hash")
    if template_hash and workload.endswith(f"-{template_hash}"):
        workload = workload[: -len(template_hash) - 1]  # the Deployment's name
    proxy_image = str(annotations.get("sidecar.istio.io/proxyImage") or cfg.proxy_image)
    canonical = labels.get("app") or labels.get("app.kubernetes.io/name") or workload
    discovery = f"{cfg.istiod}.{cfg.namespace}.svc:15012"
    init = {
        "name": "istio-init",
        "image": cfg.init_image,
        "args": [
            "istio-iptables",
            "-p",
            "15001",
            "-z",
            "15006",
            "-u",
            "1337",
            "-m",
            "REDIRECT",
            "-i",
            "*",
            "-x",
            "",
            "-b",
            "*",
            "-d",
            "15090,15021,15020",
        ],
        "resources": {
            "limits": {"cpu": "2", "memory": "1Gi"},
            "requests": {"cpu": "10m", "memory": "10Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": False,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "runAsUser": 0,
        },
    }
    proxy = {
        "name": "istio-proxy",
        "image": proxy_image,
        "args": [
            "proxy",
            "sidecar",
            "--domain",
            "$(POD_NAMESPACE).svc.cluster.local",
            "--serviceCluster",
            f"{canonical}.$(POD_NAMESPACE)",
            "--proxyLogLevel=warning",
            "--proxyComponentLogLevel=misc:error",
            "--concurrency",
            "2",
        ],
        "env": [
            _env("JWT_POLICY", cfg.jwt_policy),
            _env("PILOT_CERT_PROVIDER", "istiod"),
            _env("CA_ADDR", discovery),
            _field_env("POD_NAME", "metadata.name"),
            _field_env("POD_NAMESPACE", "metadata.namespace"),
            _field_env("INSTANCE_IP", "status.podIP"),
            _field_env("SERVICE_ACCOUNT", "spec.serviceAccountName"),
            _field_env("HOST_IP", "status.hostIP"),
            _env("CANONICAL_SERVICE", canonical),
            _env(
                "PROXY_CONFIG", json.dumps({"discoveryAddress": discovery}, separators=(",", ":"))
            ),
            _env("ISTIO_META_POD_PORTS", json.dumps(ports, separators=(",", ":"))),
            _env("ISTIO_META_APP_CONTAINERS", ",".join(app_containers)),
            _env("ISTIO_META_CLUSTER_ID", cfg.cluster_id),
            _env("ISTIO_META_INTERCEPTION_MODE", "REDIRECT"),
            _env("ISTIO_META_WORKLOAD_NAME", workload),
            _env(
                "ISTIO_META_OWNER",
                f"kubernetes://apis/v1/namespaces/{namespace}/pods/{meta.get('name', workload)}",
            ),
            _env("ISTIO_META_MESH_ID", cfg.mesh_id),
            _env("TRUST_DOMAIN", cfg.trust_domain),
            _env("ISTIO_META_REVISION", cfg.revision),
        ],
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": {
            "failureThreshold": 30,
            "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
            "initialDelaySeconds": 1,
            "periodSeconds": 2,
            "successThreshold": 1,
            "timeoutSeconds": 1,
        },
        "resources": {
            "limits": {"cpu": "2", "memory": "1Gi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsGroup": 1337,
            "runAsNonRoot": True,
            "runAsUser": 1337,
        },
        "volumeMounts": [
            {"mountPath": "/var/run/secrets/istio", "name": "istiod-ca-cert"},
            {"mountPath": "/var/lib/istio/data", "name": "istio-data"},
            {"mountPath": "/etc/istio/proxy", "name": "istio-envoy"},
            {"mountPath": "/etc/istio/pod", "name": "istio-podinfo"},
        ],
    }
    volumes = [
        {"emptyDir": {"medium": "Memory"}, "name": "istio-envoy"},
        {"emptyDir": {}, "name": "istio-data"},
        {
            "downwardAPI": {
                "items": [
                    {"fieldRef": {"fieldPath": "metadata.labels"}, "path": "labels"},
                    {"fieldRef": {"fieldPath": "metadata.annotations"}, "path": "annotations"},
                ]
            },
            "name": "istio-podinfo",
        },
        {"configMap": {"name": "istio-ca-root-cert"}, "name": "istiod-ca-cert"},
    ]
    spec["initContainers"] = [*(spec.get("initContainers") or []), init]
    spec["containers"] = [*(spec.get("containers") or []), proxy]
    spec["volumes"] = [*(spec.get("volumes") or []), *volumes]
    digest = hashlib.sha256(f"{cfg.revision}|{proxy_image}".encode()).hexdigest()
    annotations[STATUS_ANNOTATION] = json.dumps(
        {
            "version": digest,
            "initContainers": ["istio-init"],
            "containers": ["istio-proxy"],
            "volumes": [v["name"] for v in volumes],
            "imagePullSecrets": None,
        },
        separators=(",", ":"),
    )
    annotations.setdefault("prometheus.io/path", "/stats/prometheus")
    annotations.setdefault("prometheus.io/port", "15020")
    annotations.setdefault("prometheus.io/scrape", "true")
    labels.setdefault("istio.io/rev", cfg.revision)
    labels["security.istio.io/tlsMode"] = "istio"
    labels.setdefault("service.istio.io/canonical-name", canonical)
    labels.setdefault("service.istio.io/canonical-revision", labels.get("version", "latest"))
    return pod


def _webhook_denied(hook: str, service: str, namespace: str) -> StoreError:
    """The API server's answer when a failurePolicy=Fail webhook cannot be called."""
    return StoreError(
        500,
        "InternalError",
        f'Internal error occurred: failed calling webhook "{hook}": failed to call webhook: '
        f'Post "https://{service}.{namespace}.svc:443/inject?timeout=10s": '
        f'no endpoints available for service "{service}"',
    )


def webhook_ready(store: Objects, namespace: str, service: str) -> bool:
    """Does the webhook's Service have a ready endpoint (else failurePolicy Fail denies)?"""
    endpoints = store.get("Endpoints", namespace, service)
    return any((s.get("addresses") or []) for s in (endpoints or {}).get("subsets") or [])


def select_webhook(
    store: Objects, pod: Obj, *, ns_labels: dict[str, str] | None = None
) -> tuple[str, Obj, Obj] | None:
    """The first injector webhook (name order, as the API server runs them) matching the pod."""
    meta = pod.get("metadata") or {}
    if ns_labels is None:
        ns = store.get("Namespace", None, str(meta.get("namespace", "default")))
        ns_labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
    pod_labels = meta.get("labels") or {}
    configs, _ = store.list("MutatingWebhookConfiguration")
    for config in configs:
        for hook in config.get("webhooks") or []:
            if hook.get("name") not in WEBHOOK_NAMES:
                continue
            if not matches_selector(hook.get("namespaceSelector"), ns_labels):
                continue
            if not matches_selector(hook.get("objectSelector"), pod_labels):
                continue
            return str(hook["name"]), hook, config
    return None


def mutator(store: Objects) -> Callable[[str, Obj, Obj | None], None]:
    """The admission hook for ``Store.add_mutator``: injects pods at CREATE."""

    def admit(operation: str, obj: Obj, old: Obj | None) -> None:
        if operation != "CREATE" or obj.get("kind") != "Pod":
            return
        meta = obj.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        if str(annotations.get(INJECT_ANNOTATION, "")).lower() in ("false", "no", "n", "0", "off"):
            return
        if STATUS_ANNOTATION in annotations or (obj.get("spec") or {}).get("hostNetwork"):
            return
        chosen = select_webhook(store, obj)
        if chosen is None:
            return
        name, hook, config = chosen
        svc = (hook.get("clientConfig") or {}).get("service") or {}
        service, svc_ns = str(svc.get("name", "istiod")), str(svc.get("namespace", "istio-system"))
        cr = None
        for ref in config["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Istio":
                cr = store.get("Istio", svc_ns, str(ref.get("name")))
        if cr is None or not webhook_ready(store, svc_ns, service):
            raise _webhook_denied(name, service, svc_ns)
        inject(obj, InjectionConfig.from_cr(cr))

    return admit
