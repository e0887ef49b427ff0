"""Istio's ``base``, ``istiod`` and ``gateway`` Helm charts, rendered as objects (no real Helm).

One pure function per chart, ``values -> objects``: what ``helm template`` of the released chart
gives for the objects simcluster serves and a canary upgrade is judged by (names, labels,
selectors, webhook layout). Kinds simcluster does not serve (CRDs, RBAC, PodDisruptionBudgets,
HorizontalPodAutoscalers, NetworkPolicies) are left out. The facts come from the charts in
istio/istio ``manifests/charts`` for 1.22 to 1.30:

- istiod with ``revision: R`` makes Deployment and Service ``istiod-R`` (labels ``app=istiod``,
  ``istio.io/rev=R``), ConfigMaps ``istio-R`` and ``istio-sidecar-injector-R``, the injector
  ``MutatingWebhookConfiguration`` ``istio-sidecar-injector-R`` with the webhooks
  ``rev.namespace.`` and ``rev.object.sidecar-injector.istio.io``, and the validator
  ``istio-validator-R-istio-system`` (webhook ``rev.validation.istio.io``, objects labelled
  ``istio.io/rev=R`` only). Without a revision the names lose ``-R``, ``istio.io/rev`` reads
  ``default``, and the injector gets two more webhooks, ``namespace.`` (``istio-injection=enabled``)
  and ``object.`` (``sidecar.istio.io/inject=true`` pods in unlabelled namespaces).
- ``revisionTags: [T]`` makes one ``istio-revision-tag-T`` injector per tag, labelled
  ``istio.io/tag=T`` and ``istio.io/rev=R``, pointing at ``istiod-R``; the tag ``default`` also
  gets the ``namespace.`` and ``object.`` webhooks. From 1.28 each tag also gets a Service
  ``istiod-revision-tag-T``.
- Every webhook is created with no ``caBundle``; the validators start with
  ``failurePolicy: Ignore`` and istiod switches them to ``Fail`` once it serves (see
  ``controllers/istiod.py``).
- base's ``defaultRevision`` (default ``"default"``) makes ``istiod-default-validator``
  (webhook ``validation.istio.io``, no object selector) pointing at ``istiod`` or
  ``istiod-<defaultRevision>``; ``""`` makes none.
- gateway makes a Deployment, Service (LoadBalancer by default) and ServiceAccount named after
  ``name`` or the release, selected by ``app``/``istio`` labels; the pod template carries the
  label ``sidecar.istio.io/inject: "true"``, ``istio.io/rev`` when ``revision`` is set, the
  annotation ``inject.istio.io/templates: gateway`` and one container ``istio-proxy`` with
  ``image: auto`` for the injector to fill in.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from simcluster.charts.nodeagents import AGENT_CHARTS, render_cni, render_ztunnel

__all__ = [
    "CHARTS",
    "CHART_REPOSITORIES",
    "chart_values",
    "injector_config_name",
    "is_istio_repository",
    "render",
    "render_base",
    "render_gateway",
    "render_istiod",
    "revision_of",
]

Obj = dict[str, Any]
CHARTS: tuple[str, ...] = ("base", "istiod", "gateway", *AGENT_CHARTS)
CHART_REPOSITORIES: tuple[str, ...] = (
    # up to 1.30 (Istio stopped publishing here with 1.31 and retires the bucket from 2026-09)
    "https://istio-release.storage.googleapis.com/charts",
    # 1.31 on: the Helm repository and the OCI registry
    "https://blob.istio.io/istio-release/charts",
    "oci://ghcr.io/istio/release/charts",
)
_VALIDATED_GROUPS = [
    "security.istio.io",
    "networking.istio.io",
    "telemetry.istio.io",
    "extensions.istio.io",
]


def is_istio_repository(url: str) -> bool:
    """Is ``url`` one of Istio's chart repositories (either spelling of the OCI one)?"""
    bare = url.strip().rstrip("/").removeprefix("oci://").removeprefix("https://")
    for known in CHART_REPOSITORIES:
        if bare == known.removeprefix("oci://").removeprefix("https://"):
            return True
    return False


