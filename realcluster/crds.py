"""CRDs for the kinds the verifier reads: the real API server has none built in.

simcluster serves the Banzai and Argo CD kinds itself; on the real control plane they must be
installed first (``ControlPlane(crds=CRDS)``, or ``kubectl apply`` of
``yaml.safe_dump_all(CRDS)``). No schema (the API server only has to store and serve them), but
the names, short names, status subresource and printer columns of the upstream CRDs, so that
``kubectl get mgw`` and its table look as they do on a cluster running the Banzai operator and
Argo CD.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["CRDS", "schemaless_crd"]

Column = tuple[str, str, str, int]  # (name, type, jsonPath, priority)


def schemaless_crd(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    short_names: Sequence[str] = (),
    status: bool = False,
    columns: Sequence[Column] = (),
) -> dict[str, Any]:
    """A namespaced CRD that stores anything, with the upstream CRD's names and table."""
    served: dict[str, Any] = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        },
    }
    if status:
        served["subresources"] = {"status": {}}
    if columns:
        served["additionalPrinterColumns"] = [
            {"name": n, "type": t, "jsonPath": p, **({"priority": prio} if prio else {})}
            for n, t, p, prio in columns
        ]
    names: dict[str, Any] = {"kind": kind, "plural": plural, "singular": kind.lower()}
    if short_names:
        names["shortNames"] = list(short_names)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": "Namespaced", "names": names, "versions": [served]},
    }


CRDS = [
    schemaless_crd(
        "istio.banzaicloud.io",
        "v1beta1",
        "Istio",
        "istios",
        status=True,
        columns=(
            ("Status", "string", ".status.Status", 0),
            ("Error", "string", ".status.ErrorMessage", 0),
            ("Ingress IPs", "string", ".status.GatewayAddress", 0),
            ("Age", "date", ".metadata.creationTimestamp", 0),
        ),
    ),
    schemaless_crd(
        "istio.banzaicloud.io",
        "v1beta1",
        "MeshGateway",
        "meshgateways",
        short_names=("mgw",),
        status=True,
        columns=(
            ("Type", "string", ".spec.type", 0),
            ("Service Type", "string", ".spec.serviceType", 0),
            ("Status", "string", ".status.Status", 0),
            ("Ingress IPs", "string", ".status.GatewayAddress", 0),
            ("Error", "string", ".status.ErrorMessage", 0),
            ("Age", "date", ".metadata.creationTimestamp", 0),
            ("Control Plane", "string", ".spec.istioControlPlane", 0),
        ),
    ),
    schemaless_crd(
        "argoproj.io",
        "v1alpha1",
        "Application",
        "applications",
        short_names=("app", "apps"),
        columns=(
            ("Sync Status", "string", ".status.sync.status", 0),
            ("Health Status", "string", ".status.health.status", 0),
            ("Revision", "string", ".status.sync.revision", 10),
            ("Project", "string", ".spec.project", 10),
        ),
    ),
]
