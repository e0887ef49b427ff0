"""What every console script shares: one place that turns CanaryError into a message and exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

from generator.errors import CanaryError

__all__ = ["handle_errors"]

P = ParamSpec("P")
R = TypeVar("R")


INTERRUPTED = 130  # 128 + SIGINT, what shells report for a Ctrl-C'd command


def handle_errors(
    prog: str, interrupted: str = "interrupted"
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a click callback so a CanaryError prints one line and exits with its code.

    Ctrl-C prints `interrupted` (say what state it leaves) and exits 130, instead of click's
    "Aborted!" with exit 1, which the contract reserves for a failed check.
    """

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except CanaryError as err:
                message = " ".join(str(err).split("\n")[0].split())
                click.echo(f"{prog}: error: {message}", err=True)
                sys.exit(err.exit_code)
            except KeyboardInterrupt:
                click.echo(f"{prog}: {interrupted}", err=True)
                sys.exit(INTERRUPTED)

        return inner

    return wrap
