"""Sidecar injection decided the way the API server and Istio's injector decide it.

Runs as a mutating admission hook on pod CREATE. Every MutatingWebhookConfiguration in the store
is read as the API server reads it: configurations sorted by name, then their webhooks in order;
each webhook whose rules cover pod CREATE and whose namespaceSelector and objectSelector match
is called. A webhook is an Istio injector when its Service is an istiod (the Banzai operators'
configurations name their ``Istio`` CR as owner; upstream ones point at a Service labelled
``app=istiod``); any other webhook is stored and does nothing.

- Banzai's Istio 1.6/1.7 injectors (``docs/banzai-operator.md``): the selected control plane
  injects ``istio-init`` and ``istio-proxy`` with the revision label; a pod that already carries
  ``sidecar.istio.io/status`` is left as it is.
- Upstream istiod (1.22 on, charts or ``istioctl tag generate`` webhooks): the injector first
  strips what an earlier injection added (the containers, init containers and volumes that
  ``sidecar.istio.io/status`` lists), then injects its own revision, as ``stripPod`` in
  istio/istio ``pkg/kube/inject`` does. So when two injector webhooks match one pod, the last one
  called wins: a surprising revision, not an error. The revision, proxy image (``<hub>/proxyv2:
  <tag>``) and istiod address come from the ``istio-sidecar-injector[-<rev>]`` ConfigMap of the
  Service's revision. The pod gets the annotation ``istio.io/rev: <rev>`` and
  ``sidecar.istio.io/status`` with ``"revision"``; ``inject.istio.io/templates: gateway`` fills in
  the pod's own ``istio-proxy`` container (``image: auto``), adds no init container, and labels
  the pod ``istio.io/rev`` (its own label, else the revision, else ``default``, as istio/istio's
  ``gateway-injection-template.yaml`` does), which the docs' ``kubectl get pods -L istio.io/rev``
  shows.

A webhook with ``reinvocationPolicy: IfNeeded`` called before a later webhook changed the pod is
called once more afterwards, as the API server does, so it can win the double injection back.
A pod annotated or labelled ``sidecar.istio.io/inject: "false"`` is left alone. When a webhook's
Service is missing or has no ready endpoint, ``failurePolicy: Fail`` refuses the pod with the API
server's message (which the ReplicaSet controller surfaces as FailedCreate); ``Ignore`` skips it.
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
    "Injector",
    "inject",
    "injectors_for",
    "matches_selector",
    "matching_webhooks",
    "mutator",
    "select_webhook",
    "strip",
    "webhook_ready",
]

Obj = dict[str, Any]
STATUS_ANNOTATION = "sidecar.istio.io/status"
INJECT_ANNOTATION = "sidecar.istio.io/inject"
REV_ANNOTATION = "istio.io/rev"
TEMPLATES_ANNOTATION = "inject.istio.io/templates"


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
    upstream: bool = False  # Istio 1.22+ injector (chart or istioctl), not Banzai's 1.6/1.7

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
    """Add istio-init and istio-proxy the way the injector template does; edits ``pod``.

    ``cfg.upstream`` selects Istio 1.22+'s output (revision in the status and the ``istio.io/rev``
    annotation, the ``gateway`` template) over Banzai's 1.6/1.7 one (the ``istio.io/rev`` label).
    """
    meta = pod.setdefault("metadata", {})
    spec = pod.setdefault("spec", {})
    labels = meta.setdefault("labels", {})
    annotations = meta.setdefault("annotations", {})
    namespace = str(meta.get("namespace", "default"))
    app_containers = [
        str(c.get("name")) for c in spec.get("containers") or [] if c.get("name") != "istio-proxy"
    ]
    ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or []]
    workload = str(meta.get("generateName") or meta.get("name", "")).rstrip("-")
    template_hash = labels.get("pod-template-hash")
    if template_hash and workload.endswith(f"-{template_hash}"):
        workload = workload[: -len(template_hash) - 1]  # the Deployment's name
    proxy_image = str(annotations.get("sidecar.istio.io/proxyImage") or cfg.proxy_image)
    canonical = labels.get("app") or labels.get("app.kubernetes.io/name") or workload
    discovery = f"{cfg.istiod}.{cfg.namespace}.svc:15012"
    init: Obj = {
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
    proxy: Obj = {
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
    gateway = cfg.upstream and annotations.get(TEMPLATES_ANNOTATION) == "gateway"
    if cfg.upstream:
        proxy["env"] = [e for e in proxy["env"] if e["name"] != "ISTIO_META_REVISION"]
    if gateway:
        proxy["args"] = [a if a != "sidecar" else "router" for a in proxy["args"]]
        volumes = [v for v in volumes if v["name"] != "istio-envoy"] + [
            {"emptyDir": {}, "name": "istio-envoy"}
        ]
    own = next((c for c in spec.get("containers") or [] if c.get("name") == "istio-proxy"), None)
    if own is not None and cfg.upstream:
        merged = {**proxy, **{k: v for k, v in own.items() if k not in ("image", "env", "args")}}
        merged["image"] = proxy_image
        ours = {e["name"] for e in proxy["env"]}
        merged["env"] = [
            *proxy["env"],
            *(e for e in own.get("env") or [] if e.get("name") not in ours),
        ]
        spec["containers"] = [merged if c is own else c for c in spec["containers"]]
    else:
        spec["containers"] = [*(spec.get("containers") or []), proxy]
    if not gateway:
        spec["initContainers"] = [*(spec.get("initContainers") or []), init]
    spec["volumes"] = [*(spec.get("volumes") or []), *volumes]
    digest = hashlib.sha256(f"{cfg.revision}|{proxy_image}".encode()).hexdigest()
    status: dict[str, Any] = {
        "initContainers": [] if gateway else ["istio-init"],
        "containers": ["istio-proxy"],
        "volumes": [v["name"] for v in volumes],
        "imagePullSecrets": None,
    }
    if cfg.upstream:
        status["revision"] = cfg.revision
    else:
        status = {"version": digest, **status}
    annotations[STATUS_ANNOTATION] = json.dumps(status, separators=(",", ":"))
    annotations.setdefault("prometheus.io/path", "/stats/prometheus")
    annotations.setdefault("prometheus.io/port", "15020")
    annotations.setdefault("prometheus.io/scrape", "true")
    if cfg.upstream:
        annotations[REV_ANNOTATION] = cfg.revision
        if gateway:  # the gateway template labels the pod: its own label, else the revision
            labels.setdefault("istio.io/rev", cfg.revision or "default")
        if app_containers:
            annotations.setdefault("kubectl.kubernetes.io/default-container", app_containers[0])
    else:
        labels.setdefault("istio.io/rev", cfg.revision)
    labels["security.istio.io/tlsMode"] = "istio"
    labels.setdefault("service.istio.io/canonical-name", canonical)
    labels.setdefault("service.istio.io/canonical-revision", labels.get("version", "latest"))
    return pod


def strip(pod: Obj) -> Obj:
    """Undo an earlier injection, as the upstream injector does before it injects again."""
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    raw = annotations.get(STATUS_ANNOTATION)
    if not raw:
        return pod
    try:
        status = json.loads(str(raw))
    except json.JSONDecodeError:
        return pod
    spec = pod.setdefault("spec", {})
    for field, key in (
        ("containers", "containers"),
        ("initContainers", "initContainers"),
        ("volumes", "volumes"),
    ):
        names = set(status.get(key) or [])
        if field == "containers" and (annotations.get(TEMPLATES_ANNOTATION) == "gateway"):
            names.discard("istio-proxy")  # the gateway's own container is filled in again
        spec[field] = [c for c in spec.get(field) or [] if c.get("name") not in names]
    if not spec.get("initContainers"):
        spec.pop("initContainers", None)
    del annotations[STATUS_ANNOTATION]
    return pod


def _webhook_error(hook: str, service: str, namespace: str, path: str, reason: str) -> StoreError:
    """The API server's answer when a failurePolicy=Fail webhook cannot be called."""
    return StoreError(
        500,
        "InternalError",
        f'Internal error occurred: failed calling webhook "{hook}": failed to call webhook: '
        f'Post "https://{service}.{namespace}.svc:443{path}?timeout=10s": {reason}',
    )


