"""``python -m realcluster up``: run the real control plane until SIGTERM/SIGINT (or ``--check``).

Prints ``realcluster: serving URL (kubeconfig FILE) ready in S s`` once nodes are Ready; with
``--check`` it stops right after, which is how the warm-start figure in docs/realcluster.md is
measured.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path

from realcluster.binary import BinaryMissing
from realcluster.controlplane import ControlPlane, ControlPlaneError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m realcluster")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the control plane on loopback")
    up.add_argument("--workdir", type=Path, help="state dir (default: a temporary one)")
    up.add_argument("--nodes", type=int, default=1, help="kwok fake nodes to create")
    up.add_argument("--check", action="store_true", help="stop as soon as it is ready")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="realcluster-") as tmp:
        workdir = args.workdir or Path(tmp)
        nodes = [f"kwok-node-{i}" for i in range(args.nodes)]
        try:
            cp = ControlPlane(workdir, nodes=nodes).start()
        except (BinaryMissing, ControlPlaneError) as err:
            print(f"realcluster: error: {err}", file=sys.stderr)
            return 3
        try:
            print(
                f"realcluster: serving {cp.url} (kubeconfig {cp.kubeconfig}) "
                f"ready in {cp.started_in:.1f}s",
                flush=True,
            )
            if not args.check:
                stop = threading.Event()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, lambda *_: stop.set())
                stop.wait()
        finally:
            cp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
