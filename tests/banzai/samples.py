"""The operator's release-1.6 sample Istio CRs (config/samples/istio_v1beta1_istio*.yaml), as facts.

Each is written here from what the sample sets, not copied; the full sample,
`istio_v1beta1_istio.yaml`, is example-repo's own CR (which is based on it). When the operator's
repository is fetched, `mirror_samples` reads the real files instead, so the facts are checked.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.generator.helpers import example_repo_dir

__all__ = ["MIRROR", "fact_samples", "mirror_samples"]

MIRROR = Path("/work/.mirror/banzaicloud+istio-operator/repo")
_PROXY = {"image": "docker.io/istio/proxyv2:1.6.14"}
_CNI = {
    "enabled": True,
    "chained": True,
    "repair": {
        "enabled": True, "hub": "", "tag": "", "labelPods": True, "deletePods": True,
        "initContainerName": "istio-validation",
        "brokenPodLabelKey": "cni.istio.io/uninitialized", "brokenPodLabelValue": "true",
    },
}  # fmt: skip


def _cr(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "istio.banzaicloud.io/v1beta1",
        "kind": "Istio",
        "metadata": {"labels": {"controller-tools.k8s.io": "1.0"}, "name": name},
        "spec": {"version": "1.6.14", "autoInjectionNamespaces": ["default"], **spec},
    }


def fact_samples() -> dict[str, dict[str, Any]]:
    """{sample file name: CR} for every release-1.6 sample of kind Istio."""
    (full,) = yaml.safe_load_all((example_repo_dir() / "istio-system/istio.yaml").read_text())
    base = {"meshPolicy": {"mtlsMode": "PERMISSIVE"}}
    tail = {"proxy": _PROXY, "jwtPolicy": "first-party-jwt"}
    return {
        "istio_v1beta1_istio.yaml": full,
        "istio_v1beta1_istio_cni.yaml": _cr("istio-sample", {
            **base, "gateways": {"ingress": {"runAsRoot": False}},
            "sidecarInjector": {"initCNIConfiguration": _CNI}, **tail,
        }),
        "istio_v1beta1_istio_cni_gke.yaml": _cr("istio-sample", {
            **base, "gateways": {"ingress": {"runAsRoot": False}},
            "sidecarInjector": {"initCNIConfiguration": {**_CNI, "binDir": "/home/kubernetes/bin"}},
            **tail,
        }),
        "istio_v1beta1_istio_meshexpansion.yaml": _cr("istio-sample", {
            "useMCP": False, "meshPolicy": {"mtlsMode": "STRICT"}, "meshExpansion": True,
            "controlPlaneSecurityEnabled": True, **tail,
        }),
        "istio_v1beta1_istio_minimal.yaml": _cr("istio-sample", {
            **base, "useMCP": False, "istiod": {"enabled": True},
            "pilot": {"enabled": True, "sidecar": False},
            "gateways": {"enabled": False, "ingress": {"enabled": False}, "egress": {"enabled": False}},
            "policy": {"enabled": False}, "telemetry": {"enabled": False},
            "tracing": {"enabled": False}, **tail,
        }),
        "istio_v1beta1_istio_multimesh.yaml": _cr("multimesh", {
            "useMCP": False, "meshPolicy": {"mtlsMode": "STRICT"}, "multiMesh": True,
            "controlPlaneSecurityEnabled": True, "istioCoreDNS": {"enabled": True},
            "citadel": {"caSecretName": "cacerts"}, **tail,
        }),
    }  # fmt: skip


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(MIRROR), *args], capture_output=True, text=True, check=True
    ).stdout


def mirror_samples() -> dict[str, dict[str, Any]]:
    """The real release-1.6 samples of kind Istio, read from the fetched repository."""
    out = {}
    for path in _git("ls-tree", "--name-only", "release-1.6", "config/samples/").split():
        for doc in yaml.safe_load_all(_git("show", f"release-1.6:{path}")):
            if isinstance(doc, dict) and doc.get("kind") == "Istio":
                out[path.rpartition("/")[2]] = doc
    return out


def mirror_crd(plural: str) -> dict[str, Any]:
    """The openAPIV3Schema of a release-1.7 CRD (v1beta1), read from the fetched repository."""
    text = _git("show", f"release-1.7:config/base/crds/istio.banzaicloud.io_{plural}.yaml")
    (crd,) = [d for d in yaml.safe_load_all(text) if d]
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema
