"""The mesh behind ``kubectl exec`` on a real control plane: kwok runs our ``curl`` on this host.

kwok has no containers: an exec is answered by running the argv locally, with the environment of
the ``Exec`` object (``kwok.x-k8s.io/v1alpha1``) named after the pod, or of the cluster-wide
``ClusterExec``. So that the mesh knows who calls, ``MeshExec`` keeps one ``Exec`` per pod
(owned by the pod, collected with it) whose environment names the pod and container and puts
``shim_dir`` first on ``PATH``; there ``curl``, ``sh``, ``hostname``, ``echo``, ``true`` and
``false`` are small scripts that send their argv and that identity to ``MeshExec``'s loopback
HTTP endpoint, where simcluster's mesh model (``simcluster.mesh.Mesh``, reading the real API)
answers; the script prints the answer and exits with its code.

Known limit (kwok v0.7.0, docs/realcluster.md, with the source lines): kwok wraps the command's
exit error before the kubelet's streaming server sees it, so a non-zero exit comes back from the
API server as a 500 without the ``NonZeroExitCode`` cause, and the shims cannot change that (the
status is written by kwok's process after they exit). A failing curl is then "could not run" for
the verifier (pending, exit 3 at the deadline: fail-closed, never a pass) where a kubelet would
give the code (exit 1 naming it). Exit 0 with an HTTP error code (a 503 from a sidecar: the
``split-trust`` failure) is unaffected.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from simcluster.apierrors import StoreError
from simcluster.apistore import ApiStore
from simcluster.faults import Faults
from simcluster.mesh import Mesh

__all__ = ["EXEC_PATH", "MeshExec", "write_shims"]

Obj = dict[str, Any]
log = logging.getLogger("simcluster.meshexec")
EXEC_PATH = "/apis/kwok.x-k8s.io/v1alpha1/namespaces/{ns}/execs"
COMMANDS = ("curl", "sh", "hostname", "echo", "true", "false")

SHIM = """#!{python}
# simcluster's mesh answers this command (simcluster/meshexec.py); kwok runs it for kubectl exec.
import base64, json, os, sys, urllib.request
body = json.dumps({{
    "namespace": os.environ.get("MESH_POD_NAMESPACE", ""),
    "pod": os.environ.get("MESH_POD_NAME", ""),
    "container": os.environ.get("MESH_CONTAINER", ""),
    "argv": [{name!r}, *sys.argv[1:]],
}}).encode()
request = urllib.request.Request(os.environ["MESH_URL"] + "/exec", data=body, method="POST")
with urllib.request.urlopen(request, timeout=120) as resp:
    answer = json.loads(resp.read())
sys.stdout.buffer.write(base64.b64decode(answer["stdout"]))
sys.stderr.buffer.write(base64.b64decode(answer["stderr"]))
sys.exit(int(answer["code"]))
"""


def write_shims(directory: Path) -> Path:
    """The command scripts kwok finds first on ``PATH``; returns ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        path = directory / name
        path.write_text(SHIM.format(python=sys.executable, name=name))
        path.chmod(0o755)
    return directory


def exec_object(pod: Obj, mesh_url: str, shim_dir: Path) -> Obj:
    """The kwok ``Exec`` for one pod: each container's commands run with its identity."""
    meta = pod["metadata"]
    path = os.pathsep.join([str(shim_dir), os.environ.get("PATH", "")])
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Exec",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]}
            ],
        },
        "spec": {
            "execs": [
                {
                    "containers": [container],
                    "local": {
                        "envs": [
                            {"name": "MESH_POD_NAMESPACE", "value": meta["namespace"]},
                            {"name": "MESH_POD_NAME", "value": meta["name"]},
                            {"name": "MESH_CONTAINER", "value": container},
                            {"name": "MESH_URL", "value": mesh_url},
                            {"name": "PATH", "value": path},
                        ]
                    },
                }
                for container in containers
            ]
        },
    }


class MeshExec:
    """The endpoint the shims call, and the per-pod ``Exec`` objects that lead kwok to them."""

    def __init__(self, store: ApiStore, faults: Faults, shim_dir: Path) -> None:
        self.store = store
        self.mesh = Mesh(store, faults)
        self.shim_dir = write_shims(shim_dir)
        self.url = ""
        self._server: ThreadingHTTPServer | None = None
        self._made: set[str] = set()  # pod uids with an Exec

    def start(self) -> MeshExec:
        mesh = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                body = json.dumps(mesh.run(request)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, name="meshexec", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def run(self, request: Obj) -> Obj:
        """One command in one pod's container, answered by the mesh model."""
        pod = self.store.get("Pod", str(request.get("namespace")), str(request.get("pod")))
        if pod is None:
            out = (b"", f"pod {request.get('pod')} not found\n".encode(), 1)
        else:
            argv = [str(a) for a in request.get("argv") or []]
            result = self.mesh.exec_handler(pod, str(request.get("container")), argv)
            out = (result.stdout, result.stderr, result.exit_code)
        return {
            "stdout": base64.b64encode(out[0]).decode(),
            "stderr": base64.b64encode(out[1]).decode(),
            "code": out[2],
        }

    # -- the Exec objects (called by the controllers on Pod events) -----------------------------

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        if obj.get("kind") != "Pod" or event == "DELETED":
            return
        meta = obj["metadata"]
        if meta["uid"] in self._made or meta.get("deletionTimestamp"):
            return
        try:
            self.store.raw(
                "POST",
                EXEC_PATH.format(ns=meta["namespace"]),
                exec_object(obj, self.url, self.shim_dir),
            )
        except StoreError as err:
            if err.code != 409:
                log.warning(
                    "meshexec: no Exec for pod %s/%s: %s", meta["namespace"], meta["name"], err
                )
                return
        self._made.add(meta["uid"])
