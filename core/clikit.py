"""What every console script shares: one place that turns CanaryError into a message and exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import click

from core.errors import CanaryError

__all__ = ["INTERRUPTED", "handle_errors", "one_line_group"]

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


def one_line_group(prog: str) -> type[click.Group]:
    """A click.Group class whose usage errors are one line like every other error.

    Click's default is "Usage: ...", "Try ... --help", a blank line and "Error: ...": four
    lines on stderr that CI logs and wrappers cut badly. Same message and exit code (2).
    """

    class OneLineGroup(click.Group):
        def main(
            self,
            args: Sequence[str] | None = None,
            prog_name: str | None = None,
            complete_var: str | None = None,
            standalone_mode: bool = True,
            **extra: Any,
        ) -> Any:
            if not standalone_mode:
                return super().main(args, prog_name, complete_var, False, **extra)
            try:
                return super().main(args, prog_name, complete_var, False, **extra)
            except click.exceptions.NoArgsIsHelpError as err:  # bare command: the help, as is
                click.echo(err.format_message(), err=True)
                sys.exit(err.exit_code)
            except click.ClickException as err:
                ctx = getattr(err, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                message = " ".join(err.format_message().split())
                click.echo(f"{prog}: error: {message}{hint}", err=True)
                sys.exit(err.exit_code)
            except click.Abort:
                click.echo(f"{prog}: interrupted", err=True)
                sys.exit(INTERRUPTED)

    return OneLineGroup