def _merge(base: Obj, over: Obj) -> Obj:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def chart_values(chart: str, version: str, values: Obj) -> Obj:
    """The user's values over the chart defaults a released chart of ``version`` carries."""
    defaults: Obj = {
        "global": {
            "hub": "docker.io/istio",
            "tag": version,
            "istioNamespace": "istio-system",
            "configValidation": True,
            "proxy": {"image": "proxyv2"},
        },
    }
    if chart == "istiod":
        defaults.update(
            {
                "revision": "",
                "revisionTags": [],
                "image": "pilot",
                "hub": "",
                "tag": "",
                "replicaCount": 1,
                "sidecarInjectorWebhook": {
                    "enableNamespacesByDefault": False,
                    "reinvocationPolicy": "Never",
                },
            }
        )
    elif chart == "base":
        defaults["defaultRevision"] = "default"
    elif chart == "gateway":
        defaults.update(
            {
                "name": "",
                "revision": "",
                "replicaCount": 1,
                "labels": {},
                "podAnnotations": {
                    "prometheus.io/port": "15020",
                    "prometheus.io/scrape": "true",
                    "prometheus.io/path": "/stats/prometheus",
                    "inject.istio.io/templates": "gateway",
                    "sidecar.istio.io/inject": "true",
                },
                "service": {
                    "type": "LoadBalancer",
                    "ports": [
                        {
                            "name": "status-port",
                            "port": 15021,
                            "protocol": "TCP",
                            "targetPort": 15021,
                        },
                        {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80},
                        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
                    ],
                    "annotations": {},
                },
                "serviceAccount": {"create": True, "name": ""},
            }
        )
    return _merge(defaults, values or {})


def revision_of(values: Obj) -> str:
    """The istiod chart's revision ("" for the default, non-revisioned install)."""
    return str(values.get("revision") or "")


def injector_config_name(revision: str) -> str:
    """The injector ConfigMap an istiod of ``revision`` reads (``""`` and ``default`` alike)."""
    rev = "" if revision in ("", "default") else revision
    return "istio-sidecar-injector" + (f"-{rev}" if rev else "")


def _common(chart: str, release: str, version: str) -> dict[str, str]:
    """The ``istio.labels`` every object of the charts carries."""
    return {
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/part-of": "istio",
        "app.kubernetes.io/version": version,
        "helm.sh/chart": f"{chart}-{version}".replace("+", "_")[:63].rstrip("-"),
    }


def _suffix(revision: str) -> str:
    return f"-{revision}" if revision else ""


def _rule(
    operations: list[str], groups: list[str], versions: list[str], resources: list[str]
) -> Obj:
    return {
        "operations": operations,
        "apiGroups": groups,
        "apiVersions": versions,
        "resources": resources,
    }


def _injector_hook(prefix: str, service: str, namespace: str, reinvocation: str) -> Obj:
    return {
        "name": f"{prefix}sidecar-injector.istio.io",
        "clientConfig": {
            "service": {"name": service, "namespace": namespace, "path": "/inject", "port": 443}
        },
        "sideEffects": "None",
        "rules": [_rule(["CREATE"], [""], ["v1"], ["pods"])],
        "failurePolicy": "Fail",
        "reinvocationPolicy": reinvocation,
        "admissionReviewVersions": ["v1"],
    }


def _expr(key: str, operator: str, values: list[str] | None = None) -> Obj:
    out: Obj = {"key": key, "operator": operator}
    if values is not None:
        out["values"] = values
    return out


def _injector_webhooks(
    name: str, service: str, namespace: str, reinvocation: str, *, default: bool, auto: bool
) -> list[Obj]:
    """The webhooks of an injector selecting ``istio.io/rev=name`` (plus the default ones)."""
    not_disabled = {"matchExpressions": [_expr("sidecar.istio.io/inject", "NotIn", ["false"])]}
    hooks = []
    hook = _injector_hook("rev.namespace.", service, namespace, reinvocation)
    hook["namespaceSelector"] = {
        "matchExpressions": [
            _expr("istio.io/rev", "In", [name]),
            _expr("istio-injection", "DoesNotExist"),
        ]
    }
    hook["objectSelector"] = copy.deepcopy(not_disabled)
    hooks.append(hook)
    hook = _injector_hook("rev.object.", service, namespace, reinvocation)
    hook["namespaceSelector"] = {
        "matchExpressions": [
            _expr("istio.io/rev", "DoesNotExist"),
            _expr("istio-injection", "DoesNotExist"),
        ]
    }
    hook["objectSelector"] = {
        "matchExpressions": [
            _expr("sidecar.istio.io/inject", "NotIn", ["false"]),
            _expr("istio.io/rev", "In", [name]),
        ]
    }
    hooks.append(hook)
    if not default:
        return hooks
    hook = _injector_hook("namespace.", service, namespace, reinvocation)
    hook["namespaceSelector"] = {"matchExpressions": [_expr("istio-injection", "In", ["enabled"])]}
    hook["objectSelector"] = copy.deepcopy(not_disabled)
    hooks.append(hook)
    hook = _injector_hook("object.", service, namespace, reinvocation)
    hook["namespaceSelector"] = {
        "matchExpressions": [
            _expr("istio-injection", "DoesNotExist"),
            _expr("istio.io/rev", "DoesNotExist"),
        ]
    }
    hook["objectSelector"] = {
        "matchExpressions": [
            _expr("sidecar.istio.io/inject", "In", ["true"]),
            _expr("istio.io/rev", "DoesNotExist"),
        ]
    }
    hooks.append(hook)
    if auto:
        hook = _injector_hook("auto.", service, namespace, reinvocation)
        hook["namespaceSelector"] = {
            "matchExpressions": [
                _expr("istio-injection", "DoesNotExist"),
                _expr("istio.io/rev", "DoesNotExist"),
                _expr(
                    "kubernetes.io/metadata.name",
                    "NotIn",
                    ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"],
                ),
            ]
        }
        hook["objectSelector"] = {
            "matchExpressions": [
                _expr("sidecar.istio.io/inject", "DoesNotExist"),
                _expr("istio.io/rev", "DoesNotExist"),
            ]
        }
        hooks.append(hook)
    return hooks


