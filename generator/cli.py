"""`istio-canary`: the generator's command line (thin: parse, call one function, print)."""

from __future__ import annotations

import click

from generator import __version__


@click.group()
@click.version_option(__version__, prog_name="istio-canary")
def main() -> None:
    """Stage an Istio canary control-plane upgrade in a GitOps repo, one commit per stage."""
