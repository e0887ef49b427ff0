"""The `istio-canary` console script: the generator's commands plus `demo`, composed here.

`demo` needs simcluster and the verifier, which the generator must not depend on. So the
generator's group stays free of it, and this module builds the group users run: a copy of
`generator.cli.main` with `demo` added (the original is not mutated, so importing this module
changes nothing for code that uses the generator's group). The command imports the rehearsal's
heavy parts (simcluster, the kubernetes client) only when it runs, so `istio-canary --help` and
every other command start as fast as the generator alone.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import click

from core.clikit import handle_errors
from generator import cli as generator_cli
from rehearsal.faults import FAULTS, HELM_FAULTS, SAIL_FAULTS

__all__ = ["EXAMPLE_NAMES", "demo", "main"]

# The example repos `demo --example` offers, named after their folders; kept here, not imported
# from rehearsal.demo, so `--help` does not load the rehearsal (a test pins the two lists equal).
EXAMPLE_NAMES = ("example-repo", "helm-argocd", "helm-flux-tags", "sail-argocd")


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the rehearsal (repos, PR bodies, reports) here; it must be empty or absent. "
    "Default: a temporary directory, removed at the end.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    type=click.Choice(tuple(FAULTS) + tuple(HELM_FAULTS) + tuple(SAIL_FAULTS)),
    help="Inject a simcluster fault (repeatable), e.g. split-trust to watch the gate stop; "
    "webhook-overlap, dangling-validator and cabundle-drift are the Helm flavour's, "
    "revision-stuck and in-use-forever the Sail flavour's.",
)
@click.option(
    "--flavour",
    type=click.Choice(("banzai", "helm", "sail")),
    default="banzai",
    show_default=True,
    help="banzai: example-repo, Istio 1.6 -> 1.7.7; helm: examples/helm-argocd, upstream Istio "
    "1.26 from its Helm charts -> 1.28.2; sail: examples/sail-argocd, a Sail operator Istio "
    "1.27.9 -> 1.28.6.",
)
@click.option(
    "--example",
    type=click.Choice(EXAMPLE_NAMES),
    help="Which of the flavour's example repos to rehearse (default: the first one); "
    "helm-flux-tags: a revisioned istiod with revision tags, by Flux HelmReleases.",
)
@handle_errors(generator_cli.PROG)
def demo(workdir: Path | None, faults: tuple[str, ...], flavour: str, example: str | None) -> None:
    """Rehearse the whole upgrade of an example repo on a simulated cluster, gate by gate."""
    from rehearsal.demo import run_demo

    result = run_demo(workdir, faults, flavour=flavour, example=example)
    if result.exit_code:
        sys.exit(result.exit_code)


def _with(group: click.Group, *commands: click.Command) -> click.Group:
    """A copy of `group` that also has `commands`; `group` itself is left as it was."""
    composed = copy.copy(group)
    composed.commands = dict(group.commands)
    for command in commands:
        composed.add_command(command)
    return composed


main = _with(generator_cli.main, demo)
