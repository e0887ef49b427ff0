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
import io
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from core.errors import (
    CanaryError,
    CheckFailed,
    ClusterUnreachable,
    PreconditionError,
    UsageError,
)
from core.git import git
from core.plan import PLAN_PATH, Plan, Stage, load_plan
from generator.pullrequest import branch_name, publish
from generator.resources import example_repo_dir
from rehearsal.faults import FAULTS

__all__ = ["FAULTS", "DemoResult", "PodRow", "run_demo"]

TARGET_VERSION = "1.7.7"
# Fast polling: the simulated cluster settles in about a second per stage, so 20 s is plenty even
# on a busy machine, and a check that stays pending (split-trust mTLS) stops the demo soon.
POLLING = ["--timeout", "20", "--interval", "0.2", "--successes", "2", "--probe-timeout", "3"]
Echo = Callable[[str], None]


@dataclass(frozen=True)
class PodRow:
    """One line of the final table."""

    namespace: str
    name: str
    ready: str
    status: str
    revision: str
    proxy: str


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
) -> DemoResult:
    """Rehearse the upgrade; a failed gate or verification stops it with exit code 1."""
    from simcluster.harness import SimCluster, SimClusterError

    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise UsageError(f"unknown fault {unknown[0]!r}; known: {', '.join(FAULTS)}")

    with _workdir(workdir) as root:
        result = DemoResult(0, root)
        progress = _Progress(echo)
        origin, work = root / "origin", root / "work"
        fault_text = f" with fault {', '.join(faults)}" if faults else ""
        echo(
            f"istio-canary demo: Istio 1.6 -> {TARGET_VERSION} canary upgrade of example-repo "
            f"on a simulated cluster{fault_text}\n  workdir {root}"
        )
        with progress.step("repo", "copy example-repo into a git repo and a CI clone") as s:
            _make_repos(origin, work)
            s.done(f"origin {origin.relative_to(root)} (synced by the cluster), CI clone work/")
        with contextlib.ExitStack() as stack:
            with progress.step("cluster", "start simcluster; it syncs main like Argo CD") as s:
                try:
                    sim = stack.enter_context(
                        SimCluster(
                            repo=origin,
                            branch="main",
                            sync_interval=0.2,
                            workdir=root / "sim",
                        )
                    )
                    sim.sync_now()
                    sim.wait_settled(timeout=20.0)
                except SimClusterError as err:
                    raise ClusterUnreachable(f"simcluster: {err}") from err
                s.done(f"{sim.url}, kubeconfig {sim.kubeconfig}")
            try:
                _rehearse(sim, work, root, progress, result, tuple(faults))
            except CanaryError as err:
                result.exit_code = err.exit_code
                result.reason = result.reason or str(err)
                echo(f"\nistio-canary demo: stopped at {result.stopped_at}:\n  {result.reason}")
                for fault in faults:
                    echo(f"  (injected fault {fault}: {FAULTS[fault]})")
            result.pods = _pods(sim.kubeconfig)
        echo("")
        echo(_table(result.pods))
        if result.exit_code == 0:
            echo(
                f"\nDone: all {len(result.merged)} stages merged and verified; every meshed pod "
                f"runs Istio {TARGET_VERSION}."
            )
        echo(
            f"PR bodies, verifier reports and both repos are in {root}"
            if workdir is not None
            else "Run with --workdir DIR to keep the repos, PR bodies and verifier reports."
        )
        return result


