"""One real control plane per test module (it takes seconds to start; tests share it read-mostly).

Skips, with a one-line reason, when the realcp binary is absent (no Go, or not built: `make
realcluster`) or kubectl is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from realcluster import BinaryMissing, ControlPlane, find_binary
from realcluster.crds import CRDS


def _skip_reason() -> str | None:
    try:
        find_binary()
    except BinaryMissing as err:
        return str(err)
    if shutil.which("kubectl") is None:
        return "kubectl is not installed"
    return None


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with ControlPlane(tmp_path_factory.mktemp("realcp"), crds=CRDS) as cp:
        yield cp


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the installed kubectl with its own cache dir next to the kubeconfig (no stale discovery)."""
    proc = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(kubeconfig.parent / "kc-cache"),
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc
