"""The seed's upgrade on simcluster, driven the way CI drives it: stage PRs gated by the verifier.

A thin test-facing face of `rehearsal.Pipeline` (the same stage loop `istio-canary demo` runs):
`origin` is the GitOps repo simcluster syncs (branch main, like Argo CD); each stage is made in a
CI-like clone on a PR branch with the real generator, gated there with the real verifier CLI (real
kubernetes client over HTTP/websockets), then merged by fast-forwarding origin's main to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.git import git as run_git
from rehearsal.commands import GatePacing, Verdict, generate
from rehearsal.pipeline import Pipeline, simulated_cluster
from rehearsal.repos import copy_example_repo, make_repos
from simcluster.harness import SimCluster
from tests.fluxseed import flux_seed_repo

__all__ = ["Seed", "Verdict", "git", "seed_cluster"]


def git(repo: Path, *args: str) -> str:
    return run_git(*args, cwd=repo).strip()


@dataclass
class Seed:
    pipeline: Pipeline

    @property
    def origin(self) -> Path:
        return self.pipeline.repos.origin

    @property
    def work(self) -> Path:
        return self.pipeline.repos.work

    @property
    def sim(self) -> SimCluster:
        return self.pipeline.sim

    def gen(self, *args: str) -> str:
        return self.pipeline.generate(*args)

    def verify(
        self, *args: str, timeout: float = 20, successes: int = 2, fmt: str = "json"
    ) -> Verdict:
        """Run istio-canary-verify in the CI clone; its report is `report.json` next to it."""
        pacing = GatePacing(timeout=timeout, successes=successes, probe_timeout=2)
        report = self.work.parent / "report.json"
        return self.pipeline.verify(*args, report=report, pacing=pacing, output=fmt)

    def kubectl(self, *args: str) -> str:
        return self.pipeline.kubectl(*args)

    def open_pr(self) -> str:
        """Commit the next stage on a PR branch of the CI clone (main is untouched); its index."""
        return str(self.pipeline.open_pr().index)

    def push(self) -> None:
        """Merge the PR into origin's main (the engine applies it on its next sync)."""
        self.pipeline.merge(fast_forward=True)

    def merge(self) -> None:
        """Merge the PR and let the engine apply it now (an Argo CD hard refresh)."""
        self.push()
        self.pipeline.sync()

    def promote(self) -> Verdict:
        """Open the next stage's PR, gate it (must pass), merge and sync it."""
        self.open_pr()
        gate = self.verify("gate")
        assert gate.exit_code == 0, gate.output
        self.merge()
        return gate


@contextmanager
def seed_cluster(
    tmp_path: Path,
    faults: tuple[str, ...] = (),
    *,
    flux: bool = False,
    to_version: str = "1.7.7",
    init_args: tuple[str, ...] = (),
) -> Iterator[Seed]:
    """The seed repo (Argo CD, or its Flux flavour) with its plan, synced into a fresh simcluster."""
    repos = make_repos(
        tmp_path / "origin",
        tmp_path / "ci",
        populate=flux_seed_repo if flux else copy_example_repo,
        message="The seed's Istio 1.6 mesh",
    )
    generate("init", "--repo", str(repos.work), "--to-version", to_version, *init_args)
    repos.push_main()
    with simulated_cluster(repos.origin, tmp_path / "sim", faults) as sim:
        yield Seed(Pipeline(repos, sim, reports=tmp_path / "reports"))
