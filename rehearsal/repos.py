"""The two git repos of a rehearsal: the GitOps origin the cluster syncs, and the CI clone.

`origin` keeps `main` checked out, because the simulated Argo CD reads its work tree, and accepts
pushes to it in place. Stages are made in `work`, a clone, the way a CI job works on a checkout.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.git import git
from generator.resources import data_dir, example_repo_dir, helm_example_dir

__all__ = [
    "Repos",
    "copy_example_repo",
    "copy_helm_example",
    "copy_helm_flux_example",
    "copy_sail_example",
    "make_repos",
]

Populate = Callable[[Path], object]


def copy_example_repo(root: Path) -> None:
    """The seed's Istio 1.6 mesh as an Argo CD GitOps repo (shipped with the package)."""
    shutil.copytree(example_repo_dir(), root)


def copy_helm_example(root: Path) -> None:
    """The Helm flavour's example: Istio 1.26 from its charts, as an Argo CD repo."""
    shutil.copytree(helm_example_dir(), root)


def copy_helm_flux_example(root: Path) -> None:
    """The Helm flavour's tagged example: a revisioned istiod with revision tags, by Flux."""
    shutil.copytree(data_dir("examples") / "helm-flux-tags", root)


def copy_sail_example(root: Path) -> None:
    """The Sail flavour's example: an InPlace Sail `Istio` 1.27, as an Argo CD repo."""
    shutil.copytree(data_dir("examples") / "sail-argocd", root)


@dataclass(frozen=True)
class Repos:
    origin: Path
    work: Path

    def git(self, *args: str) -> str:
        """`git ARGS` in the CI clone."""
        return git(*args, cwd=self.work)

    def push_main(self) -> None:
        """Publish the CI clone's main to origin (the cluster applies it on its next sync)."""
        self.git("push", "-q", "origin", "main")


def make_repos(
    origin: Path,
    work: Path,
    *,
    populate: Populate = copy_example_repo,
    message: str = "The seed's Istio 1.6 mesh (example-repo)",
) -> Repos:
    """`populate` fills `origin` (which must not exist yet), committed on main; `work` clones it."""
    populate(origin)
    git("init", "-q", "-b", "main", cwd=origin)
    git("add", ".", cwd=origin)
    git("commit", "-q", "-m", message, cwd=origin)
    git("config", "receive.denyCurrentBranch", "updateInstead", cwd=origin)
    git("clone", "-q", str(origin), str(work), cwd=origin.parent)
    return Repos(origin, work)
