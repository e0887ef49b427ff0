"""realcluster imports nothing of ours (docs/architecture.md): it stands where a real API server
would, so the verifier and simcluster can be tested against it without being part of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = {"core", "generator", "verifier", "simcluster", "rehearsal"}


def test_realcluster_loads_nothing_of_ours() -> None:
    probe = (
        "import importlib, json, pkgutil, sys, realcluster\n"
        "for m in pkgutil.walk_packages(realcluster.__path__, 'realcluster.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert set(json.loads(done.stdout.splitlines()[-1])) & OURS == set()
