"""Run every benchmark module `bench/<name>_bench.py` (each exposes `main(argv) -> int`)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def run_all(argv: list[str]) -> int:
    status = 0
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.endswith("_bench")
    )
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench.{name}", flush=True)
        status = max(status, int(module.main(argv)))
    return status


if __name__ == "__main__":
    sys.exit(run_all(sys.argv[1:]))
