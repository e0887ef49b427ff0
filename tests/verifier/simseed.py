"""The seed's upgrade on simcluster, driven the way CI drives it: stage PRs gated by the verifier.

`origin` is the GitOps repo simcluster syncs (branch main, like Argo CD); each stage is made in a
separate CI-like clone on a PR branch with the real generator, gated there with the real verifier
CLI (real kubernetes client over HTTP/websockets), then "merged" by pushing to origin's main.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from generator.cli import main as generator_cli
from generator.resources import example_repo_dir
from simcluster.harness import SimCluster
from tests.fluxseed import flux_seed_repo
from verifier.cli import main as verifier_cli


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


@dataclass
class Verdict:
    exit_code: int
    data: dict[str, Any]
    output: str

    def check(self, name: str) -> dict[str, Any]:
        return next(c for c in self.data["checks"] if c["name"] == name)

    def message(self, name: str) -> str:
        return str(self.check(name)["message"])


@dataclass
class Seed:
    origin: Path
    work: Path
    sim: SimCluster

    def gen(self, *args: str) -> str:
        res = CliRunner().invoke(generator_cli, [*args, "--repo", str(self.work)])
        assert res.exit_code == 0, res.output
        return res.output

    def verify(
        self, *args: str, timeout: float = 20, successes: int = 2, fmt: str = "json"
    ) -> Verdict:
        """Run istio-canary-verify in the CI clone; the JSON report is parsed for assertions."""
        report = self.work.parent / "report.json"
        res = CliRunner().invoke(
            verifier_cli,
            [
                *args,
                "--repo",
                str(self.work),
                "--kubeconfig",
                str(self.sim.kubeconfig),
                "--timeout",
                str(timeout),
                "--interval",
                "0.2",
                "--successes",
                str(successes),
                "--probe-timeout",
                "2",
                "--output",
                fmt,
                "--report",
                str(report),
            ],
        )
        data = json.loads(report.read_text()) if fmt == "json" else {}
        return Verdict(
            res.exit_code, data, res.output + (report.read_text() if fmt != "json" else "")
        )

    def kubectl(self, *args: str) -> str:
        proc = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.sim.kubeconfig), *args],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def open_pr(self) -> str:
        """Commit the next stage on a PR branch of the CI clone (main is untouched)."""
        git(self.work, "switch", "-q", "main")
        git(self.work, "pull", "-q", "--ff-only", "origin", "main")
        index = json.loads(self.gen("status", "--output", "json"))["next"]["index"]
        self.gen("next", "--branch", f"istio-canary/stage-{index}")
        return str(index)

    def push(self) -> None:
        """Merge the PR into origin's main (the engine applies it on its next sync)."""
        git(self.work, "push", "-q", "origin", "HEAD:main")

    def merge(self) -> None:
        """Merge the PR and let the engine apply it now (an Argo CD hard refresh)."""
        self.push()
        self.sim.sync_now()
        self.sim.wait_settled(20)

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
) -> Iterator[Seed]:
    """The seed repo (Argo CD, or its Flux flavour) synced into a fresh simcluster."""
    origin = tmp_path / "origin"
    if flux:
        flux_seed_repo(origin)
    else:
        shutil.copytree(example_repo_dir(), origin)
    git(origin, "init", "-q", "-b", "main")
    git(origin, "config", "receive.denyCurrentBranch", "updateInstead")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "The seed's Istio 1.6 mesh")
    res = CliRunner().invoke(
        generator_cli, ["init", "--repo", str(origin), "--to-version", to_version]
    )
    assert res.exit_code == 0, res.output
    work = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True)
    with SimCluster(repo=origin, sync_interval=0.2, faults=faults, workdir=tmp_path / "sim") as sim:
        sim.sync_now()
        sim.wait_settled(20)
        yield Seed(origin, work, sim)
