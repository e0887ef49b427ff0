"""The generator and the verifier, run in process through their command lines.

The rehearsal drives both parts exactly as users and CI do (same argument parsing, same error
handling, same exit codes), just without a subprocess per call. A run's output is captured, and the
verifier's JSON report is read back as a `Verdict`.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from core.errors import PreconditionError
from generator import cli as generator_cli
from verifier import cli as verifier_cli

__all__ = ["DEFAULT_PACING", "GatePacing", "Verdict", "generate", "invoke", "last_line", "verify"]


def invoke(cli: click.Command, args: Sequence[str], prog: str) -> tuple[int, str]:
    """Run a console script's command in process, as its console script would (usage errors,
    error lines, exit codes); its exit code and everything it printed."""
    out = io.StringIO()
    code: int | str | None = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            cli.main(list(args), prog_name=prog, standalone_mode=True)
        except SystemExit as e:
            code = e.code
    return (code if isinstance(code, int) else 0 if code is None else 1), out.getvalue()


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def generate(*args: str) -> str:
    """`istio-canary ARGS`; a non-zero exit is a PreconditionError naming the command."""
    code, out = invoke(generator_cli.main, args, "istio-canary")
    if code != 0:
        raise PreconditionError(f"istio-canary {args[0]} failed (exit {code}): {last_line(out)}")
    return out


@dataclass(frozen=True)
class GatePacing:
    """How the verifier polls: fast, because the simulated cluster settles in about a second.

    20 s is plenty even on a busy machine, and a check that stays pending (split-trust mTLS)
    stops the rehearsal soon.
    """

    timeout: float = 20.0
    interval: float = 0.2
    successes: int = 2
    probe_timeout: float = 3.0

    def args(self) -> list[str]:
        return [
            *("--timeout", f"{self.timeout:g}", "--interval", f"{self.interval:g}"),
            *("--successes", str(self.successes), "--probe-timeout", f"{self.probe_timeout:g}"),
        ]


DEFAULT_PACING = GatePacing()


@dataclass(frozen=True)
class Verdict:
    """One `istio-canary-verify` run: exit code, its JSON report (when asked for) and output."""

    exit_code: int
    data: dict[str, Any] = field(default_factory=dict)
    output: str = ""

    def check(self, name: str) -> dict[str, Any]:
        """The report's entry for check `name`."""
        return next(c for c in self.data["checks"] if c["name"] == name)

    def message(self, name: str) -> str:
        return str(self.check(name)["message"])

    @property
    def reason(self) -> str:
        """Why it failed, in the verifier's words: the failing checks' messages ("" if passed)."""
        if self.exit_code == 0:
            return ""
        explained = _explain(self.data)
        return explained or last_line(self.output)


def verify(
    args: Sequence[str],
    *,
    repo: Path,
    kubeconfig: Path,
    report: Path,
    pacing: GatePacing = DEFAULT_PACING,
    output: str = "json",
) -> Verdict:
    """`istio-canary-verify ARGS` for `repo` against `kubeconfig`, its report written to `report`.

    The report is parsed when it is JSON; for other formats its text follows the printed output.
    """
    report.parent.mkdir(parents=True, exist_ok=True)
    argv = [*args, "--repo", str(repo), "--kubeconfig", str(kubeconfig), *pacing.args()]
    code, out = invoke(
        verifier_cli.main,
        [*argv, "--output", output, "--report", str(report)],
        "istio-canary-verify",
    )
    if output == "json":
        return Verdict(code, _read_json(report), out)
    try:
        text = report.read_text(encoding="utf-8")
    except OSError:
        text = ""
    return Verdict(code, {}, out + text)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _explain(data: dict[str, Any]) -> str:
    bad = [c for c in data.get("checks") or () if c.get("status") != "passed"]
    if data.get("exitCode") == 0 or not data:
        return ""
    if not bad:
        return str(data.get("reason") or data.get("error") or "")
    return "; ".join(f"{c['name']}: {c['message']}" for c in bad)
