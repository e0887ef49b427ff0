"""`python -m bench [NAME...]`: run every benchmark module `bench/<name>_bench.py` (or those named)
with its defaults; run one module directly (`python -m bench.generator_bench --help`) for options."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys

import bench


def run_all(names: list[str]) -> int:
    status = 0
    found = sorted(
        m.name
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name.endswith(("_bench", "_scale")) and not m.name.startswith("_")
    )
    for name in found:
        if names and not any(name.startswith(n) for n in names):
            continue
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench.{name}", flush=True)
        takes_argv = bool(inspect.signature(module.main).parameters)
        result = module.main([]) if takes_argv else module.main()
        status = max(status, int(result or 0))
    return status


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