def _validating_hook(name: str, service: str, namespace: str) -> Obj:
    return {
        "name": name,
        "clientConfig": {"service": {"name": service, "namespace": namespace, "path": "/validate"}},
        "rules": [_rule(["CREATE", "UPDATE"], list(_VALIDATED_GROUPS), ["*"], ["*"])],
        # the chart fails open; istiod switches it to Fail once it answers
        "failurePolicy": "Ignore",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }


def _minor(version: str) -> tuple[int, int]:
    parts = version.lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (1, 99)


def _image(values: Obj, name: str) -> str:
    if "/" in name:
        return name
    glob = values.get("global") or {}
    hub = values.get("hub") or glob.get("hub")
    tag = values.get("tag") or glob.get("tag")
    return f"{hub}/{name}:{tag}"


def render_base(release: str, namespace: str, version: str, values: Obj) -> list[Obj]:
    """The base chart: the default validator (and the reader ServiceAccount); CRDs left out."""
    values = chart_values("base", version, values)
    labels = _common("base", release, version)
    istio_ns = str(values["global"]["istioNamespace"])
    out: list[Obj] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": "istio-reader-service-account",
                "namespace": namespace,
                "labels": {"app": "istio-reader", "release": release, **labels},
            },
        }
    ]
    default = str(values.get("defaultRevision") or "")
    if default:
        service = "istiod" if default == "default" else f"istiod-{default}"
        out.append(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {
                    "name": "istiod-default-validator",
                    "labels": {
                        "app": "istiod",
                        "release": release,
                        "istio": "istiod",
                        "istio.io/rev": default,
                        "app.kubernetes.io/name": "istiod",
                        **labels,
                    },
                },
                "webhooks": [_validating_hook("validation.istio.io", service, istio_ns)],
            }
        )
    return out


