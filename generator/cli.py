"""`istio-canary`: the generator's command line (thin: parse, call one function, print)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.clikit import handle_errors, one_line_group
from generator import __version__

if TYPE_CHECKING:
    from generator import workflow

# Each command imports what it uses when it runs: `--help` and a typo must not pay for the YAML
# engine, jinja2, deepdiff or the forges. So the choices below are spelled out here;
# tests/test_startup.py checks them against generator.forge.FORGES.
FORGE_CHOICES = ("github", "gitlab")

PROG = "istio-canary"
# What a Ctrl-C of a writing command leaves (workflow restores files, index and branch).
UNTOUCHED = "interrupted; the tree is as before"

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


@click.group(cls=one_line_group(PROG))
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
@handle_errors(PROG, interrupted=UNTOUCHED)
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
    from generator import workflow
    from generator.planning import InitOptions, parse_wave

    opts = InitOptions(
        to_version=to_version,
        name=name,
        operator_version=operator_version,
        waves=tuple(parse_wave(w) for w in waves),
        wave_size=wave_size,
    )
    _report(workflow.init(repo, opts, dry_run=dry_run, branch=branch), dry_run, verbose)


@main.command()
@repo_option
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors(PROG)
def status(repo: Path, output: str) -> None:
    """Show the stages, which are applied, and what is next."""
    import json

    from generator import workflow

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
@click.option(
    "--open-pr",
    type=click.Choice(FORGE_CHOICES),
    help="Commit on branch istio-canary/<plan>/<stage>, push it and open or update its PR "
    "(token from GITHUB_TOKEN / GITLAB_TOKEN only).",
)
@click.option("--remote", default="origin", show_default=True, help="Remote to push to.")
@click.option("--base", default="main", show_default=True, help="Branch the PR merges into.")
@click.option(
    "--api-url",
    metavar="URL",
    help="Forge API base URL for GitHub Enterprise / self-hosted GitLab "
    "(default: $GITHUB_API_URL / $CI_API_V4_URL, else from the remote's host).",
)
@verbose_option
@handle_errors(PROG, interrupted=UNTOUCHED)
def next_(
    repo: Path,
    dry_run: bool,
    branch: str | None,
    open_pr: str | None,
    remote: str,
    base: str,
    api_url: str | None,
    verbose: bool,
) -> None:
    """Apply the next stage of the plan as one commit (and, with --open-pr, propose it)."""
    from generator import workflow

    if open_pr is None:
        _report(workflow.next_stage(repo, dry_run=dry_run, branch=branch), dry_run, verbose)
        return
    from core.errors import UsageError
    from generator import pullrequest

    if dry_run or branch:
        raise UsageError(
            "--open-pr names its own branch; it cannot be combined with --dry-run or --branch"
        )

    def commit(name: str) -> str:
        outcome = workflow.next_stage(repo, branch=name)
        _report(outcome, False, verbose)
        return outcome.commit or ""

    done = pullrequest.open_next_stage(
        repo, open_pr, commit, remote=remote, base=base, api_url=api_url
    )
    click.echo(f"pushed {done.pushed.branch} ({done.pushed.action}) to {remote}")
    if done.outcome is not None:
        pr = done.outcome.pr
        click.echo(f"{done.outcome.action} {open_pr} #{pr.number}: {done.title}\n  {pr.url}")


@main.command()
@repo_option
@click.option("--namespace", "namespaces", multiple=True, required=True, metavar="NS")
@dry_run_option
@branch_option
@verbose_option
@handle_errors(PROG, interrupted=UNTOUCHED)
def rollback(
    repo: Path, namespaces: tuple[str, ...], dry_run: bool, branch: str | None, verbose: bool
) -> None:
    """Move migrated namespaces back to the old control plane (one commit)."""
    from generator import workflow

    _report(workflow.rollback(repo, namespaces, dry_run=dry_run, branch=branch), dry_run, verbose)
