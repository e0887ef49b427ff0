"""The ``stuck-rollout`` fault on a real control plane: new pods run but never get Ready.

In its own store simcluster's kubelet holds back the pods created while the fault is on. On a
real control plane kwok plays the pods' lifecycle, so the fault is split where a real cluster
would have it:

- an admission webhook of ours (a ``MutatingWebhookConfiguration`` for every pod create, with
  ``failurePolicy: Ignore`` so that it can never block a pod) annotates each pod created while the
  fault is on with simcluster's never-ready annotation (value ``stuck-rollout``): the API server
  calls it, so "created while on" is decided at admission, as in the kubelet model;
- kwok holds pods with that annotation Running but not Ready (``realcluster.kwokstages``, the
  control plane started with ``held_annotation=NEVER_READY``), as a kubelet whose readiness probe
  never passes;
- when the fault is switched off, ``release`` removes the annotation from the pods it marked, and
  kwok makes them Ready: the probe passes now. A pod annotated never-ready by someone else (any
  other value) stays held, as on simcluster.

The configuration stays registered while the server runs and the webhook answers by the current
switch, so a switch takes effect on the next pod without waiting for the API server to notice a
new configuration; ``start`` waits (a dry-run pod create) until the API server calls it.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from simcluster.apierrors import StoreError
from simcluster.apistore import ApiStore
from simcluster.controllers.kubelet import NEVER_READY
from simcluster.faults import Faults

__all__ = ["CONFIG_NAME", "STUCK", "StuckRollout"]

Obj = dict[str, Any]
CONFIG_NAME = "simcluster-faults"
STUCK = "stuck-rollout"  # the never-ready annotation's value on the pods this fault holds
PROBE = "simcluster.istio-canary.dev/fault-webhook-probe"  # a dry-run pod asking "are you called?"


class StuckRollout:
    """The webhook, its configuration on the API server, and the release when switched off."""

    def __init__(self, store: ApiStore, faults: Faults, cert: Path, key: Path, ca: bytes) -> None:
        self.store, self.faults = store, faults
        self.cert, self.key, self.ca = cert, key, ca
        self.url = ""
        self.held: list[str] = []  # namespace/name of each pod the webhook marked, for tests
        self._server: ThreadingHTTPServer | None = None

    # -- the webhook ------------------------------------------------------------------------------

    def review(self, review: Obj) -> Obj:
        """Allow every pod; while the fault is on, mark it never-ready (JSON patch)."""
        request = review.get("request") or {}
        response: Obj = {"uid": request.get("uid", ""), "allowed": True}
        pod = request.get("object") or {}
        meta = pod.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        if PROBE in annotations:
            value = {**annotations, PROBE: "called"}
        elif self.faults.enabled(STUCK) and NEVER_READY not in annotations:
            value = {**annotations, NEVER_READY: STUCK}
            name = meta.get("name") or f"{meta.get('generateName', '')}*"
            self.held.append(f"{request.get('namespace', '')}/{name}")
        else:
            return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "response": response}  # fmt: skip
        patch = [{"op": "add", "path": "/metadata/annotations", "value": value}]
        response.update(
            patchType="JSONPatch", patch=base64.b64encode(json.dumps(patch).encode()).decode()
        )
        return {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": response,
        }

    def configuration(self) -> Obj:
        return {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": CONFIG_NAME},
            "webhooks": [
                {
                    "name": "stuck-rollout.simcluster.istio-canary.dev",
                    "clientConfig": {
                        "url": f"{self.url}/stuck-rollout",
                        "caBundle": base64.b64encode(self.ca).decode(),
                    },
                    "rules": [
                        {
                            "operations": ["CREATE"],
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "resources": ["pods"],
                            "scope": "Namespaced",
                        }
                    ],
                    "failurePolicy": "Ignore",  # a fault injector must never refuse a pod
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": 5,
                }
            ],
        }

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> StuckRollout:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.dumps(hook.review(json.loads(self.rfile.read(length) or b"{}")))
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, name="stuckrollout", daemon=True).start()
        self._register()
        self._wait_called(timeout)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _register(self) -> None:
        config = self.configuration()
        try:
            self.store.create(config)
        except StoreError as err:
            if err.code != 409:
                raise
            current = self.store.get("MutatingWebhookConfiguration", None, CONFIG_NAME) or {}
            config["metadata"]["resourceVersion"] = (current.get("metadata") or {}).get(
                "resourceVersion"
            )
            self.store.update(config)

    def _wait_called(self, timeout: float) -> None:
        """The API server learns of a new configuration through an informer: until a dry-run
        pod comes back marked by us, a pod could be admitted without the fault's say."""
        probe = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"generateName": "fault-probe-", "annotations": {PROBE: "asked"}},
            "spec": {"containers": [{"name": "probe", "image": "probe"}]},
        }
        deadline = time.monotonic() + timeout
        while True:
            made = self.store.raw("POST", "/api/v1/namespaces/default/pods?dryRun=All", probe)
            if ((made.get("metadata") or {}).get("annotations") or {}).get(PROBE) == "called":
                return
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"the API server did not call the stuck-rollout webhook in {timeout}s"
                )
            time.sleep(0.1)

    # -- switched off ---------------------------------------------------------------------------

    def release(self) -> None:
        """The pods this fault held get Ready: kwok plays its ready stage once the mark is gone."""
        for pod in self.store.list("Pod")[0]:
            meta = pod["metadata"]
            for _attempt in range(5):  # a pod written meanwhile (409): read it again
                annotations = meta.get("annotations") or {}
                if annotations.get(NEVER_READY) != STUCK or meta.get("deletionTimestamp"):
                    break
                meta["annotations"] = {k: v for k, v in annotations.items() if k != NEVER_READY}
                try:
                    self.store.update(pod)
                    break
                except StoreError as err:
                    if err.code != 409:
                        raise
                fresh = self.store.get("Pod", meta["namespace"], meta["name"])
                if fresh is None:
                    break
                pod, meta = fresh, fresh["metadata"]
