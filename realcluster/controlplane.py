"""``ControlPlane``: etcd, kube-apiserver, controller-manager, scheduler and kwok as processes.

Everything listens on 127.0.0.1 at free ports chosen at start, with a PKI written by
``realcp certs`` into the workdir: the API server serves a certificate for 127.0.0.1 signed by
a throwaway CA, and the harness (and the components) authenticate with an admin client
certificate in ``system:masters``. Authorization is the API server's RBAC, nothing else, so a
ServiceAccount token from ``kubectl create token`` is judged exactly as on a real cluster.

Readiness is polled with a deadline, never slept for: ``/readyz`` answers 200, every kwok node
reports Ready, and the ``default`` ServiceAccount exists (pods are refused until it does).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from realcluster.binary import find_binary
from realcluster.kwokstages import held_pod_stages

__all__ = ["KWOK_ANNOTATION", "ControlPlane", "ControlPlaneError", "write_kubeconfig"]

NODE_LEASE_SECONDS = 40  # the kubelet's default node lease duration
KWOK_ANNOTATION = "kwok.x-k8s.io/node"  # kwok manages the nodes carrying it (value "fake")
SERVICE_CIDR = "10.96.0.0/16"
POLL = 0.05  # seconds between readiness polls
READYZ_TIMEOUT = 1.0  # seconds one /readyz probe may take
STOP_GRACE = 10.0  # seconds a component gets to exit on SIGTERM before SIGKILL
FAILED_START_GRACE = 2.0  # the same, for components of a start that failed
PORT_ATTEMPTS = 3  # starts tried when a chosen free port is taken before the bind


class ControlPlaneError(RuntimeError):
    """The control plane did not start or become ready; the message ends with a log tail."""


class _PortTaken(ControlPlaneError):
    """A component could not bind the port chosen for it (taken since it was chosen)."""


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


@dataclass
class _Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (all held open together while choosing, so distinct)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class ControlPlane:
    """A real control plane on loopback; use as a context manager (or ``start``/``stop``)."""

    def __init__(
        self,
        workdir: Path | str,
        *,
        nodes: Sequence[str] = ("kwok-node-0",),
        start_timeout: float = 90.0,
        binary: Path | None = None,
        extra_apiserver_args: Sequence[str] = (),
        exec_path: Sequence[Path] = (),
        pods_per_node: int = 250,
        crds: Sequence[dict[str, Any]] = (),
        kwok_args: Sequence[str] = (),
        held_annotation: str | None = None,
    ) -> None:
        """``nodes`` are created as kwok fake nodes; ``binary`` defaults to ``find_binary()``;
        ``crds`` are installed before the controller-manager starts, as on a real cluster where
        CRDs long predate their objects (see ``realcluster.crds``). Pods carrying
        ``held_annotation`` run but are not Ready until it is removed (``realcluster.kwokstages``)."""
        self.workdir = Path(workdir).resolve()
        self.node_names = list(nodes)
        self.start_timeout = start_timeout
        self.binary = binary or find_binary()
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.exec_path = [Path(p) for p in exec_path]  # prepended to PATH for `kubectl exec`
        self.exec_dir = self.workdir / "exec"
        self.pods_per_node = pods_per_node  # the nodes' pod capacity: what the scheduler fills
        self.crds = list(crds)  # installed before the controller-manager starts
        # e.g. --enable-crds=Exec: kwok then starts after ``crds`` (which must hold that CRD)
        self.kwok_args = list(kwok_args)
        self.held_annotation = held_annotation
        self.pki = self.workdir / "pki"
        self.kubeconfig = self.workdir / "admin.kubeconfig"
        self.url = ""
        self.started_in = 0.0  # seconds from start() to ready, for the warm-start figure
        self._procs: list[_Proc] = []
        self._ssl: ssl.SSLContext | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        t0 = time.monotonic()
        deadline = t0 + self.start_timeout
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._start(deadline)
                break
            except _PortTaken:
                # Another process took one of the free ports between our choice and the
                # component's bind; choose again from a clean etcd. (A half-started API
                # server ignores SIGTERM while it waits for etcd: no point in a long grace.)
                self.stop(grace=FAILED_START_GRACE)
                shutil.rmtree(self.workdir / "etcd", ignore_errors=True)
                if attempt == PORT_ATTEMPTS:
                    raise
            except BaseException:
                self.stop(grace=FAILED_START_GRACE)
                raise
        self.started_in = time.monotonic() - t0
        return self

    def _start(self, deadline: float) -> None:
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(self.binary), "certs", "--dir", str(self.pki)],
            check=True,
            capture_output=True,
            timeout=30,
        )
        p = _Ports(*free_ports(6))
        self.url = f"https://127.0.0.1:{p.apiserver}"
        self._write_kubeconfig()
        pki = self.pki
        kc = str(self.kubeconfig)
        self._spawn(
            "etcd",
            "--data-dir",
            str(self.workdir / "etcd"),
            f"--listen-client-url=http://127.0.0.1:{p.etcd_client}",
            f"--listen-peer-url=http://127.0.0.1:{p.etcd_peer}",
        )
        self._spawn(
            "kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{p.etcd_client}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={p.apiserver}",
            f"--cert-dir={self.workdir / 'apiserver'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'admin.crt'}",
            f"--kubelet-client-key={pki / 'admin.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            # The `kubernetes` Service's endpoints would be 127.0.0.1, which Endpoints
            # validation refuses; nothing here needs in-cluster access to the API.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            "--kubelet-preferred-address-types=InternalIP",
            *self.extra_apiserver_args,
        )
        kcm = (
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            "--bind-address=127.0.0.1",
            f"--secure-port={p.controller_manager}",
            f"--cert-dir={self.workdir / 'controller-manager'}",
            "--leader-elect=false",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--profiling=false",
            # Client rate limits sized for a loopback API server that serves nobody else (the
            # defaults, 20 and 50 QPS, make the ReplicaSet controller and the scheduler the
            # bottleneck of any test with more than a handful of pods).
            "--kube-api-qps=500",
            "--kube-api-burst=1000",
        )
        if not self.crds:
            self._spawn("kube-controller-manager", *kcm)
        self._spawn(
            "kube-scheduler",
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            "--bind-address=127.0.0.1",
            f"--secure-port={p.scheduler}",
            "--leader-elect=false",
            "--profiling=false",
            "--kube-api-qps=500",
            "--kube-api-burst=1000",
        )
        kwok = (
            f"--kubeconfig={kc}",
            f"--config={self._write_kwok_config()}",
            # kwok's kubelet-like server (exec, logs): nodes advertise this port, and the API
            # server reaches it at the node IP. Its TLS certificate is kwok's own; the API
            # server does not verify kubelets without --kubelet-certificate-authority.
            f"--server-address=127.0.0.1:{p.kwok}",
            f"--node-port={p.kwok}",
            f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
            # The node address pods report as hostIP, and where the API server would reach
            # kwok's kubelet-like server.
            "--node-ip=127.0.0.1",
            # Node leases, renewed every 10 s, as kubelets keep theirs. kwok's own default is
            # 40 s, but only through a KwokConfiguration: with none in --config it runs with 0,
            # i.e. no leases and a node heartbeat every 10-20 minutes, so the node lifecycle
            # controller saw the node Unknown 50 s after start and marked every pod not Ready.
            f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
            *self.kwok_args,
        )
        if not self.kwok_args:
            self._spawn("kwok", *kwok)
        self._wait("the API server's /readyz", deadline, self._readyz)
        if self.crds:
            # The garbage collector learns kinds from discovery at start and then only every
            # 30 s: CRDs that exist before it starts are collected from the first second.
            for crd in self.crds:
                self._create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
            self._wait("CRDs Established", deadline, self._crds_established)
            self._spawn("kube-controller-manager", *kcm)
        if self.kwok_args:
            self._spawn("kwok", *kwok)
        for name in self.node_names:
            self._create_node(name)
        self._wait("kwok nodes Ready", deadline, self._nodes_ready)
        self._wait("the default ServiceAccount", deadline, self._default_sa)

    def _write_kwok_config(self) -> Path:
        """``kubectl exec`` into any pod runs the command on this host, in ``exec_dir``.

        kwok has no containers to exec into; its ClusterExec runs the argv locally. The
        environment names the cluster (``REALCP_WORKDIR``) so a command of ours can tell where
        it runs; a mesh would put its curl first on ``PATH`` via ``exec_path``.
        """
        self.exec_dir.mkdir(parents=True, exist_ok=True)
        path = os.pathsep.join([*map(str, self.exec_path), os.environ.get("PATH", "")])
        cluster_exec = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterExec",
            "metadata": {"name": "local"},
            "spec": {
                "execs": [
                    {
                        "local": {
                            "workDir": str(self.exec_dir),
                            "envs": [
                                {"name": "REALCP_WORKDIR", "value": str(self.workdir)},
                                {"name": "PATH", "value": path},
                            ],
                        }
                    }
                ]
            },
        }
        docs: list[dict[str, Any]] = [cluster_exec]
        if self.held_annotation:
            docs += held_pod_stages(self.binary, self.held_annotation)
        out = self.workdir / "kwok.yaml"
        out.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        return out

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM every component (newest first), then SIGKILL what outlives the grace."""
        for proc in reversed(self._procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in reversed(self._procs):
            try:
                proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=STOP_GRACE)
        self._procs = []

    def pid(self, component: str) -> int | None:
        """The process id of a running component (for measurements), None if not running."""
        for proc in self._procs:
            if proc.name == component and proc.popen.poll() is None:
                return proc.popen.pid
        return None

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- processes ------------------------------------------------------------------------------

    def _spawn(self, name: str, *args: str) -> None:
        log = self.workdir / "logs" / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [str(self.binary), name, *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                # kwok would read ~/.kwok/kwok.yaml; keep the user's home out of the cluster.
                # REALCP_EXIT_WITH_PARENT: the component stops if this process dies unclean.
                env={
                    **os.environ,
                    "HOME": str(self.workdir),
                    "REALCP_EXIT_WITH_PARENT": str(os.getpid()),
                    **self._path_env(),
                },
            )
        self._procs.append(_Proc(name, popen, log))

    def _path_env(self) -> dict[str, str]:
        """``exec_path`` first on the components' own PATH: kwok looks an exec'd command up on
        its own PATH (Go's exec.Command), not on the PATH of the exec configuration's env."""
        if not self.exec_path:
            return {}
        return {"PATH": os.pathsep.join([*map(str, self.exec_path), os.environ.get("PATH", "")])}

    def _check_alive(self) -> None:
        for proc in self._procs:
            code = proc.popen.poll()
            if code is not None:
                tail = proc.tail()
                error = _PortTaken if "address already in use" in tail else ControlPlaneError
                raise error(f"{proc.name} exited with {code} during start; {proc.log}:\n{tail}")

    def _wait(self, what: str, deadline: float, ready: Any) -> None:
        last = ""
        while True:
            self._check_alive()
            try:
                answer = ready()
            except (OSError, http.client.HTTPException) as err:
                answer, last = False, str(err)
            if answer is True:
                return
            if isinstance(answer, str):
                last = answer
            if time.monotonic() >= deadline:
                tails = "\n".join(f"--- {p.name}:\n{p.tail(5)}" for p in self._procs)
                raise ControlPlaneError(
                    f"not ready within {self.start_timeout:.0f}s waiting for {what} "
                    f"(last: {last or 'no answer'})\n{tails}"
                )
            time.sleep(POLL)

    # -- the admin's view of the API ------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
            ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
            self._ssl = ctx
        return self._ssl

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 10.0
    ) -> tuple[int, Any]:
        """One admin request; returns (status, decoded JSON or text). For setup, not for tests."""
        host, port = self.url.removeprefix("https://").rsplit(":", 1)
        conn = http.client.HTTPSConnection(
            host, int(port), context=self._context(), timeout=timeout
        )
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read().decode(errors="replace")
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw

    def _readyz(self) -> bool | str:
        # Short: an API server still waiting for etcd accepts connections but does not answer,
        # and a component's exit should be noticed within a poll or two.
        status, _ = self.request("GET", "/readyz", timeout=READYZ_TIMEOUT)
        return True if status == 200 else f"/readyz {status}"

    def _create_node(self, name: str) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
            },
            "status": {
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": str(self.pods_per_node)},
                "capacity": {"cpu": "32", "memory": "256Gi", "pods": str(self.pods_per_node)},
            },
        }
        self._create("/api/v1/nodes", node)

    def _create(self, path: str, obj: dict[str, Any]) -> None:
        status, body = self.request("POST", path, obj)
        if status not in (201, 409):  # 409: there from an earlier start of this workdir
            raise ControlPlaneError(f"creating {obj['metadata']['name']}: HTTP {status}: {body}")

    def _crds_established(self) -> bool | str:
        for crd in self.crds:
            name = crd["metadata"]["name"]
            path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
            status, body = self.request("GET", path)
            # a CRD just created may have "conditions": null until the API server decides
            conditions = (body.get("status") or {}).get("conditions") or [] if status == 200 else []
            if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return f"CRD {name} not Established"
        return True

    def _nodes_ready(self) -> bool | str:
        status, body = self.request("GET", "/api/v1/nodes")
        if status != 200:
            return f"list nodes {status}"
        ready = {
            item["metadata"]["name"]
            for item in body.get("items", [])
            for cond in item.get("status", {}).get("conditions", [])
            if cond.get("type") == "Ready" and cond.get("status") == "True"
        }
        missing = sorted(set(self.node_names) - ready)
        return True if not missing else f"nodes not Ready: {', '.join(missing)}"

    def _default_sa(self) -> bool | str:
        status, _ = self.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
        return True if status == 200 else f"default ServiceAccount {status}"

    # -- kubeconfigs ----------------------------------------------------------------------------

    def _write_kubeconfig(self) -> None:
        user = {
            "client-certificate": str(self.pki / "admin.crt"),
            "client-key": str(self.pki / "admin.key"),
        }
        write_kubeconfig(self.kubeconfig, self.url, self.pki / "ca.crt", user, "realcp-admin")

    def token_kubeconfig(self, path: Path, token: str, name: str = "token") -> Path:
        """A kubeconfig for the same server that authenticates with a bearer token only."""
        return write_kubeconfig(path, self.url, self.pki / "ca.crt", {"token": token}, name)


def write_kubeconfig(path: Path, server: str, ca: Path, user: dict[str, str], name: str) -> Path:
    """Write a one-context kubeconfig (mode 0600) naming ``server`` with ``ca`` as its CA."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "realcp", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": "realcp", "user": name}}],
        "current-context": name,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
