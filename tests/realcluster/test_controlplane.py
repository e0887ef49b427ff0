"""The harness itself: start, fail fast with the component's own words, retry a stolen port, stop.

Each test starts its own control plane (a few seconds each), so they stay few.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import realcluster.controlplane as controlplane
from realcluster import BinaryMissing, ControlPlane, ControlPlaneError, find_binary
from tests.realcluster.conftest import kubectl

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _need_binary() -> None:
    try:
        find_binary()
    except BinaryMissing as err:
        pytest.skip(str(err))


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_start_serves_kubectl_and_stop_leaves_no_process(tmp_path: Path) -> None:
    cp = ControlPlane(tmp_path, nodes=("n1", "n2")).start()
    try:
        names = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
        pids = [cp.pid(name) for name in names]
        assert all(pids), pids
        out = kubectl(cp.kubeconfig, "get", "nodes", "-o", "name").stdout.split()
        assert out == ["node/n1", "node/n2"]
        assert "v1.33.13" in kubectl(cp.kubeconfig, "version").stdout
    finally:
        cp.stop()
    assert not [p for p in pids if p and _alive(p)]


def test_a_component_that_cannot_start_fails_at_once_with_its_log(tmp_path: Path) -> None:
    cp = ControlPlane(tmp_path, extra_apiserver_args=["--no-such-flag"], start_timeout=60)
    with pytest.raises(ControlPlaneError) as err:
        cp.start()
    assert "kube-apiserver exited" in str(err.value)
    assert "unknown flag: --no-such-flag" in str(err.value)
    assert cp.pid("etcd") is None  # the others were stopped


def test_a_port_taken_after_it_was_chosen_is_chosen_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race free_ports cannot exclude: someone binds the port before the component does."""
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    real = controlplane.free_ports
    calls: list[list[int]] = []

    def first_one_taken(n: int) -> list[int]:
        ports = real(n)
        if not calls:
            ports[0] = taken  # etcd's client port
        calls.append(ports)
        return ports

    monkeypatch.setattr(controlplane, "free_ports", first_one_taken)
    try:
        with ControlPlane(tmp_path) as cp:
            assert len(calls) == 2
            assert str(taken) not in cp.url
            kubectl(cp.kubeconfig, "get", "namespaces")
    finally:
        squatter.close()
    assert "address already in use" in (tmp_path / "logs" / "etcd.log").read_text()


def _components_of(workdir: Path) -> list[int]:
    """Pids of realcp processes whose command line names this workdir (Linux /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"realcp") and any(str(workdir).encode() in a for a in argv):
            pids.append(int(cmdline.parent.name))
    return pids


def test_components_stop_when_the_harness_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves no chance to clean up; the components notice they were re-parented."""
    harness = subprocess.Popen(
        [sys.executable, "-m", "realcluster", "up", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert harness.stdout is not None
        line = harness.stdout.readline()  # blocks until ready (or the harness exits)
        assert line.startswith("realcluster: serving"), line
        pids = _components_of(tmp_path)
        assert len(pids) == 5, pids
    finally:
        harness.kill()
        harness.wait()
    deadline = time.monotonic() + 20
    while [p for p in pids if _alive(p)]:
        assert time.monotonic() < deadline, f"still running: {[p for p in pids if _alive(p)]}"
        time.sleep(0.1)


def test_a_component_whose_harness_died_before_it_started_exits(tmp_path: Path) -> None:
    """The race the first watchdog lost: the parent is gone before the child reaches main, so
    the child must compare getppid with the pid its parent announced, not with its own start."""
    client, peer = controlplane.free_ports(2)
    etcd = (
        f'REALCP_EXIT_WITH_PARENT=$$ "{find_binary()}" etcd --data-dir "{tmp_path / "etcd"}" '
        f"--listen-client-url=http://127.0.0.1:{client} "
        f"--listen-peer-url=http://127.0.0.1:{peer} >/dev/null 2>&1 & echo $!"
    )
    # sh starts etcd in the background and exits at once: etcd is orphaned from its start.
    pid = int(subprocess.run(["sh", "-c", etcd], capture_output=True, text=True).stdout)
    deadline = time.monotonic() + 20
    while _alive(pid):
        assert time.monotonic() < deadline, f"etcd {pid} outlived its parent"
        time.sleep(0.1)
