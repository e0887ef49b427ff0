"""simcluster stands in for a real cluster, so it must not depend on the tools it rehearses.

If it imported ``generator`` or ``verifier``, a bug there could hide itself in the simulation
(both sides reading the same table or rule). Every module is imported in a fresh interpreter,
where nothing else has loaded those packages yet.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_IMPORT_ALL = """
import importlib, json, pkgutil, sys
import simcluster
names = ["simcluster"] + [
    m.name for m in pkgutil.walk_packages(simcluster.__path__, "simcluster.")
]
for name in names:
    importlib.import_module(name)
loaded = sorted(
    m for m in sys.modules if m.split(".")[0] in ("generator", "verifier")
)
print(json.dumps({"imported": names, "forbidden": loaded}))
"""


def test_no_simcluster_module_loads_generator_or_verifier() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"simcluster.store", "simcluster.api", "simcluster.cli"} <= set(report["imported"])
    assert any(name.startswith("simcluster.controllers.") for name in report["imported"])
    assert report["forbidden"] == []