def _rehearse(
    sim: Any,
    work: Path,
    root: Path,
    progress: _Progress,
    result: DemoResult,
    faults: tuple[str, ...],
) -> None:
    """Faults are switched on after the 1.6 starting state is verified, as in a real incident."""
    kubeconfig = Path(sim.kubeconfig)

    def synced() -> str:
        try:
            sha = str(sim.sync_now())
            sim.wait_settled(timeout=20.0)
        except RuntimeError as err:  # SimClusterError: the simulated cluster did not settle
            raise ClusterUnreachable(f"simcluster: {err}") from err
        return sha[:12]

    with progress.step("plan", f"istio-canary init --to-version {TARGET_VERSION}") as s:
        _generator(["init", "--repo", str(work), "--to-version", TARGET_VERSION])
        _git(work, "push", "-q", "origin", "main")
        plan = _plan(work)
        s.done(
            f"{plan.total} stages: {', '.join(st.name for st in plan.stages)}; synced {synced()}"
        )
    result.stopped_at = "stage 0 (the plan's starting state)"
    with progress.step("verify", "stage 0: Istio 1.6 healthy, every pod on the old revision") as s:
        s.done(_verify(work, root, kubeconfig, ["stage", "0"], result))
    for fault in faults:
        with progress.step("fault", f"switch on simcluster fault {fault}") as s:
            sim.set_fault(fault, True)
            s.done(FAULTS[fault])

    (root / "prs").mkdir(exist_ok=True)
    unhealthy = ""
    for stage in plan.stages:
        where = f"stage {stage.index}/{plan.total} {stage.name}"
        result.stopped_at = f"the gate of {where}{unhealthy}"
        progress.section(f"stage {stage.index}/{plan.total}: {stage.name}")
        branch = branch_name(plan, stage)
        with progress.step("PR", f"istio-canary next on branch {branch}") as s:
            _git(work, "switch", "-q", "-C", branch, "main")
            _generator(["next", "--repo", str(work)])
            pr = publish(work, remote="origin", base="main")
            body = root / "prs" / f"{stage.index}-{stage.name}.md"
            body.write_text(f"# {pr.title}\n\n{pr.body}")
            s.done(f'"{pr.title}" -> {body.relative_to(root)}')
        _gate(work, root, kubeconfig, stage, plan, progress, result)
        with progress.step("merge", f"merge {branch} into main; simulated Argo CD syncs") as s:
            _git(work, "switch", "-q", "main")
            _git(work, "merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch)
            _git(work, "push", "-q", "origin", "main")
            s.done(f"synced {synced()}")
            result.merged.append(stage.name)
        result.stopped_at = f"the verification of {where}"
        try:
            with progress.step("verify", f"stage {stage.index} postconditions") as s:
                s.done(_verify(work, root, kubeconfig, ["stage", str(stage.index)], result))
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
    work: Path,
    root: Path,
    kubeconfig: Path,
    stage: Stage,
    plan: Plan,
    progress: _Progress,
    result: DemoResult,
) -> None:
    """The required check; the cleanup gate names a manual step for the operator-made gateway."""
    what = f"stage {stage.index - 1} applied and healthy + stage {stage.index} preconditions"
    try:
        with progress.step("gate", what) as s:
            s.done(_verify(work, root, kubeconfig, ["gate"], result))
        return
    except CheckFailed:
        orphans = _owned_gateways(result)
        if stage.kind != "cleanup" or not orphans:
            raise
    for namespace, name in orphans:
        command = [
            "kubectl",
            "patch",
            "mgw",
            "-n",
            namespace,
            name,
            "--type=json",
            '-p=[{"op":"remove","path":"/metadata/ownerReferences"}]',
        ]
        with progress.step("manual", "the one step the gate names: " + " ".join(command)) as s:
            _kubectl(command, kubeconfig)
            result.manual_steps.append(" ".join(command))
            s.done(f"MeshGateway {namespace}/{name} no longer owned by {plan.source.name}")
    result.reason = ""
    with progress.step("gate", what + " (again)") as s:
        s.done(_verify(work, root, kubeconfig, ["gate"], result))


# ----- the parts, through their command lines -------------------------------------------------------


def _generator(args: list[str]) -> str:
    from generator.cli import main

    code, out = _invoke(main, args, "istio-canary")
    if code != 0:
        raise PreconditionError(f"istio-canary {args[0]} failed (exit {code}): {_last_line(out)}")
    return out


def _verify(work: Path, root: Path, kubeconfig: Path, args: list[str], result: DemoResult) -> str:
    """Run istio-canary-verify; return its one-line verdict, or raise with the failing checks."""
    from verifier.cli import main

    report = root / "reports" / f"{int(time.monotonic() * 1000)}-{'-'.join(args)}.json"
    report.parent.mkdir(exist_ok=True)
    argv = [*args, "--repo", str(work), "--kubeconfig", str(kubeconfig), *POLLING]
    code, out = _invoke(main, [*argv, "--output", "json", "--report", str(report)], "verify")
    data = _report(report)
    result.reason = _explain(data) or _last_line(out)
    result.last_report = data
    if code == 0:
        return f"passed: {data.get('checked', '')}" if data else "passed"
    if code == 3:
        raise ClusterUnreachable(result.reason)
    if code == 1:
        raise CheckFailed(result.reason)
    raise PreconditionError(f"istio-canary-verify {args[0]} exited {code}: {result.reason}")


def _report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _explain(data: dict[str, Any]) -> str:
    """The reason a verdict failed, in the verifier's words: the failing checks' messages."""
    bad = [c for c in data.get("checks") or () if c.get("status") != "passed"]
    if data.get("exitCode") == 0 or not data:
        return ""
    if not bad:
        return str(data.get("reason") or data.get("error") or "")
    return "; ".join(f"{c['name']}: {c['message']}" for c in bad)


