"""One simulated cluster: store, API server, controllers and GitOps sync loop on one asyncio loop.

The behaviour half (``simcluster.controllers``, ``simcluster.mesh``, ``simcluster.gitops``) is
plugged in when importable, so the API server works on its own (tests of the wire contract)
and gains controllers, the mesh and sync as they land.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from core.errors import UsageError
from simcluster.api import ApiState, make_app
from simcluster.apierrors import StoreError
from simcluster.errorlog import ErrorLog
from simcluster.faults import Faults
from simcluster.history import WatchEvent
from simcluster.store import Store
from simcluster.streams.exec import ExecHandler, missing_binary

log = logging.getLogger("simcluster.server")

# What every cluster has before anything is applied.
BOOTSTRAP: tuple[dict[str, Any], ...] = (
    *(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease")
    ),
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "clusterIP": "10.96.0.1",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        },
    },
)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (made with the openssl CLI).

    The certificate is its own CA: put it in the kubeconfig's ``certificate-authority``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "simcluster.crt", directory / "simcluster.key"
    openssl = shutil.which("openssl")
    if openssl is None:
        raise UsageError("TLS needs the openssl command to make a self-signed certificate")
    cmd = [
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=simcluster", "-keyout", str(key), "-out", str(cert),
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext", "basicConstraints=critical,CA:TRUE",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UsageError(f"openssl could not make a certificate: {result.stderr.strip()}")
    key.chmod(0o600)
    return cert, key


def _optional(module: str) -> Any:
    """The behaviour half's module, or None until it exists (or if it fails to import)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if err.name != module:
            log.warning("simcluster: %s is present but failed to import: %s", module, err)
        return None


class SimServer:
    """Runs on an asyncio loop (``start``/``stop`` there); every store call stays on that loop."""

    def __init__(
        self,
        *,
        repo: Path | None = None,
        branch: str = "main",
        sync_interval: float = 1.0,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = 1.0,
        quiet_period: float = 0.1,
        controllers: bool = True,
        exec_handler: ExecHandler | None = None,
        tls_dir: Path | None = None,
    ) -> None:
        self.repo = repo
        self.branch = branch
        self.sync_interval = sync_interval
        self.faults = faults if faults is not None else Faults()
        self.host = host
        self.port = port
        self.quiet_period = quiet_period
        self.with_controllers = controllers
        self.exec_override = exec_handler
        self.tls_dir = tls_dir
        self.ca_file: Path | None = None
        self.store = Store()
        self.state = ApiState(self.store, self.faults, bookmark_interval=bookmark_interval)
        self.url = ""
        self.controllers: Any = None
        self.syncer: Any = None
        self.last_sync: str | None = None
        self.sync_errors: list[str] = []
        self._error_log = ErrorLog(log, "simcluster: sync failed: ")
        self._runner: web.AppRunner | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._last_change = time.monotonic()
        self._sync_lock: asyncio.Lock | None = None

    async def start(self) -> str:
        """Bootstrap the cluster, start controllers, serve, do a first sync; returns the URL."""
        for obj in BOOTSTRAP:
            self.store.create(obj)
        self.store.add_listener(self._touch)
        self.state.exec_handler = self._exec_handler()
        self.state.sync = self.sync_now
        self.state.settled = self.idle
        controllers = _optional("simcluster.controllers") if self.with_controllers else None
        if controllers is not None:
            self.controllers = controllers.start(self.store, self.faults)
        self._runner = web.AppRunner(make_app(self.state), shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        ssl_context = None
        if self.tls_dir is not None:
            self.ca_file, key = self_signed_certificate(self.tls_dir)
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(self.ca_file, key)
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_context)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"{'https' if ssl_context else 'http'}://{host}:{port}"
        self._sync_lock = asyncio.Lock()
        if self.repo is not None:
            gitops = _optional("simcluster.gitops")
            if gitops is None:
                log.warning("simcluster: no GitOps syncer available; %s is not applied", self.repo)
            else:
                self.syncer = gitops.Syncer(self.repo, self.branch, self.store, self.faults)
                await self._sync_logged()
                self._sync_task = asyncio.get_running_loop().create_task(self._sync_loop())
        return self.url

    async def stop(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
        if self.controllers is not None:
            self.controllers.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    def _exec_handler(self) -> ExecHandler:
        if self.exec_override is not None:
            return self.exec_override
        mesh = _optional("simcluster.mesh")
        if mesh is None or not hasattr(mesh, "Mesh"):
            return missing_binary
        handler: ExecHandler = mesh.Mesh(self.store, self.faults).exec_handler
        return handler

    def _touch(self, _event: WatchEvent) -> None:
        self._last_change = time.monotonic()

    def idle(self) -> bool:
        """Controllers have nothing to do and the store has been quiet for ``quiet_period``."""
        if self.controllers is not None and not self.controllers.idle():
            return False
        return time.monotonic() - self._last_change >= self.quiet_period

    async def sync_now(self) -> str | None:
        """Apply the branch head now (Argo CD hard refresh); the applied sha, None without repo."""
        if self.syncer is None:
            return None
        assert self._sync_lock is not None
        async with self._sync_lock:
            result = self.syncer.sync_once()
            if inspect.isawaitable(result):
                result = await result
        self.last_sync = str(result) if result is not None else self.last_sync
        return self.last_sync

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sync_interval)
            await self._sync_logged()

    async def _sync_logged(self) -> None:
        try:
            await self.sync_now()
        except (StoreError, OSError, ValueError, RuntimeError) as err:
            # a broken commit must not kill the cluster (Argo CD keeps running too); the
            # verifier sees the old revision still applied
            self._error_log.report([str(err)])
            self.sync_errors.append(str(err))
        else:
            self._error_log.report([])
