"""`istio-canary demo`: the seed's whole upgrade rehearsed against a simulated cluster.

It plays every role of the real loop with the real parts: a copy of example-repo is the GitOps
repo ("origin", which the simulated Argo CD syncs), a clone of it is the CI checkout, each stage is
pushed as its `istio-canary/<plan>/<stage>` branch with the PR body a forge would show (written to
`prs/`), the verifier's gate runs on that branch, the branch is merged into main, the cluster syncs,
and the verifier checks the stage. The generator and verifier are driven through their command
lines (in-process), so the demo exercises exactly what users and CI run.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from core.errors import CanaryError, CheckFailed, ClusterUnreachable, PreconditionError, UsageError
from core.plan import Plan, Stage
from generator.pullrequest import branch_name, publish
from rehearsal.commands import Verdict
from rehearsal.faults import FAULTS, HELM_FAULTS, SAIL_FAULTS
from rehearsal.pipeline import Pipeline, simulated_cluster
from rehearsal.pods import PodRow, pod_table
from rehearsal.progress import Echo, Progress
from rehearsal.repos import (
    copy_example_repo,
    copy_helm_example,
    copy_helm_flux_example,
    copy_sail_example,
    make_repos,
)

__all__ = [
    "EXAMPLES",
    "FAULTS",
    "SCENARIOS",
    "TARGET_VERSION",
    "DemoResult",
    "Scenario",
    "run_demo",
]

TARGET_VERSION = "1.7.7"


@dataclass(frozen=True)
class Scenario:
    """What one flavour's rehearsal upgrades: its example repo, target, words and faults."""

    repo: str
    populate: Any
    source: str
    target: str
    faults: dict[str, str]
    engine: str = "Argo CD"  # which GitOps engine the example's repo is written for


SCENARIOS: dict[str, Scenario] = {
    "banzai": Scenario("example-repo", copy_example_repo, "Istio 1.6", TARGET_VERSION, FAULTS),
    "helm": Scenario(
        "examples/helm-argocd", copy_helm_example, "Istio 1.26 (Helm)", "1.28.2", HELM_FAULTS
    ),
    "sail": Scenario(
        "examples/sail-argocd", copy_sail_example, "Istio 1.27 (Sail)", "1.28.6", SAIL_FAULTS
    ),
}

# Every example repo the demo can rehearse, by the name `--example` takes (its folder's name),
# with the flavour it belongs to; each flavour's entry in SCENARIOS is its default example.
EXAMPLES: dict[str, tuple[str, Scenario]] = {
    "example-repo": ("banzai", SCENARIOS["banzai"]),
    "helm-argocd": ("helm", SCENARIOS["helm"]),
    "helm-flux-tags": (
        "helm",
        Scenario(
            "examples/helm-flux-tags",
            copy_helm_flux_example,
            "Istio 1.26 (Helm, Flux, revision tags)",
            "1.28.2",
            HELM_FAULTS,
            engine="Flux",
        ),
    ),
    "sail-argocd": ("sail", SCENARIOS["sail"]),
}


@dataclass
class DemoResult:
    """How the rehearsal ended: exit code, where it stopped and why, the cluster's final pods."""

    exit_code: int
    workdir: Path
    stopped_at: str = ""
    reason: str = ""
    merged: list[str] = field(default_factory=list)
    manual_steps: list[str] = field(default_factory=list)
    pods: list[PodRow] = field(default_factory=list)
    last_report: dict[str, Any] = field(default_factory=dict)


