"""Decode the Kubernetes protobuf request bodies kubectl's typed commands send.

``kubectl create namespace demo-a`` (and ``create configmap|secret|serviceaccount|deployment|
service``, ``run``, ``expose``, ``auth can-i``) POST ``application/vnd.kubernetes.protobuf`` and
do not fall back to JSON on 415, so the API server must read them. Bodies are the ``k8s\\x00``
magic plus a ``runtime.Unknown`` envelope whose ``raw`` holds the typed message; field numbers
come from the generated.proto files of k8s.io/api and apimachinery. Only the kinds below are
understood; anything else is answered 415 by the caller, naming the kind.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

MAGIC = b"k8s\x00"

Obj = dict[str, Any]
# field number -> (json name, type); type is a scalar name, "map:<value type>", "list:<type>"
# or the name of a message schema in SCHEMAS.
Schema = dict[int, tuple[str, str]]


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf message this server can read."""


SCHEMAS: dict[str, Schema] = {
    "Unknown": {
        1: ("typeMeta", "TypeMeta"),
        2: ("raw", "rawbytes"),
        3: ("contentEncoding", "string"),
        4: ("contentType", "string"),
    },
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        4: ("selfLink", "string"),
        5: ("uid", "string"),
        6: ("resourceVersion", "string"),
        7: ("generation", "int"),
        8: ("creationTimestamp", "Time"),
        9: ("deletionTimestamp", "Time"),
        10: ("deletionGracePeriodSeconds", "int"),
        11: ("labels", "map:string"),
        12: ("annotations", "map:string"),
        13: ("ownerReferences", "list:OwnerReference"),
        14: ("finalizers", "list:string"),
    },
    "OwnerReference": {
        1: ("kind", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "Namespace": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NamespaceSpec"),
        3: ("status", "NamespaceStatus"),
    },
    "NamespaceStatus": {1: ("phase", "string")},
    "NamespaceSpec": {1: ("finalizers", "list:string")},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map:string"),
        3: ("binaryData", "map:bytes"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map:bytes"),
        3: ("type", "string"),
        4: ("stringData", "map:string"),
        5: ("immutable", "bool"),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
        3: ("imagePullSecrets", "list:LocalObjectReference"),
        4: ("automountServiceAccountToken", "bool"),
    },
    "LocalObjectReference": {1: ("name", "string")},
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SelfSubjectAccessReviewSpec"),
        3: ("status", "SubjectAccessReviewStatus"),
    },
    "SubjectAccessReviewStatus": {
        1: ("allowed", "bool"),
        2: ("reason", "string"),
        3: ("evaluationError", "string"),
        4: ("denied", "bool"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: ("namespace", "string"),
        2: ("verb", "string"),
        3: ("group", "string"),
        4: ("version", "string"),
        5: ("resource", "string"),
        6: ("subresource", "string"),
        7: ("name", "string"),
    },
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
}
# Workloads and Services, for `kubectl create deployment`, `kubectl run` and `kubectl expose`
# (field numbers from k8s.io/api core/v1 and apps/v1 generated.proto).
SCHEMAS.update(
    {
        "Pod": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec"), 3: ("status", "Empty")},
        "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
        "PodSpec": {
            2: ("containers", "list:Container"),
            3: ("restartPolicy", "string"),
            4: ("terminationGracePeriodSeconds", "int"),
            5: ("activeDeadlineSeconds", "int"),
            6: ("dnsPolicy", "string"),
            7: ("nodeSelector", "map:string"),
            8: ("serviceAccountName", "string"),
            9: ("serviceAccount", "string"),
            10: ("nodeName", "string"),
            11: ("hostNetwork", "bool"),
            15: ("imagePullSecrets", "list:LocalObjectReference"),
            19: ("schedulerName", "string"),
            20: ("initContainers", "list:Container"),
            30: ("enableServiceLinks", "bool"),
        },
        "Container": {
            1: ("name", "string"),
            2: ("image", "string"),
            3: ("command", "list:string"),
            4: ("args", "list:string"),
            5: ("workingDir", "string"),
            6: ("ports", "list:ContainerPort"),
            7: ("env", "list:EnvVar"),
            8: ("resources", "ResourceRequirements"),
            13: ("terminationMessagePath", "string"),
            14: ("imagePullPolicy", "string"),
            16: ("stdin", "bool"),
            17: ("stdinOnce", "bool"),
            18: ("tty", "bool"),
            20: ("terminationMessagePolicy", "string"),
            24: ("restartPolicy", "string"),
        },
        "ContainerPort": {
            1: ("name", "string"),
            2: ("hostPort", "int"),
            3: ("containerPort", "int"),
            4: ("protocol", "string"),
            5: ("hostIP", "string"),
        },
        "EnvVar": {1: ("name", "string"), 2: ("value", "string")},
        "ResourceRequirements": {1: ("limits", "map:Quantity"), 2: ("requests", "map:Quantity")},
        "Deployment": {
            1: ("metadata", "ObjectMeta"),
            2: ("spec", "DeploymentSpec"),
            3: ("status", "Empty"),
        },
        "DeploymentSpec": {
            1: ("replicas", "int"),
            2: ("selector", "LabelSelector"),
            3: ("template", "PodTemplateSpec"),
            4: ("strategy", "DeploymentStrategy"),
            5: ("minReadySeconds", "int"),
            6: ("revisionHistoryLimit", "int"),
            7: ("paused", "bool"),
            9: ("progressDeadlineSeconds", "int"),
        },
        "DeploymentStrategy": {1: ("type", "string"), 2: ("rollingUpdate", "RollingUpdate")},
        "RollingUpdate": {1: ("maxUnavailable", "IntOrString"), 2: ("maxSurge", "IntOrString")},
        "LabelSelector": {
            1: ("matchLabels", "map:string"),
            2: ("matchExpressions", "list:LabelSelectorRequirement"),
        },
        "LabelSelectorRequirement": {
            1: ("key", "string"),
            2: ("operator", "string"),
            3: ("values", "list:string"),
        },
        "Service": {
            1: ("metadata", "ObjectMeta"),
            2: ("spec", "ServiceSpec"),
            3: ("status", "Empty"),
        },
        "ServiceSpec": {
            1: ("ports", "list:ServicePort"),
            2: ("selector", "map:string"),
            3: ("clusterIP", "string"),
            4: ("type", "string"),
            5: ("externalIPs", "list:string"),
            7: ("sessionAffinity", "string"),
            8: ("loadBalancerIP", "string"),
            10: ("externalName", "string"),
            18: ("clusterIPs", "list:string"),
        },
        "ServicePort": {
            1: ("name", "string"),
            2: ("protocol", "string"),
            3: ("port", "int"),
            4: ("targetPort", "IntOrString"),
            5: ("nodePort", "int"),
            6: ("appProtocol", "string"),
        },
        # status of a new object: only empty sub-messages are expected; anything set is an error
        "Empty": {},
    }
)
KINDS = (
    "Namespace",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "SelfSubjectAccessReview",
    "Pod",
    "Deployment",
    "Service",
)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints/fixed, bytes for length-delimited."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ProtobufError("truncated field")
            out.append((number, buf[pos : pos + length]))
            pos += length
        elif wire == 1:
            out.append((number, int.from_bytes(buf[pos : pos + 8], "little")))
            pos += 8
        elif wire == 5:
            out.append((number, int.from_bytes(buf[pos : pos + 4], "little")))
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _time(buf: bytes) -> str | None:
    seconds = dict(_fields(buf)).get(1, 0)
    if not seconds or not isinstance(seconds, int):
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(kind: str, value: int | bytes) -> Any:
    if kind == "string":
        return value.decode() if isinstance(value, bytes) else str(value)
    if kind == "bytes":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else ""
    if kind == "rawbytes":
        return value
    if kind == "int":
        if not isinstance(value, int):
            raise ProtobufError("expected an integer")
        return value - (1 << 64) if value >= 1 << 63 else value
    if kind == "bool":
        return bool(value)
    if not isinstance(value, bytes):
        raise ProtobufError(f"expected a {kind} message")
    if kind == "Time":
        return _time(value)
    if kind == "Quantity":  # resource.Quantity {string = 1}
        return _scalar("string", dict(_fields(value)).get(1, b""))
    if kind == "IntOrString":  # {type = 1 (0 int, 1 string), intVal = 2, strVal = 3}
        parts = dict(_fields(value))
        if parts.get(1, 0) == 1:
            return _scalar("string", parts.get(3, b""))
        return _scalar("int", parts.get(2, 0))
    return decode_message(kind, value)


