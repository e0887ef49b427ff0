"""Where a namespace's labels are written: its Namespace manifest, or the Argo CD Application
that creates it (`syncPolicy.managedNamespaceMetadata.labels`, a common way to label namespaces
for injection without a manifest)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.flavours.helm.charts import ARGO
from generator.index import Document, RepoIndex
from generator.yamledit import PathT

__all__ = ["LabelHolder", "label_holders"]

MANAGED = ("spec", "syncPolicy", "managedNamespaceMetadata", "labels")


@dataclass(frozen=True)
class LabelHolder:
    """The document holding a namespace's labels, and the path of the labels in it."""

    doc: Document
    path: PathT

    @property
    def labels(self) -> dict[str, Any]:
        labels = self.doc.get(*self.path, default={})
        return labels if isinstance(labels, dict) else {}

    @property
    def where(self) -> str:
        return self.doc.where

    @property
    def file(self) -> str:
        return self.doc.file


def label_holders(index: RepoIndex) -> dict[str, LabelHolder]:
    """Every namespace whose labels the repo writes, by name (a Namespace manifest wins)."""
    out: dict[str, LabelHolder] = {}
    for app in index.of_kind("Application", ARGO):
        ns = app.get("spec", "destination", "namespace", default="")
        if ns and isinstance(app.get(*MANAGED), dict):
            out.setdefault(str(ns), LabelHolder(app, MANAGED))
    patches = index.patch_files()
    for d in index.of_kind("Namespace", ""):
        if d.file not in patches:
            out[d.name] = LabelHolder(d, ("metadata", "labels"))
    return out
