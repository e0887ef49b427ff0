"""``SimCluster``: a simulated cluster in a background thread, for tests, benches and the demo.

    with SimCluster(repo=path, faults=("split-trust",), workdir=tmp_path) as sim:
        subprocess.run(["kubectl", "--kubeconfig", sim.kubeconfig, "get", "pods", "-A"])
        sim.set_fault("stuck-rollout", True)
        sim.sync_now(); sim.wait_settled()
        sim.call(lambda store: store.get("Pod", "demo-a", "echo-0"))

The server runs on its own asyncio loop in a daemon thread; ``call`` is the only way to touch
the store from outside (it runs the function on that loop and waits for the result).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from simcluster import kubeconfig
from simcluster.faults import Faults
from simcluster.server import SimServer
from simcluster.store import Store
from simcluster.streams.exec import ExecHandler

T = TypeVar("T")


class SimClusterError(RuntimeError):
    """The simulated cluster could not start, or did not settle in time."""


class SimCluster:
    """A running simulated cluster; use as a context manager (or ``start``/``stop``)."""

    def __init__(
        self,
        repo: Path | str | None = None,
        branch: str = "main",
        sync_interval: float = 0.2,
        faults: Iterable[str] = (),
        workdir: Path | str | None = None,
        *,
        port: int = 0,
        bookmark_interval: float = 1.0,
        start_timeout: float = 30.0,
        controllers: bool = True,
        exec_handler: ExecHandler | None = None,
        tls: bool = False,
    ) -> None:
        """``controllers=False`` serves the bare API (no pods from Deployments, no operator);
        ``exec_handler`` replaces the mesh as the answer to exec'd commands; ``tls`` serves https
        with a self-signed certificate that the kubeconfig names as its CA."""
        self.faults = Faults(faults)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="simcluster-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self._server = SimServer(
            repo=Path(repo) if repo is not None else None,
            branch=branch,
            sync_interval=sync_interval,
            faults=self.faults,
            port=port,
            bookmark_interval=bookmark_interval,
            controllers=controllers,
            exec_handler=exec_handler,
            tls_dir=self.workdir / "tls" if tls else None,
        )
        self.kubeconfig = self.workdir / "simcluster.kubeconfig"
        self.url = ""
        self._start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SimCluster:
        ready: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="simcluster", daemon=True
        )
        self._thread.start()
        try:
            self.url = ready.result(timeout=self._start_timeout)
        except BaseException as err:
            self.stop()
            raise SimClusterError(f"simcluster did not start: {err}") from err
        kubeconfig.write(self.kubeconfig, self.url, ca_file=self._server.ca_file)
        return self

    def _run(self, ready: concurrent.futures.Future[str]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            url = loop.run_until_complete(self._server.start())
        except BaseException as err:
            ready.set_exception(err)
            loop.close()
            return
        ready.set_result(url)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._server.stop())
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the harness API ------------------------------------------------------------------------

    def _submit(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        if self._loop is None:
            coro.close()
            raise SimClusterError("simcluster is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call(self, fn: Callable[[Store], T], timeout: float = 30.0) -> T:
        """Run ``fn(store)`` on the server's loop thread and return its result (or raise its error)."""

        async def run() -> T:
            return fn(self._server.store)

        return self._submit(run(), timeout)

    def set_fault(self, name: str, enabled: bool) -> None:
        """Switch a fault at runtime (split-trust, stuck-rollout, no-sync, api-flaky)."""
        self.faults.set(name, enabled)

    def sync_now(self, timeout: float = 60.0) -> str | None:
        """Apply the branch head now (like an Argo CD hard refresh); returns the applied sha."""
        return self._submit(self._server.sync_now(), timeout)

    def wait_settled(self, timeout: float = 10.0) -> None:
        """Block until the controllers are idle (rollouts done or stuck) and the store is quiet."""
        deadline = time.monotonic() + timeout
        while True:
            if self.call(lambda _store: self._server.idle()):
                return
            if time.monotonic() >= deadline:
                raise SimClusterError(f"simcluster did not settle within {timeout}s")
            time.sleep(0.02)

    @property
    def requests(self) -> list[tuple[str, str, str]]:
        """The last API requests seen (method, path with query, Content-Type), oldest first."""
        return self.call(lambda _store: list(self._server.state.requests))

    def take_timings(self) -> list[tuple[str, float]]:
        """(path, handler seconds) of finished non-streaming requests since the last call."""

        def take(_store: Store) -> list[tuple[str, float]]:
            timings = list(self._server.state.timings)
            self._server.state.timings.clear()
            return timings

        return self.call(take)

    @property
    def controllers(self) -> Any:
        """The behaviour half's Controllers object (None when it is not installed)."""
        return self._server.controllers
