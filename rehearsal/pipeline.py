"""The stage loop of a GitOps canary upgrade, every role played by a real part.

CI commits the next stage on its PR branch in its clone (`istio-canary next`), the verifier gates
the PR, the PR is merged into origin's main, the simulated Argo CD syncs it, and the verifier checks
the stage's postconditions. `Pipeline` offers each move; the demo strings them together with
commentary, and tests stop between them to break things.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.errors import ClusterUnreachable, PreconditionError
from core.plan import PLAN_PATH, Plan, Stage, load_plan
from generator.pullrequest import branch_name
from rehearsal.commands import DEFAULT_PACING, GatePacing, Verdict, generate, last_line, verify
from rehearsal.pods import PodRow, read_pods
from rehearsal.repos import Repos
from simcluster.harness import SimCluster, SimClusterError

__all__ = ["SETTLE_TIMEOUT", "Pipeline", "simulated_cluster"]

# The simulated cluster settles in about a second per stage; 20 s allows for a busy machine.
SETTLE_TIMEOUT = 20.0
SYNC_INTERVAL = 0.2


@contextlib.contextmanager
def simulated_cluster(
    origin: Path, workdir: Path, faults: Iterable[str] = ()
) -> Iterator[SimCluster]:
    """simcluster syncing origin's main like Argo CD, started and settled on what main holds.

    A cluster that does not start or settle is ClusterUnreachable, like a real one.
    """
    with contextlib.ExitStack() as stack:
        try:
            sim = stack.enter_context(
                SimCluster(
                    repo=origin,
                    branch="main",
                    sync_interval=SYNC_INTERVAL,
                    faults=faults,
                    workdir=workdir,
                )
            )
            sim.sync_now()
            sim.wait_settled(timeout=SETTLE_TIMEOUT)
        except SimClusterError as err:
            raise ClusterUnreachable(f"simcluster: {err}") from err
        yield sim


class Pipeline:
    """The moves of the stage loop over one pair of repos and the cluster that syncs origin."""

    def __init__(
        self, repos: Repos, sim: SimCluster, *, reports: Path, pacing: GatePacing = DEFAULT_PACING
    ) -> None:
        self.repos = repos
        self.sim = sim
        self.reports = reports
        self.pacing = pacing

    @property
    def kubeconfig(self) -> Path:
        return Path(self.sim.kubeconfig)

    # ----- the generator in the CI clone ------------------------------------------------------

    def generate(self, *args: str) -> str:
        """`istio-canary ARGS --repo <CI clone>`; a failure is a PreconditionError."""
        return generate(*args, "--repo", str(self.repos.work))

    def plan(self) -> Plan:
        """The plan as the CI clone's checkout has it."""
        path = self.repos.work / PLAN_PATH
        return load_plan(path.read_text(encoding="utf-8"), str(path))

    def open_pr(self, branch: str | None = None) -> Stage:
        """Commit the next stage on its PR branch (default: the generator's name for it), made
        from origin's main as a CI job would; the stage it committed."""
        self.repos.git("switch", "-q", "main")
        self.repos.git("pull", "-q", "--ff-only", "origin", "main")
        plan = self.plan()
        stage = plan.next_stage
        if stage is None:
            raise PreconditionError("every stage of the plan is applied; there is no PR to open")
        self.generate("next", "--branch", branch or branch_name(plan, stage))
        return stage

    def merge(self, *, fast_forward: bool = False) -> None:
        """Merge the PR branch checked out in the CI clone into origin's main, as a forge does.

        With a merge commit by default (a forge's usual merge button); `fast_forward` puts the
        branch's commits on main as they are. The cluster applies it on its next sync.
        """
        if fast_forward:
            self.repos.git("push", "-q", "origin", "HEAD:main")
            return
        branch = self.repos.git("branch", "--show-current").strip()
        self.repos.git("switch", "-q", "main")
        self.repos.git("merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch)
        self.repos.push_main()

    # ----- the cluster ------------------------------------------------------------------------

    def sync(self) -> str:
        """Apply origin's main now (an Argo CD hard refresh) and wait until it settled; its sha."""
        try:
            sha = str(self.sim.sync_now())
            self.sim.wait_settled(timeout=SETTLE_TIMEOUT)
        except RuntimeError as err:  # SimClusterError, or its loop did not answer in time
            raise ClusterUnreachable(f"simcluster: {err}") from err
        return sha

    def verify(
        self,
        *args: str,
        report: Path | None = None,
        pacing: GatePacing | None = None,
        output: str = "json",
    ) -> Verdict:
        """`istio-canary-verify ARGS` in the CI clone against the cluster (default report file:
        a new one under `reports`)."""
        if report is None:
            report = self.reports / f"{int(time.monotonic() * 1000)}-{'-'.join(args)}.json"
        return verify(
            args,
            repo=self.repos.work,
            kubeconfig=self.kubeconfig,
            report=report,
            pacing=pacing or self.pacing,
            output=output,
        )

    def kubectl(self, *args: str) -> str:
        """`kubectl ARGS` against the cluster, as an operator would type it; its output."""
        binary = shutil.which("kubectl")
        command = " ".join(("kubectl", *args))
        if binary is None:
            raise PreconditionError(f"kubectl is not installed; run by hand: {command}")
        try:
            done = subprocess.run(
                [binary, "--kubeconfig", str(self.kubeconfig), *args],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired as err:
            raise ClusterUnreachable(f"{command}: no answer within 60 s") from err
        if done.returncode != 0:
            raise ClusterUnreachable(f"{command}: {last_line(done.stderr)}")
        return done.stdout

    def pods(self) -> list[PodRow]:
        return read_pods(self.kubeconfig)