def run_demo(
    workdir: Path | None = None,
    faults: Sequence[str] = (),
    echo: Echo = click.echo,
    flavour: str = "banzai",
    example: str | None = None,
) -> DemoResult:
    """Rehearse the upgrade; a failed gate or verification stops it with exit code 1."""
    scenario = SCENARIOS.get(flavour)
    if scenario is None:
        raise UsageError(f"unknown flavour {flavour!r}; known: {', '.join(SCENARIOS)}")
    if example is not None:
        scenario = _example(example, flavour)
    known = scenario.faults
    unknown = [f for f in faults if f not in known]
    if unknown:
        raise UsageError(
            f"unknown fault {unknown[0]!r} for the {flavour} flavour; known: {', '.join(known)}"
        )

    with _workdir(workdir) as root:
        result = DemoResult(0, root)
        progress = Progress(echo)
        fault_text = f" with fault {', '.join(faults)}" if faults else ""
        echo(
            f"istio-canary demo: {scenario.source} -> {scenario.target} canary upgrade of "
            f"{scenario.repo} on a simulated cluster{fault_text}\n  workdir {root}"
        )
        with progress.step("repo", f"copy {scenario.repo} into a git repo and a CI clone") as s:
            repos = make_repos(
                root / "origin",
                root / "work",
                populate=scenario.populate,
                message=f"{scenario.source} mesh ({scenario.repo})",
            )
            s.done(
                f"origin {repos.origin.relative_to(root)} (synced by the cluster), CI clone work/"
            )
        with contextlib.ExitStack() as stack:
            with progress.step(
                "cluster", f"start simcluster; it syncs main like {scenario.engine}"
            ) as s:
                sim = stack.enter_context(simulated_cluster(repos.origin, root / "sim"))
                s.done(f"{sim.url}, kubeconfig {sim.kubeconfig}")
            pipeline = Pipeline(repos, sim, reports=root / "reports")
            try:
                _rehearse(pipeline, root, progress, result, tuple(faults), scenario)
            except CanaryError as err:
                result.exit_code = err.exit_code
                result.reason = result.reason or str(err)
                echo(f"\nistio-canary demo: stopped at {result.stopped_at}:\n  {result.reason}")
                for fault in faults:
                    echo(f"  (injected fault {fault}: {known[fault]})")
            result.pods = pipeline.pods()
        echo("")
        echo(pod_table(result.pods))
        if result.exit_code == 0:
            echo(
                f"\nDone: all {len(result.merged)} stages merged and verified; every meshed pod "
                f"runs Istio {scenario.target}."
            )
        echo(
            f"PR bodies, verifier reports and both repos are in {root}"
            if workdir is not None
            else "Run with --workdir DIR to keep the repos, PR bodies and verifier reports."
        )
        return result


def _example(example: str, flavour: str) -> Scenario:
    """The scenario of example repo `example`, which must be one of `flavour`'s."""
    found = EXAMPLES.get(example)
    if found is None:
        raise UsageError(f"unknown example {example!r}; known: {', '.join(EXAMPLES)}")
    if found[0] != flavour:
        theirs = [name for name, (f, _) in EXAMPLES.items() if f == flavour]
        raise UsageError(
            f"example {example!r} is for the {found[0]} flavour, not {flavour}; "
            f"the {flavour} flavour's: {', '.join(theirs)}"
        )
    return found[1]


def _rehearse(
    pipeline: Pipeline,
    root: Path,
    progress: Progress,
    result: DemoResult,
    faults: tuple[str, ...],
    scenario: Scenario = SCENARIOS["banzai"],
) -> None:
    """Faults are switched on after the starting state is verified, as in a real incident."""
    with progress.step("plan", f"istio-canary init --to-version {scenario.target}") as s:
        pipeline.generate("init", "--to-version", scenario.target)
        pipeline.repos.push_main()
        plan = pipeline.plan()
        s.done(
            f"{plan.total} stages: {', '.join(st.name for st in plan.stages)}; "
            f"synced {pipeline.sync()[:12]}"
        )
    result.stopped_at = "stage 0 (the plan's starting state)"
    what = f"stage 0: {scenario.source} healthy, every pod on the old revision"
    with progress.step("verify", what) as s:
        s.done(_verify(pipeline, ["stage", "0"], result))
    for fault in faults:
        with progress.step("fault", f"switch on simcluster fault {fault}") as s:
            pipeline.sim.set_fault(fault, True)
            s.done(scenario.faults[fault])

    (root / "prs").mkdir(exist_ok=True)
    unhealthy = ""
    for stage in plan.stages:
        where = f"stage {stage.index}/{plan.total} {stage.name}"
        result.stopped_at = f"the gate of {where}{unhealthy}"
        progress.section(f"stage {stage.index}/{plan.total}: {stage.name}")
        branch = branch_name(plan, stage)
        with progress.step("PR", f"istio-canary next on branch {branch}") as s:
            pipeline.open_pr(branch)
            pr = publish(pipeline.repos.work, remote="origin", base="main")
            body = root / "prs" / f"{stage.index}-{stage.name}.md"
            body.write_text(f"# {pr.title}\n\n{pr.body}")
            s.done(f'"{pr.title}" -> {body.relative_to(root)}')
        _gate(pipeline, stage, plan, progress, result)
        with progress.step(
            "merge", f"merge {branch} into main; simulated {scenario.engine} syncs"
        ) as s:
            pipeline.merge()
            s.done(f"synced {pipeline.sync()[:12]}")
            result.merged.append(stage.name)
        result.stopped_at = f"the verification of {where}"
        try:
            with progress.step("verify", f"stage {stage.index} postconditions") as s:
                s.done(_verify(pipeline, ["stage", str(stage.index)], result))
        except CheckFailed:
            if stage.index == plan.total:
                raise
            # As in CI: the merged stage is unhealthy, so the next PR's required check blocks.
            progress.section(f"{where} is merged but unhealthy; the next PR's gate decides")
            unhealthy = f" ({where} is merged but unhealthy)"
            continue
        unhealthy = ""
    result.stopped_at = ""