def _webhook_denied(hook: str, service: str, namespace: str) -> StoreError:
    return _webhook_error(
        hook, service, namespace, "/inject", f'no endpoints available for service "{service}"'
    )


def webhook_ready(store: Objects, namespace: str, service: str) -> bool:
    """Does the webhook's Service have a ready endpoint (else failurePolicy Fail denies)?"""
    endpoints = store.get("Endpoints", namespace, service)
    return any((s.get("addresses") or []) for s in (endpoints or {}).get("subsets") or [])


def _covers(hook: Obj, group: str, resource: str, operation: str) -> bool:
    for rule in hook.get("rules") or []:
        ops = rule.get("operations") or []
        groups = rule.get("apiGroups") or []
        resources = rule.get("resources") or []
        if (
            ("*" in ops or operation in ops)
            and ("*" in groups or group in groups)
            and ("*" in resources or resource in resources)
        ):
            return True
    return False


def matching_webhooks(
    store: Objects,
    kind: str,
    obj: Obj,
    *,
    group: str = "",
    resource: str = "pods",
    operation: str = "CREATE",
    ns_labels: dict[str, str] | None = None,
) -> list[tuple[Obj, Obj]]:
    """(configuration, webhook) of every webhook the API server would call for ``obj``, in order.

    ``kind`` is ``MutatingWebhookConfiguration`` or ``ValidatingWebhookConfiguration``; the
    configurations are taken in name order and their webhooks in list order, and a webhook is
    called when its rules cover the request and both selectors match.
    """
    meta = obj.get("metadata") or {}
    if ns_labels is None:
        ns = store.get("Namespace", None, str(meta.get("namespace", "default")))
        ns_labels = dict(((ns or {}).get("metadata") or {}).get("labels") or {})
        ns_labels.setdefault("kubernetes.io/metadata.name", str(meta.get("namespace", "default")))
    obj_labels = meta.get("labels") or {}
    configs, _ = store.list(kind)
    out = []
    for config in sorted(configs, key=lambda c: str(c["metadata"]["name"])):
        for hook in config.get("webhooks") or []:
            if not _covers(hook, group, resource, operation):
                continue
            if not matches_selector(hook.get("namespaceSelector"), ns_labels):
                continue
            if not matches_selector(hook.get("objectSelector"), obj_labels):
                continue
            out.append((config, hook))
    return out


