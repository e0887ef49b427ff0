"""Schemaless CRDs for the kinds the verifier reads: the real API server has none built in.

simcluster serves the Banzai and Argo CD kinds itself; on the real control plane they must be
installed first (``kubectl apply`` of ``yaml.safe_dump_all(CRDS)``). No schema: the API server
only has to store and serve them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CRDS", "schemaless_crd"]


def schemaless_crd(group: str, version: str, kind: str, plural: str) -> dict[str, Any]:
    """A schemaless CRD: the verifier reads these kinds, the API server only has to serve them."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


CRDS = [
    schemaless_crd("istio.banzaicloud.io", "v1beta1", "Istio", "istios"),
    schemaless_crd("istio.banzaicloud.io", "v1beta1", "MeshGateway", "meshgateways"),
    schemaless_crd("argoproj.io", "v1alpha1", "Application", "applications"),
]
