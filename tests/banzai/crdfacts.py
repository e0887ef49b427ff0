"""The 1.7 CRDs' schema, reduced to the parts istio-canary writes, as facts built here.

Taken from the operator's release-1.7 CRDs (config/base/crds/istio.banzaicloud.io_istios.yaml and
_meshgateways.yaml): field names, types, enums and required lists. Subtrees the generator copies
verbatim from the old CR without looking inside keep their unknown fields; everything the
generator writes or renames is strict, as the API server's pruning would be.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ISTIO", "MESHGATEWAY"]

Schema = dict[str, Any]

_OPEN: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_STR_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
_BOOL: Schema = {"type": "boolean"}
_STR: Schema = {"type": "string"}
_COUNT: Schema = {"type": "integer", "minimum": 0}
_OPEN_LIST: Schema = {"type": "array", "items": _OPEN}


def _strict(**props: Schema) -> Schema:
    return {"type": "object", "properties": props}


_PORT: Schema = {
    "type": "object",
    "required": ["port"],
    "properties": {
        "name": _STR,
        "port": {"type": "integer"},
        "protocol": _STR,
        "targetPort": {"type": "integer"},
        "nodePort": {"type": "integer"},
        "appProtocol": _STR,
    },
}
# MeshGatewayConfiguration: what a gateway block of the CR and a MeshGateway share.
_GATEWAY_CONFIG: dict[str, Schema] = {
    "replicaCount": _COUNT,
    "minReplicas": _COUNT,
    "maxReplicas": _COUNT,
    "resources": _OPEN,
    "nodeSelector": _STR_MAP,
    "affinity": _OPEN,
    "tolerations": _OPEN_LIST,
    "podAnnotations": _STR_MAP,
    "securityContext": _OPEN,
    "labels": _STR_MAP,
    "serviceType": {"type": "string", "enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
    "loadBalancerIP": _STR,
    "serviceAnnotations": _STR_MAP,
    "serviceLabels": _STR_MAP,
    "serviceExternalTrafficPolicy": {"type": "string", "enum": ["Local", "Cluster"]},
    "sds": _OPEN,
    "requestedNetworkView": _STR,
    "additionalEnvVars": _OPEN_LIST,
    "runAsRoot": _BOOL,
}
_GATEWAY_BLOCK = _strict(
    **_GATEWAY_CONFIG,
    ports={"type": "array", "items": _PORT},
    enabled=_BOOL,
    createOnly=_BOOL,
)

MESHGATEWAY: Schema = _strict(
    apiVersion=_STR,
    kind=_STR,
    metadata=_OPEN,
    spec={
        "type": "object",
        "required": ["ports", "type"],
        "properties": {
            **_GATEWAY_CONFIG,
            "ports": {"type": "array", "items": _PORT},
            "type": {"type": "string", "enum": ["ingress", "egress"]},
            "istioControlPlane": _strict(name=_STR, namespace=_STR),
        },
    },
)

# Istio spec fields the release-1.6 samples carry that the generator copies unchanged.
_COPIED = [
    "meshPolicy",
    "defaultResources",
    "mixerlessTelemetry",
    "policy",
    "telemetry",
    "proxy",
    "proxyInit",
    "defaultPodDisruptionBudget",
    "outboundTrafficPolicy",
    "tracing",
    "localityLB",
    "istioCoreDNS",
    "citadel",
    "sidecarInjector",
    "mixer",
    "galley",
]

ISTIO: Schema = _strict(
    apiVersion=_STR,
    kind=_STR,
    metadata=_OPEN,
    spec={
        "type": "object",
        "required": ["version"],
        "properties": {
            **{key: _OPEN for key in _COPIED},
            "version": {"type": "string", "pattern": "^1."},
            "global": _BOOL,
            "autoInjectionNamespaces": {"type": "array", "items": _STR},
            "controlPlaneAuthPolicy": {"type": "string", "enum": ["MUTUAL_TLS", "NONE"]},
            "autoMtls": _BOOL,
            "includeIPRanges": _STR,
            "excludeIPRanges": _STR,
            "mountMtlsCerts": _BOOL,
            "jwtPolicy": {"type": "string", "enum": ["third-party-jwt", "first-party-jwt"]},
            "useMCP": _BOOL,
            "meshExpansion": _BOOL,
            "multiMesh": _BOOL,
            "istiod": _strict(
                enabled=_BOOL,
                enableAnalysis=_BOOL,
                enableStatus=_BOOL,
                exposeWebhookPort=_BOOL,
                multiClusterSupport=_BOOL,
                multiControlPlaneSupport=_BOOL,
            ),
            "pilot": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"additionalEnvVars": _OPEN_LIST},
            },
            "gateways": _strict(
                enabled=_BOOL,
                ingress=_GATEWAY_BLOCK,
                egress=_GATEWAY_BLOCK,
                meshExpansion=_GATEWAY_BLOCK,
                k8singress=_OPEN,
            ),
        },
    },
)
