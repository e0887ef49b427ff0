"""Helpers for the Sail operator tests: a cluster with the operator, read over real HTTP.

Everything goes through the real ``kubernetes`` client against ``SimCluster``'s API server, as
the verifier reads a cluster; waiting is ``tests.polling.wait_for``.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client, config

from simcluster.harness import SimCluster
from tests.polling import wait_for

Obj = dict[str, Any]
GROUP, VERSION = "sailoperator.io", "v1"
PLURALS = {
    "Istio": "istios",
    "IstioRevision": "istiorevisions",
    "IstioRevisionTag": "istiorevisiontags",
    "IstioCNI": "istiocnis",
}


class Cluster:
    """Typed access to one SimCluster over the wire."""

    def __init__(self, sim: SimCluster) -> None:
        self.sim = sim
        self.api = config.new_client_from_config(config_file=str(sim.kubeconfig))
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.webhooks = client.AdmissionregistrationV1Api(self.api)

    # -- Sail objects ----------------------------------------------------------------------------

    def create(self, kind: str, name: str, spec: Obj) -> Obj:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}}
        body["spec"] = spec
        out: Obj = self.custom.create_cluster_custom_object(GROUP, VERSION, PLURALS[kind], body)
        return out

    def patch(self, kind: str, name: str, spec: Obj) -> Obj:
        out: Obj = self.custom.patch_cluster_custom_object(
            GROUP, VERSION, PLURALS[kind], name, {"spec": spec}
        )
        return out

    def get(self, kind: str, name: str) -> Obj | None:
        try:
            out: Obj = self.custom.get_cluster_custom_object(GROUP, VERSION, PLURALS[kind], name)
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise
        return out

    def names(self, kind: str) -> list[str]:
        items = self.custom.list_cluster_custom_object(GROUP, VERSION, PLURALS[kind])["items"]
        return sorted(i["metadata"]["name"] for i in items)

    def condition(self, kind: str, name: str, ctype: str) -> Obj:
        for c in ((self.get(kind, name) or {}).get("status") or {}).get("conditions") or []:
            if c["type"] == ctype:
                return dict(c)
        return {}

    def wait_condition(
        self, kind: str, name: str, ctype: str, status: str, timeout: float = 20
    ) -> Obj:
        return wait_for(
            lambda: self.condition(kind, name, ctype),
            lambda c: c.get("status") == status,
            what=f"{kind} {name} {ctype}={status}",
            timeout=timeout,
        )

    # -- the rest of the cluster -----------------------------------------------------------------

    def namespace(self, name: str, **labels: str) -> None:
        self.core.create_namespace({"metadata": {"name": name, "labels": labels}})

    def label_namespace(self, name: str, labels: dict[str, str | None]) -> None:
        self.core.patch_namespace(name, {"metadata": {"labels": labels}})

    def install_operator(self, version: str = "1.29.2") -> None:
        """The operator as OLM or plain manifests install it: a Deployment ``sail-operator``."""
        self.namespace("sail-operator")
        labels = {"app.kubernetes.io/name": "sail-operator"}
        self.apps.create_namespaced_deployment(
            "sail-operator",
            {
                "metadata": {"name": "sail-operator", "labels": labels},
                "spec": {
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "sail-operator",
                                    "image": f"quay.io/sail-dev/sail-operator:{version}",
                                }
                            ]
                        },
                    },
                },
            },
        )

    def deployment(self, ns: str, name: str, **template_labels: str) -> None:
        labels = {"app": name}
        self.apps.create_namespaced_deployment(
            ns,
            {
                "metadata": {"name": name},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": {**labels, **template_labels}},
                        "spec": {
                            "containers": [{"name": "app", "image": "k8s.gcr.io/echoserver:1.10"}]
                        },
                    },
                },
            },
        )

    def restart(self, ns: str, name: str, stamp: str) -> None:
        """``kubectl rollout restart``: a new pod-template annotation."""
        self.apps.patch_namespaced_deployment(
            name,
            ns,
            {
                "spec": {
                    "template": {
                        "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}
                    }
                }
            },
        )

    def pod_revisions(self, ns: str) -> list[str]:
        """The ``istio.io/rev`` annotation of every pod not terminating (what the injector wrote)."""
        pods = self.core.list_namespaced_pod(ns).items
        return sorted(
            (p.metadata.annotations or {}).get("istio.io/rev", "")
            for p in pods
            if p.metadata.deletion_timestamp is None
        )

    def istiod_image(self, name: str) -> str | None:
        try:
            dep = self.apps.read_namespaced_deployment(name, "istio-system")
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise
        return str(dep.spec.template.spec.containers[0].image)


def istio_spec(version: str, *, grace: int = 1, strategy: str = "RevisionBased") -> Obj:
    return {
        "version": version,
        "namespace": "istio-system",
        "updateStrategy": {
            "type": strategy,
            "inactiveRevisionDeletionGracePeriodSeconds": grace,
        },
    }
