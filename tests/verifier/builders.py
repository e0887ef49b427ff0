"""Schema-shaped objects for the pure checks' tests (the seed's names: demo-a, demo-b, app-a...)."""

from __future__ import annotations

import json
from typing import Any

from core.plan import (
    ConnectivityCheck,
    ControlPlane,
    GatewayRef,
    GitOpsObject,
    MeshNamespace,
    OperatorRelease,
    Plan,
    Stage,
    WorkloadRef,
)
from verifier.snapshot import Snapshot

OLD = ControlPlane(
    "istio-sample",
    "istio-system",
    "1.6.14",
    OperatorRelease("istio-operator-v16x", "istio-system", "0.6.12", "argocd-application"),
)
NEW = ControlPlane(
    "istio-sample-v17x",
    "istio-system",
    "1.7.7",
    OperatorRelease("istio-operator-v17x", "istio-system", "0.7.14", "argocd-application"),
    global_=False,
)
A_TO_B = ConnectivityCheck("demo-a", "k8s-app=app-a", "echo-service", "demo-b", "app-b", 80)
B_TO_A = ConnectivityCheck("demo-b", "k8s-app=app-b", "echo-service", "demo-a", "app-a", 80)


def plan(applied: int = 0, rolled_back: tuple[str, ...] = ()) -> Plan:
    stages = (
        Stage(1, "control-plane", "control-plane"),
        Stage(2, "gateways", "gateways", gateways=("istio-ingressgateway",)),
        Stage(3, "namespaces-1", "namespaces", namespaces=("demo-a",), checks=(A_TO_B, B_TO_A)),
        Stage(4, "namespaces-2", "namespaces", namespaces=("demo-b",), checks=(A_TO_B, B_TO_A)),
        Stage(5, "cleanup", "cleanup"),
    )
    p = Plan(
        source=OLD,
        target=NEW,
        stages=stages,
        namespaces=(
            MeshNamespace("demo-a", (WorkloadRef("Deployment", "app-a"),)),
            MeshNamespace("demo-b", (WorkloadRef("Deployment", "app-b"),)),
        ),
        gateways=(GatewayRef("istio-ingressgateway", "istio-system", in_repo=False),),
        gitops_engine="argocd",
        gitops_objects=(GitOpsObject("Application", "demo-apps", "argocd", "apps"),),
        rolled_back=rolled_back,
        baseline_checks=(A_TO_B, B_TO_A),
    )
    for i in range(1, applied + 1):
        p = p.mark_applied(i)
    return p