def render_istiod(release: str, namespace: str, version: str, values: Obj) -> list[Obj]:
    """The istiod chart: Deployment, Service, ConfigMaps, injector and validator webhooks, tags."""
    values = chart_values("istiod", version, values)
    revision = revision_of(values)
    rev_label = revision or "default"
    name = f"istiod{_suffix(revision)}"
    common = _common("istiod", release, version)
    istio_ns = str(values["global"]["istioNamespace"])
    reinvocation = str(values["sidecarInjectorWebhook"].get("reinvocationPolicy") or "Never")
    auto = bool(values["sidecarInjectorWebhook"].get("enableNamespacesByDefault"))
    owner = {
        "install.operator.istio.io/owning-resource": str(values.get("ownerName") or "unknown"),
        "operator.istio.io/component": "Pilot",
    }
    meta_labels = {
        "app": "istiod",
        "istio.io/rev": rev_label,
        **owner,
        "istio": "pilot",
        "release": release,
        "app.kubernetes.io/name": "istiod",
        **common,
    }
    selector = {"app": "istiod", "istio.io/rev": revision} if revision else {"istio": "pilot"}
    pod_labels = {
        "app": "istiod",
        "istio.io/rev": rev_label,
        **owner,
        "sidecar.istio.io/inject": "false",
        "istio": "istiod" if revision else "pilot",
        **{str(k): str(v) for k, v in (values.get("podLabels") or {}).items()},
        "istio.io/dataplane-mode": "none",
        "app.kubernetes.io/name": "istiod",
        **common,
    }
    env = [
        {"name": "REVISION", "value": rev_label},
        {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
    ]  # fmt: skip
    for key, value in (values.get("env") or {}).items():
        env.append({"name": str(key), "value": str(value)})
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(meta_labels)},
        "spec": {
            "replicas": int(values.get("replicaCount") or 1),
            "strategy": {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "25%"}},
            "selector": {"matchLabels": dict(selector)},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {
                        "prometheus.io/port": "15014",
                        "prometheus.io/scrape": "true",
                        "sidecar.istio.io/inject": "false",
                        **{str(k): str(v) for k, v in (values.get("podAnnotations") or {}).items()},
                    },
                },
                "spec": {
                    "serviceAccountName": name,
                    "containers": [
                        {
                            "name": "discovery",
                            "image": _image(values, str(values.get("image") or "pilot")),
                            "args": ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info", "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m"],
                            "ports": [
                                {"containerPort": 8080, "protocol": "TCP", "name": "http-debug"},
                                {"containerPort": 15010, "protocol": "TCP", "name": "grpc-xds"},
                                {"containerPort": 15012, "protocol": "TCP", "name": "tls-xds"},
                                {"containerPort": 15017, "protocol": "TCP", "name": "https-webhooks"},
                                {"containerPort": 15014, "protocol": "TCP", "name": "http-monitoring"},
                            ],
                            "env": env,
                        }
                    ],
                },
            },
        },
    }  # fmt: skip
    service_labels = {
        "istio.io/rev": rev_label,
        **owner,
        "app": "istiod",
        "istio": "pilot",
        "release": release,
        "app.kubernetes.io/name": "istiod",
        **common,
    }
    ports = [
        {"port": 15010, "name": "grpc-xds", "protocol": "TCP"},
        {"port": 15012, "name": "https-dns", "protocol": "TCP"},
        {"port": 443, "name": "https-webhook", "targetPort": 15017, "protocol": "TCP"},
        {"port": 15014, "name": "http-monitoring", "protocol": "TCP"},
    ]
    service_selector = (
        {"app": "istiod", "istio.io/rev": revision}
        if revision
        else {"app": "istiod", "istio": "pilot"}
    )
    service: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(service_labels)},
        "spec": {
            "ports": copy.deepcopy(ports),
            "selector": dict(service_selector),
        },
    }  # fmt: skip
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "istiod", "release": release, **common},
        },
    }
    glob = values["global"]
    proxy_name = str((glob.get("proxy") or {}).get("image") or "proxyv2")
    injector_values = {
        "global": {
            "hub": glob.get("hub"),
            "tag": glob.get("tag"),
            "istioNamespace": istio_ns,
            "proxy": {"image": proxy_name},
            "proxy_init": {"image": proxy_name},
        },
        "revision": revision,
        "sidecarInjectorWebhook": copy.deepcopy(values["sidecarInjectorWebhook"]),
    }
    cm_labels = {
        "istio.io/rev": rev_label,
        **owner,
        "release": release,
        "app.kubernetes.io/name": "istiod",
        **common,
    }
    configmaps = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"istio{_suffix(revision)}",
                "namespace": namespace,
                "labels": {**cm_labels, "istio.io/rev": rev_label},
            },
            "data": {"mesh": "defaultConfig:\n  discoveryAddress: "
                     f"{name}.{istio_ns}.svc:15012\nrootNamespace: {istio_ns}\ntrustDomain: cluster.local\n",
                     "meshNetworks": "networks: {}"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": injector_config_name(revision),
                "namespace": namespace,
                "labels": dict(cm_labels),
            },
            "data": {
                "values": json.dumps(injector_values, indent=2, sort_keys=True),
                "config": "defaultTemplates: [sidecar]\npolicy: enabled\n"
                "templates:\n  sidecar: ''\n  gateway: ''\n",
            },
        },
    ]  # fmt: skip
    webhook_labels = {
        "istio.io/rev": rev_label,
        **owner,
        "app": "sidecar-injector",
        "release": release,
        "app.kubernetes.io/name": "istiod",
        **common,
    }
    injector = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": "istio-sidecar-injector"
            + _suffix(revision)
            + ("" if namespace == "istio-system" else f"-{namespace}"),
            "labels": dict(webhook_labels),
        },
        "webhooks": _injector_webhooks(
            rev_label, name, namespace, reinvocation, default=not revision, auto=auto
        ),
    }
    out: list[Obj] = [account, *configmaps, service, deployment, injector]
    if glob.get("configValidation", True):
        out.append(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {
                    "name": f"istio-validator{_suffix(revision)}-{istio_ns}",
                    "labels": {
                        "app": "istiod",
                        "release": release,
                        "istio": "istiod",
                        "istio.io/rev": rev_label,
                        "app.kubernetes.io/name": "istiod",
                        **common,
                    },
                },
                "webhooks": [
                    {
                        **_validating_hook("rev.validation.istio.io", name, istio_ns),
                        "objectSelector": {
                            "matchExpressions": [_expr("istio.io/rev", "In", [rev_label])]
                        },
                    }
                ],
            }
        )
    for tag in [str(t) for t in values.get("revisionTags") or []]:
        out.append(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {
                    "name": f"istio-revision-tag-{tag}"
                    + ("" if namespace == "istio-system" else f"-{namespace}"),
                    "labels": {"istio.io/tag": tag, **webhook_labels},
                },
                "webhooks": _injector_webhooks(
                    tag, name, namespace, reinvocation, default=tag == "default", auto=auto
                ),
            }
        )
        if _minor(version) >= (1, 28):
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": f"istiod-revision-tag-{tag}",
                        "namespace": namespace,
                        "labels": {**service_labels, "istio.io/tag": tag},
                    },
                    "spec": {
                        "ports": copy.deepcopy(ports),
                        "selector": dict(service_selector),
                    },
                }
            )
    return out


