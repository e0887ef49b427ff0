"""The flavours the generator can upgrade, and which one a repo (or a plan) is.

One folder (or, for the seed's Banzai flavour until its modules move, one module) per flavour,
each holding an object that satisfies :class:`~generator.flavours.base.Flavour`; adding a flavour
is its folder plus one line in :data:`FLAVOURS`. ``init`` asks every flavour to ``detect`` the
repo and refuses a repo that none or several of them claim; ``next``, ``rollback`` and ``status``
take the flavour the plan records.
"""

from __future__ import annotations

from core.errors import InputError
from core.plan import Plan
from generator.flavours.banzai import FLAVOUR as BANZAI
from generator.flavours.base import Flavour, Found
from generator.flavours.helm import FLAVOUR as HELM
from generator.flavours.sail import FLAVOUR as SAIL
from generator.index import RepoIndex

__all__ = ["FLAVOURS", "Flavour", "Found", "detect", "flavour_of"]

FLAVOURS: tuple[Flavour, ...] = (BANZAI, HELM, SAIL)


def detect(index: RepoIndex) -> Flavour:
    """The one flavour whose objects the repo holds; InputError naming the evidence otherwise."""
    found = [(f, ev) for f in FLAVOURS if (ev := f.detect(index)) is not None]
    if len(found) == 1:
        return found[0][0]
    if not found:
        err = (
            f"{index.root}: no Istio CR (istio.banzaicloud.io/v1beta1) found in the repo, and no "
            "Helm release of the istiod chart (an Argo CD Application or Flux HelmRelease), and no "
            "Istio of the Sail operator (sailoperator.io/v1)"
        )
        if index.broken:
            # an unparsable file is the likely reason nothing was found: name it first
            unseen = "; ".join(list(index.broken.values())[:3])
            err = f"{unseen} (discovery could not see inside it); so: {err}"
        raise InputError(err)
    raise InputError(
        "the repo installs Istio in more than one way ("
        + "; ".join(f"{f.name}: {ev}" for f, ev in found)
        + "); istio-canary upgrades one installation at a time: remove the one you no longer use"
    )


def flavour_of(plan: Plan) -> Flavour:
    """The flavour that wrote `plan` (the loader has refused unknown names)."""
    return next(f for f in FLAVOURS if f.name == plan.flavour)