def _gate(
    pipeline: Pipeline, stage: Stage, plan: Plan, progress: Progress, result: DemoResult
) -> None:
    """The required check; the cleanup gate names a manual step for the operator-made gateway."""
    what = f"stage {stage.index - 1} applied and healthy + stage {stage.index} preconditions"
    try:
        with progress.step("gate", what) as s:
            s.done(_verify(pipeline, ["gate"], result))
        return
    except CheckFailed:
        orphans = _owned_gateways(result)
        if stage.kind != "cleanup" or not orphans:
            raise
    for namespace, name in orphans:
        patch = '-p=[{"op":"remove","path":"/metadata/ownerReferences"}]'
        command = ["patch", "mgw", "-n", namespace, name, "--type=json", patch]
        shown = " ".join(("kubectl", *command))
        with progress.step("manual", "the one step the gate names: " + shown) as s:
            pipeline.kubectl(*command)
            result.manual_steps.append(shown)
            s.done(f"MeshGateway {namespace}/{name} no longer owned by {plan.source.name}")
    result.reason = ""
    with progress.step("gate", what + " (again)") as s:
        s.done(_verify(pipeline, ["gate"], result))


def _verify(pipeline: Pipeline, args: list[str], result: DemoResult) -> str:
    """Run istio-canary-verify; return its one-line verdict, or raise with the failing checks."""
    verdict = pipeline.verify(*args)
    result.reason = verdict.reason
    result.last_report = verdict.data
    return _outcome(verdict, args[0])


def _outcome(verdict: Verdict, command: str) -> str:
    """The verifier's exit code as the demo's outcome: a line when it passed, else the error."""
    if verdict.exit_code == 0:
        return f"passed: {verdict.data.get('checked', '')}" if verdict.data else "passed"
    if verdict.exit_code == 3:
        raise ClusterUnreachable(verdict.reason)
    if verdict.exit_code == 1:
        raise CheckFailed(verdict.reason)
    raise PreconditionError(
        f"istio-canary-verify {command} exited {verdict.exit_code}: {verdict.reason}"
    )


def _owned_gateways(result: DemoResult) -> list[tuple[str, str]]:
    """MeshGateways the cleanup check found owned by the old CR (from its JSON evidence)."""
    found = []
    for check in result.last_report.get("checks") or ():
        for ev in check.get("evidence") or ():
            if isinstance(ev, dict) and ev.get("meshGateway") and ev.get("ownedBy"):
                namespace, _, name = str(ev["meshGateway"]).partition("/")
                found.append((namespace, name))
    return found


@contextlib.contextmanager
def _workdir(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        if any(workdir.iterdir()):
            raise PreconditionError(f"--workdir {workdir} is not empty")
        yield workdir.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="istio-canary-demo-") as tmp:
        yield Path(tmp)
