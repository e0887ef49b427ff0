"""Which finalizers make Argo CD delete a deleted Application's resources (argo-cd
isPropagationPolicyFinalizer): the plain name and its /foreground and /background variants."""

from __future__ import annotations

from core.argocd import RESOURCES_FINALIZER, cascades


def test_only_argo_cds_three_names_cascade() -> None:
    for name in ("", "/foreground", "/background"):
        assert cascades(["other.example.com/keep", RESOURCES_FINALIZER + name])
    assert not cascades([RESOURCES_FINALIZER + "/typo"])
    assert not cascades([RESOURCES_FINALIZER + "-x"])
    assert not cascades([]) and not cascades(None)
