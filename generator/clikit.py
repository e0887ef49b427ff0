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


def handle_errors(prog: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a click callback so a CanaryError prints one line and exits with its code."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except CanaryError as err:
                message = " ".join(str(err).split("\n")[0].split())
                click.echo(f"{prog}: error: {message}", err=True)
                sys.exit(err.exit_code)

        return inner

    return wrap