@dataclass(frozen=True)
class Injector:
    """One webhook call: who answers it, and the config it injects (None: not an injector)."""

    config: Obj
    hook: Obj
    service: str
    namespace: str
    cfg: InjectionConfig | None
    error: StoreError | None = None  # the API server's refusal when the call cannot be made


def _upstream_config(store: Objects, service: Obj) -> InjectionConfig | None:
    """The injection settings of the istiod behind ``service``, from its injector ConfigMap."""
    meta = service["metadata"]
    labels = meta.get("labels") or {}
    if (
        labels.get("app") != "istiod"
        or (service.get("spec") or {}).get("selector", {}).get("app") != "istiod"
    ):
        return None
    revision = str(labels.get("istio.io/rev") or "default")
    suffix = "" if revision == "default" else f"-{revision}"
    namespace = str(meta.get("namespace", "istio-system"))
    cm = store.get("ConfigMap", namespace, f"istio-sidecar-injector{suffix}")
    if cm is None:
        return None
    try:
        values = json.loads(str((cm.get("data") or {}).get("values") or "{}"))
    except json.JSONDecodeError:
        return None
    glob = values.get("global") or {}
    proxy = str((glob.get("proxy") or {}).get("image") or "proxyv2")
    image = proxy if "/" in proxy else f"{glob.get('hub')}/{proxy}:{glob.get('tag')}"
    return InjectionConfig(
        revision=revision,
        istiod=f"istiod{suffix}",
        namespace=str(glob.get("istioNamespace") or namespace),
        proxy_image=image,
        init_image=image,
        upstream=True,
    )


