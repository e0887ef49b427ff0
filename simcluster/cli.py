"""`simcluster`: not built yet (see its issue); exits 2."""

from __future__ import annotations

import sys

import click


def main() -> None:
    """Say simcluster is not built yet and exit 2."""
    click.echo("simcluster: error: not built yet", err=True)
    sys.exit(2)