def pod(
    ns: str,
    name: str,
    cp: ControlPlane | None,
    *,
    app: str = "",
    template: str = "abc12",
    ready: bool = True,
    native: bool = False,
    version: str | None = None,
    waiting: str = "",
    owner_kind: str = "ReplicaSet",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Running pod of Deployment `app` (ReplicaSet `<app>-<template>`), injected by `cp`."""
    app = app or name.rsplit("-", 2)[0]
    lab = {"k8s-app": app, "pod-template-hash": template, **(labels or {})}
    containers: list[dict[str, Any]] = [
        {"name": "echo-service", "image": "k8s.gcr.io/echoserver:1.10"}
    ]
    init: list[dict[str, Any]] = []
    ann: dict[str, str] = {}
    if cp is not None:
        lab["istio.io/rev"] = cp.revision
        proxy = {
            "name": "istio-proxy",
            "image": f"docker.io/istio/proxyv2:{version or cp.version}",
            "env": [{"name": "CA_ADDR", "value": f"{cp.istiod}.{cp.namespace}.svc:15012"}],
        }
        init.append({"name": "istio-init", "image": proxy["image"]})
        if native:
            init.append({**proxy, "restartPolicy": "Always"})
        else:
            containers.append(proxy)
        ann["sidecar.istio.io/status"] = json.dumps(
            {"version": "x", "initContainers": ["istio-init"], "containers": ["istio-proxy"]}
        )
    statuses = [
        {
            "name": c["name"],
            "ready": ready,
            "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}},
        }
        for c in containers
    ]
    owners = (
        [{"kind": owner_kind, "name": f"{app}-{template}", "controller": True, "uid": "u"}]
        if owner_kind
        else []
    )
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": lab,
            "annotations": ann,
            "ownerReferences": owners,
            "uid": f"uid-{ns}-{name}",
        },
        "spec": {"containers": containers, "initContainers": init, "serviceAccountName": "default"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": statuses,
        },
    }


def istio(cp: ControlPlane, state: str = "Available", error: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": cp.name, "namespace": cp.namespace, "uid": f"uid-{cp.name}"},
        "spec": {"version": cp.version},
        "status": {"Status": state, "ErrorMessage": error},
    }


def deployment(
    ready: int = 1, replicas: int = 1, *, updated: int | None = None, total: int | None = None
) -> dict[str, Any]:
    updated = replicas if updated is None else updated
    return {
        "metadata": {"generation": 1},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": 1,
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "replicas": updated if total is None else total,
        },
    }


def mgw(
    cp: ControlPlane, *, owned_by: ControlPlane | None = None, created: str = "2026-01-01T00:00:00Z"
) -> dict[str, Any]:
    owners = (
        [
            {
                "apiVersion": "istio.banzaicloud.io/v1beta1",
                "kind": "Istio",
                "name": owned_by.name,
                "uid": f"uid-{owned_by.name}",
                "controller": True,
            }
        ]
        if owned_by
        else []
    )
    return {
        "metadata": {
            "name": "istio-ingressgateway",
            "namespace": "istio-system",
            "uid": "uid-mgw",
            "creationTimestamp": created,
            "ownerReferences": owners,
        },
        "spec": {"istioControlPlane": {"name": cp.name, "namespace": cp.namespace}},
        "status": {"Status": "Available"},
    }


def service(
    uid: str = "uid-svc", created: str = "2026-01-01T00:00:02Z", ip: str = "192.0.2.10"
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "istio-ingressgateway",
            "namespace": "istio-system",
            "uid": uid,
            "creationTimestamp": created,
            "ownerReferences": [
                {"kind": "MeshGateway", "name": "istio-ingressgateway", "uid": "uid-mgw"}
            ],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }


def gateway_pod(
    cp: ControlPlane, name: str = "istio-ingressgateway-5f7-x1", **kw: Any
) -> dict[str, Any]:
    p = pod(
        "istio-system",
        name,
        cp,
        app="istio-ingressgateway",
        template=cp.name[-4:],
        labels={"gateway-name": "istio-ingressgateway"},
        **kw,
    )
    p["spec"]["containers"] = [c for c in p["spec"]["containers"] if c["name"] == "istio-proxy"]
    return p


def namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def healthy(stage: int, p: Plan | None = None, **overrides: Any) -> Snapshot:
    """The snapshot of a cluster exactly where the plan says it is after `stage`."""
    p = p or plan()
    moved = set(p.migrated_namespaces(upto=stage)) - set(p.rolled_back)
    cps = [OLD] if stage < 5 else []
    if stage >= 1:
        cps.append(NEW)
    gw_cp = NEW if stage >= 2 else OLD
    pods = [
        pod(
            "demo-a",
            "app-a-abc12-x1",
            NEW if "demo-a" in moved else OLD,
            template="n1" if "demo-a" in moved else "abc12",
        ),
        pod(
            "demo-b",
            "app-b-abc12-x2",
            NEW if "demo-b" in moved else OLD,
            template="n1" if "demo-b" in moved else "abc12",
        ),
        gateway_pod(gw_cp),
    ]
    fields: dict[str, Any] = {
        "pods": pods,
        "istios": {(c.namespace, c.name): istio(c) for c in cps},
        "meshgateways": {("istio-system", "istio-ingressgateway"): mgw(gw_cp)},
        "deployments": {
            (OLD.namespace, OLD.istiod): deployment() if stage < 5 else None,
            (NEW.namespace, NEW.istiod): deployment() if stage >= 1 else None,
        },
        "services": {("istio-system", "istio-ingressgateway"): service()},
        "meshed_namespaces": {
            ns.name: namespace(
                ns.name,
                {"istio.io/rev": NEW.revision}
                if ns.name in moved
                else {"istio-injection": "enabled"},
            )
            for ns in p.namespaces
        },
    }
    fields.update(overrides)
    return Snapshot(**fields)
