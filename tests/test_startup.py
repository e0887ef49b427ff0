"""`--help` of each console script loads click and the CLI module, not what the commands use.

Each command imports its machinery (the YAML engine, jinja2, deepdiff, the kubernetes client,
aiohttp) when it runs, so asking for help or mistyping an option answers at once. This checks
which modules a real `--help` run leaves in `sys.modules` (not how long it takes: timing is
`bench/startup_bench.py`'s job).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("yaml", "ruamel", "jinja2", "deepdiff", "pydantic", "kubernetes", "urllib3", "aiohttp")

# Run as a console script would: import the CLI module, call main() with the arguments.
PROBE = """
import json, sys
from {module} import main
try:
    code = main({args!r})
except SystemExit as done:
    code = done.code
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""

CASES = [
    ("rehearsal.cli", ["--help"], "demo"),
    ("rehearsal.cli", ["demo", "--help"], "split-trust"),
    ("generator.cli", ["--help"], "next"),
    ("generator.cli", ["init", "--help"], "--to-version"),
    ("generator.cli", ["next", "--help"], "github|gitlab"),
    ("verifier.cli", ["--help"], "gate"),
    ("verifier.cli", ["stage", "--help"], "text|json|junit|markdown"),
    ("simcluster.cli", ["--help"], "serve"),
    ("simcluster.cli", ["serve", "--help"], "--sync-interval"),
]


@pytest.mark.parametrize(("module", "args", "shown"), CASES)
def test_help_imports_nothing_heavy(module: str, args: list[str], shown: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, args=args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    *help_lines, last = done.stdout.splitlines()
    result = json.loads(last)
    assert result["code"] == 0, done.stderr
    assert shown in "\n".join(help_lines)
    loaded = {m.split(".")[0] for m in result["modules"]}
    assert not loaded & set(HEAVY), f"{module} {' '.join(args)} imported {loaded & set(HEAVY)}"


def test_cli_choices_are_the_implementations() -> None:
    """The CLIs spell their choices out (so `--help` imports nothing); they must stay the same."""
    from generator import cli as generator_cli
    from generator.forge import FORGES
    from rehearsal.faults import FAULTS
    from simcluster.faults import FAULT_NAMES
    from verifier import cli as verifier_cli
    from verifier.report import FORMATS

    assert generator_cli.FORGE_CHOICES == FORGES
    assert tuple(FAULTS) == FAULT_NAMES
    assert verifier_cli.REPORT_FORMATS == FORMATS