def render_gateway(release: str, namespace: str, version: str, values: Obj) -> list[Obj]:
    """The gateway chart: Deployment, Service and ServiceAccount (Role and HPA left out)."""
    values = chart_values("gateway", version, values)
    name = str(values.get("name") or release or "istio-ingressgateway")
    user_labels = {str(k): str(v) for k, v in (values.get("labels") or {}).items()}
    selector = {
        "app": user_labels.get("app") or name,
        "istio": user_labels.get("istio") or name.removeprefix("istio-"),
    }
    extra = {k: v for k, v in user_labels.items() if k not in ("app", "istio")}
    common = _common("gateway", release, version)
    labels = {"app.kubernetes.io/name": name, **common, **selector, **extra}
    account_name = (
        str((values.get("serviceAccount") or {}).get("name") or name)
        if (values.get("serviceAccount") or {}).get("create", True)
        else str((values.get("serviceAccount") or {}).get("name") or "default")
    )
    injection = {"sidecar.istio.io/inject": "true"}
    revision = str(values.get("revision") or "")
    if revision:
        injection["istio.io/rev"] = revision
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "replicas": int(values.get("replicaCount") or 1),
            "selector": {"matchLabels": dict(selector)},
            "template": {
                "metadata": {
                    "annotations": {
                        str(k): str(v) for k, v in (values.get("podAnnotations") or {}).items()
                    },
                    "labels": {
                        **injection,
                        **selector,
                        "app.kubernetes.io/name": name,
                        **common,
                        **extra,
                    },
                },
                "spec": {
                    "serviceAccountName": account_name,
                    "containers": [
                        {
                            "name": "istio-proxy",
                            "image": "auto",
                            "ports": [
                                {
                                    "containerPort": 15090,
                                    "protocol": "TCP",
                                    "name": "http-envoy-prom",
                                }
                            ],
                        }
                    ],
                },
            },
        },
    }
    svc = values.get("service") or {}
    out: list[Obj] = []
    if (values.get("serviceAccount") or {}).get("create", True):
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": account_name, "namespace": namespace, "labels": dict(labels)},
            }
        )
    if svc.get("type") != "None":
        spec: Obj = {
            "type": str(svc.get("type") or "LoadBalancer"),
            "ports": copy.deepcopy(svc.get("ports") or []),
            "selector": dict(selector),
        }
        if svc.get("loadBalancerIP"):
            spec["loadBalancerIP"] = str(svc["loadBalancerIP"])
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": dict(labels),
                    "annotations": {
                        str(k): str(v) for k, v in (svc.get("annotations") or {}).items()
                    },
                },
                "spec": spec,
            }
        )
    out.append(deployment)
    return out


_RENDERERS = {
    "base": render_base,
    "istiod": render_istiod,
    "gateway": render_gateway,
    "cni": render_cni,  # the node agents: simcluster/charts/nodeagents.py
    "ztunnel": render_ztunnel,
}


def render(chart: str, release: str, namespace: str, version: str, values: Obj) -> list[Obj]:
    """Render one of Istio's charts; KeyError for a chart simcluster does not know."""
    return _RENDERERS[chart](release, namespace, version, values)
