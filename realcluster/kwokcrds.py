"""kwok's own ``Exec`` CRD, so that exec configuration can be written per pod through the API.

kwok reads its exec rules from its config file (``ClusterExec``: the same for every pod) or, with
``--enable-crds=Exec``, from ``Exec`` objects named after a pod. The upstream CRD ships in kwok's
repository as generated YAML; this is the same group, names and scope with an open schema (the
fields kwok reads are ``spec.execs[].containers`` and ``spec.execs[].local``), so nothing is
copied. Pass ``ControlPlane(crds=[*CRDS, EXEC_CRD], kwok_args=KWOK_EXEC_ARGS)``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXEC_CRD", "KWOK_EXEC_ARGS"]

KWOK_EXEC_ARGS = ("--enable-crds=Exec",)

EXEC_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "execs.kwok.x-k8s.io"},
    "spec": {
        "group": "kwok.x-k8s.io",
        "scope": "Namespaced",
        "names": {"kind": "Exec", "plural": "execs", "singular": "exec", "listKind": "ExecList"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
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