def injectors_for(
    store: Objects, pod: Obj, *, ns_labels: dict[str, str] | None = None
) -> list[Injector]:
    """The Istio injector webhooks the API server would call for this pod, in its order."""
    out = []
    for config, hook in matching_webhooks(
        store, "MutatingWebhookConfiguration", pod, ns_labels=ns_labels
    ):
        client = hook.get("clientConfig") or {}
        svc = client.get("service") or {}
        if not svc:
            continue
        service, svc_ns = str(svc.get("name", "istiod")), str(svc.get("namespace", "istio-system"))
        name = str(hook.get("name"))
        fail = hook.get("failurePolicy", "Fail") == "Fail"
        cr_name = next(
            (
                str(r.get("name"))
                for r in config["metadata"].get("ownerReferences") or []
                if r.get("kind") == "Istio"
            ),
            None,
        )
        if cr_name is not None:  # Banzai's operator-made injector
            cr = store.get("Istio", svc_ns, cr_name)
            if cr is None or not webhook_ready(store, svc_ns, service):
                out.append(
                    Injector(
                        config, hook, service, svc_ns, None, _webhook_denied(name, service, svc_ns)
                    )
                )
            else:
                out.append(Injector(config, hook, service, svc_ns, InjectionConfig.from_cr(cr)))
            continue
        live = store.get("Service", svc_ns, service)
        if live is None:
            error = _webhook_error(
                name, service, svc_ns, str(svc.get("path") or "/inject"),
                f'service "{service}" not found',
            )  # fmt: skip
            if fail and name.endswith("sidecar-injector.istio.io"):
                out.append(Injector(config, hook, service, svc_ns, None, error))
            continue
        cfg = _upstream_config(store, live)
        if cfg is None:
            continue  # not an istiod: a webhook simcluster does not run
        if not webhook_ready(store, svc_ns, service):
            if fail:
                out.append(
                    Injector(
                        config, hook, service, svc_ns, cfg, _webhook_denied(name, service, svc_ns)
                    )
                )
            continue
        out.append(Injector(config, hook, service, svc_ns, cfg))
    return out


def select_webhook(
    store: Objects, pod: Obj, *, ns_labels: dict[str, str] | None = None
) -> tuple[str, Obj, Obj] | None:
    """The first injector webhook the API server would call for the pod (name, hook, config)."""
    found = injectors_for(store, pod, ns_labels=ns_labels)
    if not found:
        return None
    first = found[0]
    return str(first.hook.get("name")), first.hook, first.config


def _disabled(meta: Obj) -> bool:
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    value = labels.get(INJECT_ANNOTATION, annotations.get(INJECT_ANNOTATION, ""))
    return str(value).lower() in ("false", "no", "n", "0", "off")


def mutator(store: Objects) -> Callable[[str, Obj, Obj | None], None]:
    """The admission hook for ``Store.add_mutator``: injects pods at CREATE."""

    def admit(operation: str, obj: Obj, old: Obj | None) -> None:
        if operation != "CREATE" or obj.get("kind") != "Pod":
            return
        meta = obj.get("metadata") or {}
        if _disabled(meta) or (obj.get("spec") or {}).get("hostNetwork"):
            return
        calls = injectors_for(store, obj)
        last_change = -1
        for i, call in enumerate(calls):
            if _call(call, obj):
                last_change = i
        # reinvocationPolicy IfNeeded: a webhook called before a later one changed the pod is
        # called once more, in order (the API server re-runs each such webhook at most once)
        for call in calls[:last_change]:
            if call.hook.get("reinvocationPolicy") == "IfNeeded":
                _call(call, obj)

    return admit


def _call(call: Injector, obj: Obj) -> bool:
    """Run one injector webhook on the pod; True when it changed it."""
    if call.error is not None:
        raise call.error
    assert call.cfg is not None
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not call.cfg.upstream:
        if STATUS_ANNOTATION in annotations:
            return False  # Banzai's 1.6/1.7 injector leaves an injected pod alone
    else:
        strip(obj)
    inject(obj, call.cfg)
    return True