def decode_message(schema_name: str, buf: bytes) -> Obj:
    """Decode one message by its schema; unknown field numbers are an error (never dropped)."""
    schema = SCHEMAS[schema_name]
    out: Obj = {}
    for number, value in _fields(buf):
        if number not in schema:
            if value in (b"", 0):  # an empty field this server has no name for: unset anyway
                continue
            raise ProtobufError(f"{schema_name} field {number} is not understood by simcluster")
        name, kind = schema[number]
        if kind.startswith("map:"):
            if not isinstance(value, bytes):
                raise ProtobufError(f"{schema_name}.{name}: expected a map entry")
            entry = dict(_fields(value))
            key = entry.get(1, b"")
            out.setdefault(name, {})[_scalar("string", key)] = _scalar(kind[4:], entry.get(2, b""))
        elif kind.startswith("list:"):
            out.setdefault(name, []).append(_scalar(kind[5:], value))
        else:
            scalar = _scalar(kind, value)
            if scalar not in ("", None, {}, False):  # proto3 has no presence: empty means unset
                out[name] = scalar
    return out


def decode(body: bytes) -> Obj:
    """A JSON-shaped object from a ``k8s\\x00``-framed protobuf body; ProtobufError otherwise."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = decode_message("Unknown", body[len(MAGIC) :])
    type_meta = envelope.get("typeMeta") or {}
    kind = str(type_meta.get("kind", ""))
    if kind not in KINDS:
        raise ProtobufError(f"simcluster cannot read {kind or 'this kind'} as protobuf; send JSON")
    raw = envelope.get("raw", b"")
    obj = decode_message(kind, raw if isinstance(raw, bytes) else b"")
    return {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind, **obj}
