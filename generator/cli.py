"""`istio-canary`: the generator's command line (thin: parse, call one function, print)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from generator import __version__, workflow
from generator.clikit import handle_errors
from generator.planning import InitOptions

PROG = "istio-canary"

repo_option = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The GitOps repo checkout (a git work tree or a directory inside one).",
)
dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Print the change as a unified diff; write nothing."
)
branch_option = click.option(
    "--branch", metavar="NAME", help="Commit on a new branch NAME created at HEAD."
)
verbose_option = click.option(
    "--verbose", "-v", is_flag=True, help="Also list the files discovery skipped, and why."
)


def _report(outcome: workflow.Outcome, dry_run: bool, verbose: bool) -> None:
    for warning in outcome.warnings:
        click.echo(f"{PROG}: warning: {warning}", err=True)
    if verbose:
        for note in outcome.notes:
            click.echo(f"note: {note}", err=True)
    if dry_run:
        click.echo(f"# would commit: {outcome.subject}")
        click.echo(outcome.diff, nl=False)
        return
    where = f" on {outcome.branch}" if outcome.branch else ""
    click.echo(f"{(outcome.commit or '')[:12]}{where}: {outcome.subject}")
    for e in outcome.edits:
        click.echo(f"  {e.action:<7} {e.path}")


@click.group()
@click.version_option(__version__, prog_name=PROG)
def main() -> None:
    """Stage an Istio canary control-plane upgrade in a GitOps repo, one commit per stage."""


@main.command()
@repo_option
@click.option("--to-version", required=True, metavar="X.Y.Z", help="Target Istio version.")
@click.option("--name", metavar="NEW_CR", help="Name of the new Istio CR (default: -vNNx rule).")
@click.option("--operator-version", metavar="V", help="istio-operator release for the target.")
@click.option(
    "--wave",
    "waves",
    multiple=True,
    metavar="NS,NS",
    help="Namespaces moved together in one stage (repeatable, in order).",
)
@click.option("--wave-size", type=int, default=1, show_default=True, help="Namespaces per wave.")
@dry_run_option
@branch_option
@verbose_option
@handle_errors(PROG)
def init(
    repo: Path,
    to_version: str,
    name: str | None,
    operator_version: str | None,
    waves: tuple[str, ...],
    wave_size: int,
    dry_run: bool,
    branch: str | None,
    verbose: bool,
) -> None:
    """Discover the mesh and commit the upgrade plan (.istio-canary/plan.yaml)."""
    opts = InitOptions(
        to_version=to_version,
        name=name,
        operator_version=operator_version,
        waves=tuple(tuple(n.strip() for n in w.split(",") if n.strip()) for w in waves),
        wave_size=wave_size,
    )
    _report(workflow.init(repo, opts, dry_run=dry_run, branch=branch), dry_run, verbose)


@main.command()
@repo_option
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors(PROG)
def status(repo: Path, output: str) -> None:
    """Show the stages, which are applied, and what is next."""
    report = workflow.status(repo)
    if output == "json":
        click.echo(json.dumps(report, indent=2))
        return
    src, tgt = report["from"], report["to"]
    click.echo(
        f"{src['name']} ({src['version']}) -> {tgt['name']} ({tgt['version']}): "
        f"{report['applied']}/{report['total']} stages applied"
    )
    for s in report["stages"]:
        mark = "x" if s["applied"] else " "
        what = ", ".join(s["namespaces"] or s["gateways"])
        click.echo(
            f"  [{mark}] {s['index']}/{report['total']} {s['name']}" + (f": {what}" if what else "")
        )
    if report["rolledBack"]:
        click.echo(f"rolled back: {', '.join(report['rolledBack'])}")
    nxt = report["next"]
    click.echo(
        "next: none, the upgrade is complete"
        if nxt is None
        else f"next: {nxt['index']} {nxt['name']}"
    )


@main.command("next")
@repo_option
@dry_run_option
@branch_option
@verbose_option
@handle_errors(PROG)
def next_(repo: Path, dry_run: bool, branch: str | None, verbose: bool) -> None:
    """Apply the next stage of the plan as one commit."""
    _report(workflow.next_stage(repo, dry_run=dry_run, branch=branch), dry_run, verbose)


@main.command()
@repo_option
@click.option("--namespace", "namespaces", multiple=True, required=True, metavar="NS")
@dry_run_option
@branch_option
@verbose_option
@handle_errors(PROG)
def rollback(
    repo: Path, namespaces: tuple[str, ...], dry_run: bool, branch: str | None, verbose: bool
) -> None:
    """Move migrated namespaces back to the old control plane (one commit)."""
    _report(workflow.rollback(repo, namespaces, dry_run=dry_run, branch=branch), dry_run, verbose)