def _owned_gateways(result: DemoResult) -> list[tuple[str, str]]:
    """MeshGateways the cleanup check found owned by the old CR (from its JSON evidence)."""
    found = []
    for check in result.last_report.get("checks") or ():
        for ev in check.get("evidence") or ():
            if isinstance(ev, dict) and ev.get("meshGateway") and ev.get("ownedBy"):
                namespace, _, name = str(ev["meshGateway"]).partition("/")
                found.append((namespace, name))
    return found


def _invoke(cli: click.Command, args: list[str], prog: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            cli.main(args, prog_name=prog, standalone_mode=False)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except click.ClickException as e:
            out.write(e.format_message())
            code = e.exit_code
    return code, out.getvalue()


def _kubectl(command: list[str], kubeconfig: Path) -> None:
    binary = shutil.which("kubectl")
    if binary is None:
        raise PreconditionError("kubectl is not installed; run by hand: " + " ".join(command))
    done = subprocess.run(
        [binary, "--kubeconfig", str(kubeconfig), *command[1:]], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise ClusterUnreachable(f"{' '.join(command)}: {_last_line(done.stderr)}")


# ----- the repos ---------------------------------------------------------------------------------


def _make_repos(origin: Path, work: Path) -> None:
    shutil.copytree(example_repo_dir(), origin)
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", ".")
    _git(origin, "commit", "-q", "-m", "The seed's Istio 1.6 mesh (example-repo)")
    # origin keeps main checked out (the simulated Argo CD reads it); pushes update it in place.
    _git(origin, "config", "receive.denyCurrentBranch", "updateInstead")
    _git(origin.parent, "clone", "-q", str(origin), str(work))


def _plan(work: Path) -> Plan:
    return load_plan((work / PLAN_PATH).read_text(encoding="utf-8"), str(work / PLAN_PATH))


def _git(repo: Path, *args: str) -> str:
    return git(*args, cwd=repo)


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


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


# ----- the cluster's final state -----------------------------------------------------------------


def _pods(kubeconfig: Path) -> list[PodRow]:
    """Pods and their proxies, read with the kubernetes client like any other reader."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        api = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        raw: Any = api.list_pod_for_all_namespaces(_request_timeout=10, _preload_content=False)
        items: list[dict[str, Any]] = json.loads(raw.data)["items"]
    except (ApiException, HTTPError, OSError, ValueError, KeyError) as e:
        raise ClusterUnreachable(f"listing pods: {e}") from e
    rows = []
    for pod in items:
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        containers = spec.get("containers") or []
        images = [c.get("image", "") for c in containers + (spec.get("initContainers") or [])]
        proxy = next((i.rsplit(":", 1)[-1] for i in images if "proxyv2" in i), "-")
        ready = sum(bool(c.get("ready")) for c in status.get("containerStatuses") or [])
        rows.append(
            PodRow(
                str(meta.get("namespace", "")),
                str(meta.get("name", "")),
                f"{ready}/{len(containers)}",
                str(status.get("phase") or "Unknown"),
                str((meta.get("labels") or {}).get("istio.io/rev", "-")),
                proxy,
            )
        )
    return sorted(rows, key=lambda r: (r.namespace, r.name))


def _table(rows: Sequence[PodRow]) -> str:
    header = ("NAMESPACE", "NAME", "READY", "STATUS", "REVISION", "PROXY")
    cells = [header, *((r.namespace, r.name, r.ready, r.status, r.revision, r.proxy) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    return "\n".join(
        "   ".join(c[i].ljust(widths[i]) for i in range(len(header))).rstrip() for c in cells
    )


# ----- progress ----------------------------------------------------------------------------------


class _Step:
    def __init__(self) -> None:
        self.note = ""

    def done(self, note: str) -> None:
        self.note = note


class _Progress:
    """`[ n] what ... outcome (seconds)`, printed as each step starts and ends."""

    def __init__(self, echo: Echo) -> None:
        self.echo = echo
        self.count = 0
        self.started = time.monotonic()

    def section(self, title: str) -> None:
        self.echo(f"-- {title}")

    @contextlib.contextmanager
    def step(self, kind: str, what: str) -> Iterator[_Step]:
        self.count += 1
        prefix = f"[{self.count:>2}] {kind:<7}"
        self.echo(f"{prefix} {what} ...")
        step, t0 = _Step(), time.monotonic()
        try:
            yield step
        except CanaryError as err:
            self.echo(f"{prefix} ✘ {err}  ({time.monotonic() - t0:.1f}s)")
            raise
        total = time.monotonic() - self.started
        self.echo(f"{prefix} ✔ {step.note}  ({time.monotonic() - t0:.1f}s, {total:.0f}s total)")
