"""The verifier stands alone: importing every one of its modules loads nothing from `generator`.

The gate runs in CI next to a checkout, not next to the tool that wrote it; it shares only `core`
with the generator. Checked in a fresh interpreter, so modules other tests imported do not count.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import verifier

ROOT = Path(__file__).resolve().parents[2]


def _verifier_modules() -> list[str]:
    return sorted(
        info.name for info in pkgutil.walk_packages(verifier.__path__, prefix="verifier.")
    )


def test_every_verifier_module_imports_without_loading_the_generator() -> None:
    modules = _verifier_modules()
    assert {"verifier.cli", "verifier.cluster", "verifier.gate", "verifier.checks.gitops"} <= set(
        modules
    )
    program = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'generator')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
