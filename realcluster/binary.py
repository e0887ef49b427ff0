"""Where the ``realcp`` binary lives (``make realcluster`` builds it there).

The binary and the Go build cache sit under ``.cache/realcluster/`` in the checkout (gitignored),
so a second build links nothing and a fresh clone pays the cold build once. ``REALCP_BIN``
points at a binary built elsewhere.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "realcluster"
DEFAULT_BIN = CACHE / "bin" / "realcp"


class BinaryMissing(RuntimeError):
    """No usable realcp binary (Go absent, or not built yet); the message is one line."""


def find_binary() -> Path:
    """The realcp binary to run, or BinaryMissing saying in one line why there is none."""
    override = os.environ.get("REALCP_BIN")
    if override:
        path = Path(override)
        if not os.access(path, os.X_OK):
            raise BinaryMissing(f"REALCP_BIN={override} is not an executable file")
        return path
    if DEFAULT_BIN.is_file() and os.access(DEFAULT_BIN, os.X_OK):
        return DEFAULT_BIN
    if shutil.which("go") is None:
        raise BinaryMissing("Go is not installed, so the real control plane cannot be built")
    where = DEFAULT_BIN.relative_to(ROOT)
    raise BinaryMissing(f"{where} is not built; run `make realcluster` (cold build about 10 min)")
