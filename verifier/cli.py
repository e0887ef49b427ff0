"""`istio-canary-verify`: not built yet (see its issue); exits 2 so CI never mistakes it for a pass."""

from __future__ import annotations

import sys

import click


def main() -> None:
    """Say the verifier is not built yet and exit 2."""
    click.echo("istio-canary-verify: error: not built yet", err=True)
    sys.exit(2)
