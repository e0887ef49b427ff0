"""Argo CD's resources finalizers, which the generator writes, the verifier requires and
simcluster honours.

Deleting an Application without one of them orphans what it applied (its Deployments keep
running); with one, Argo CD deletes them first (argo-cd `pkg/apis/application/v1alpha1`:
`ResourcesFinalizerName` and the `/foreground` and `/background` propagation variants, the only
names `isPropagationPolicyFinalizer` accepts).
"""

from __future__ import annotations

__all__ = ["CASCADE_FINALIZERS", "RESOURCES_FINALIZER", "cascades"]

RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
CASCADE_FINALIZERS = frozenset(
    {RESOURCES_FINALIZER, f"{RESOURCES_FINALIZER}/foreground", f"{RESOURCES_FINALIZER}/background"}
)


def cascades(finalizers: object) -> bool:
    """Does an Application with these `metadata.finalizers` delete its resources with it?"""
    return isinstance(finalizers, list) and any(f in CASCADE_FINALIZERS for f in finalizers)
