"""CLI start-up: `--help` of each console script against `python -c 'import click'`.

Any click CLI costs at least an interpreter plus click; that is the floor. Each command runs
`--repeat` times, round robin with the floor so all share the machine's load alike, and the
medians of wall and CPU time (the child's user + system) are compared. Target: each <= 2x.

    python -m bench.startup_bench [--repeat 21] [--code DIR]

`--code DIR` puts DIR first on PYTHONPATH, to time another checkout (say, an older commit
exported with `git archive`) with the same interpreter and packages.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c 'import click'": [sys.executable, "-c", "import click"],
    "istio-canary --help": [str(BIN / "istio-canary"), "--help"],
    "istio-canary-verify --help": [str(BIN / "istio-canary-verify"), "--help"],
    "simcluster --help": [str(BIN / "simcluster"), "--help"],
}
FLOOR = "python -c 'import click'"


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.startup_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=21, help="runs of each (medians)")
    parser.add_argument("--code", type=Path, default=None, help="time the code in DIR instead")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.code is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(args.code.resolve()), env.get("PYTHONPATH", "")) if p
        )
    missing = [name for name, cmd in COMMANDS.items() if not shutil.which(cmd[0])]
    if missing:
        raise SystemExit(f"not installed in this environment: {', '.join(missing)}")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for cmd in COMMANDS.values():  # once each first: disk caches warm, nothing recorded
        _run(cmd, env)
    for _ in range(args.repeat):
        for name, cmd in COMMANDS.items():
            samples[name].append(_run(cmd, env))
    wall = {n: statistics.median(w for w, _ in s) for n, s in samples.items()}
    cpu = {n: statistics.median(c for _, c in s) for n, s in samples.items()}
    where = f" (code from {args.code})" if args.code else ""
    print(f"CLI start-up, median of {args.repeat} runs each{where}:")
    worst = 0.0
    for name in COMMANDS:
        ratio_wall, ratio_cpu = wall[name] / wall[FLOOR], cpu[name] / cpu[FLOOR]
        if name != FLOOR:
            worst = max(worst, ratio_cpu)
        print(
            f"  {name:<28} {wall[name] * 1000:6.0f} ms {ratio_wall:5.2f}x wall   "
            f"{cpu[name] * 1000:6.0f} ms {ratio_cpu:5.2f}x CPU"
        )
    # CPU time, like the generator benchmark: on a shared machine wall time measures neighbours.
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
