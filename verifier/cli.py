"""`istio-canary-verify`: the fail-closed merge gate (thin: parse, call `verifier.gate.run`, print).

Exit codes (the contract in docs/architecture.md): 0 passed, 1 a check failed or never passed
before the deadline, 2 bad usage or input, 3 could not verify (cluster unreachable, RBAC, API
timeouts).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.clikit import handle_errors, one_line_group
from verifier import __version__

if TYPE_CHECKING:
    from verifier.gate import Command

# The gate imports the kubernetes client (and the checks) when it runs, not for `--help`, so
# the report formats are spelled out here; tests/test_startup.py checks them against
# verifier.report.FORMATS.
REPORT_FORMATS = ("text", "json", "junit", "markdown")

PROG = "istio-canary-verify"


class FiniteSeconds(click.FloatRange):
    """A number of seconds that is finite: `nan` would make every deadline comparison false
    (a gate that never ends, or a crash in sleep), and `inf` a gate that never ends."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return number


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--repo",
            type=click.Path(path_type=Path, file_okay=False),
            default=Path("."),
            show_default=True,
            help="GitOps repo checkout holding .istio-canary/plan.yaml.",
        ),
        click.option(
            "--kubeconfig",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            help="Kubeconfig file (default: $KUBECONFIG or ~/.kube/config).",
        ),
        click.option(
            "--context", default=None, help="Kubeconfig context (default: the current one)."
        ),
        click.option(
            "--timeout",
            type=FiniteSeconds(min=0),
            default=600.0,
            show_default=True,
            help="Deadline in seconds.",
        ),
        click.option(
            "--interval",
            type=FiniteSeconds(min=0),
            default=10.0,
            show_default=True,
            help="Seconds between evaluations.",
        ),
        click.option(
            "--successes",
            type=click.IntRange(min=1),
            default=3,
            show_default=True,
            help="Consecutive passing evaluations required.",
        ),
        click.option(
            "--output",
            type=click.Choice(REPORT_FORMATS),
            default="text",
            show_default=True,
            help="Report format.",
        ),
        click.option(
            "--report",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            help="Write the report to FILE (the terminal shows the text view).",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(min=1),
            default=16,
            show_default=True,
            help="Connectivity probes run at once.",
        ),
        click.option(
            "--probe-timeout",
            type=FiniteSeconds(min=0.5),
            default=5.0,
            show_default=True,
            help="curl --max-time per probe.",
        ),
        click.option(
            "--request-timeout",
            type=FiniteSeconds(min=0.1),
            default=30.0,
            show_default=True,
            help="Read timeout of each API request (transient failures are retried within a budget).",
        ),
        click.option(
            "--base",
            metavar="REF",
            default=None,
            help="gate: the branch the PR merges into; plan and expectations are taken from "
            "its merge-base with HEAD (default: origin/HEAD, origin/main or origin/master; "
            "else the stage N-1 commit).",
        ),
        click.option(
            "--allow-no-probes",
            is_flag=True,
            default=False,
            help="Let a stage whose plan has no connectivity checks pass connectivity.",
        ),
        click.option(
            "--baseline",
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            default=None,
            help="An earlier JSON report: gateway Service UIDs/addresses must not change.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(cls=one_line_group(PROG))
@click.version_option(__version__, prog_name=PROG)
def main() -> None:
    """Verify a stage of an Istio canary upgrade on the live cluster (a fail-closed merge gate)."""


@main.command()
@click.argument("n", type=click.IntRange(min=0))
@_common
@handle_errors(PROG)
def stage(n: int, **opts: Any) -> None:
    """Check the postconditions of stage N (0 = the plan's starting state)."""
    _run("stage", n, **opts)


@main.command()
@_common
@handle_errors(PROG)
def gate(**opts: Any) -> None:
    """Gate the stage PR in --repo: stage N-1 applied and healthy, stage N's preconditions met."""
    _run("gate", None, **opts)


@main.command()
def rbac() -> None:
    """Print the least-privilege ClusterRole the verifier needs (pipe it to kubectl apply -f -)."""
    click.echo((Path(__file__).parent / "rbac.yaml").read_text(encoding="utf-8"), nl=False)


def _run(
    command: Command,
    n: int | None,
    repo: Path,
    kubeconfig: Path | None,
    context: str | None,
    timeout: float,
    interval: float,
    successes: int,
    output: str,
    report: Path | None,
    concurrency: int,
    probe_timeout: float,
    request_timeout: float,
    baseline: Path | None,
    allow_no_probes: bool,
    base: str | None,
) -> None:
    from verifier.cluster import Cluster, RetryPolicy
    from verifier.gate import Request, load_baseline, run
    from verifier.probe import ProbeSettings
    from verifier.progress import Progress
    from verifier.report import check_writable, render, write_report
    from verifier.runner import Polling

    request = Request(
        command,
        repo,
        n,
        Polling(timeout, interval, successes),
        ProbeSettings(concurrency=concurrency, max_time=probe_timeout),
        load_baseline(baseline) if baseline else None,
        allow_no_probes,
        base,
    )
    if report is not None:
        check_writable(report)
    retry = RetryPolicy(read_timeout=request_timeout, budget=max(30.0, 3 * request_timeout))
    with Cluster(kubeconfig, context, retry=retry) as cluster:
        result = run(request, cluster, Progress(sys.stderr, successes))
    if report is not None:
        click.echo(render(result, "text"), nl=False)
        write_report(report, render(result, output))
    else:
        click.echo(render(result, output), nl=False)
    sys.exit(result.verdict.exit_code)


if __name__ == "__main__":
    main()
