"""The Sail operator's objects as the repo declares them: `Istio`, tags, CNI, the operator itself.

`Istio`, `IstioRevisionTag`, `IstioCNI` (and ambient's `ZTunnel`) are cluster-scoped kinds of
the API group `sailoperator.io`; Banzai's `Istio` has the same kind name in another group, so
the group is what tells them apart. The operator is the `sail-operator` Helm chart (an Argo CD
Application or a Flux HelmRelease) or an OLM Subscription to the community `sailoperator`
package or Red Hat's `servicemeshoperator3`. Versions are written `vX.Y.Z`: the CRD's enum lists
nothing else, besides the aliases `vX.Y-latest` and development builds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.sailplan import OperatorForm
from generator.index import Document, RepoIndex

__all__ = [
    "ALIAS",
    "OLM_PACKAGES",
    "OPERATOR_CHART",
    "RELEASE",
    "SAIL_GROUP",
    "OperatorDoc",
    "operator_docs",
    "sail_docs",
]

SAIL_GROUP = "sailoperator.io"
OPERATOR_CHART = "sail-operator"
OLM_PACKAGES = ("sailoperator", "servicemeshoperator3")
ARGO = "argoproj.io"
FLUX_HELM = "helm.toolkit.fluxcd.io"
OLM = "operators.coreos.com"
RELEASE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
ALIAS = re.compile(r"^v\d+\.\d+-latest$")


def sail_docs(index: RepoIndex, kind: str) -> list[Document]:
    """Every `kind` object of the sailoperator.io group (kustomize patches excluded)."""
    patches = index.patch_files()
    return [d for d in index.of_kind(kind, SAIL_GROUP) if d.file not in patches]


@dataclass(frozen=True)
class OperatorDoc:
    """The document that installs the Sail operator, its form, and the version it names."""

    doc: Document
    form: OperatorForm
    version: str

    @property
    def tracks_istio(self) -> bool:
        """Whether its version names the Istio minors it installs (the sail-operator chart and
        the community OLM package do; Red Hat's servicemeshoperator3 counts 3.0, 3.1, ...)."""
        return self.form != "olm-subscription" or self.doc.get("spec", "name") == "sailoperator"

    @property
    def label(self) -> str:
        return f"{self.doc.kind} {self.doc.name} at {self.doc.where}"


def _chart_name(chart: object) -> str:
    return str(chart or "").rsplit("/", 1)[-1]


def operator_docs(index: RepoIndex) -> list[OperatorDoc]:
    """Every release of the operator the repo holds, in any of its three forms."""
    patches = index.patch_files()
    out: list[OperatorDoc] = []
    for d in index.of_kind("Application", ARGO):
        sources = [d.get("spec", "source", default={})]
        sources += list(d.get("spec", "sources", default=[]) or [])
        for s in sources:
            if isinstance(s, dict) and _chart_name(s.get("chart")) == OPERATOR_CHART:
                out.append(OperatorDoc(d, "argocd-application", str(s.get("targetRevision", ""))))
                break
    for d in index.of_kind("HelmRelease", FLUX_HELM):
        if _chart_name(d.get("spec", "chart", "spec", "chart")) == OPERATOR_CHART:
            version = str(d.get("spec", "chart", "spec", "version", default=""))
            out.append(OperatorDoc(d, "helmrelease", version))
    for d in index.of_kind("Subscription", OLM):
        if str(d.get("spec", "name", default="")) in OLM_PACKAGES:
            csv = str(d.get("spec", "startingCSV", default=""))
            out.append(OperatorDoc(d, "olm-subscription", csv.rpartition(".v")[2] if csv else ""))
    return [o for o in out if o.doc.file not in patches]
