"""simcluster's sidecar injection as a real admission webhook, for a real API server.

In its own store simcluster injects through a mutating hook (``controllers.injection``) and reads
the webhooks' selectors itself. Here the same injector template (``inject``) is served over HTTPS
as an AdmissionReview endpoint, and ``webhook_configuration`` writes the
``MutatingWebhookConfiguration`` the Banzai operator writes, pointing at it. On a real API server
(realcluster) the namespace selectors, the precedence between the global and the revisioned
control plane, failurePolicy and call order are then the API server's, not ours.

One URL per control plane, ``/inject/<cr-namespace>/<cr-name>``; the handler asks ``read_cr``
(the caller's API client) for that Istio CR's images and revision, as the in-store injector does.
"""

from __future__ import annotations

import base64
import copy
import json
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from simcluster.controllers.injection import (
    INJECT_ANNOTATION,
    STATUS_ANNOTATION,
    InjectionConfig,
    inject,
)

__all__ = ["InjectionWebhook", "webhook_configuration"]

Obj = dict[str, Any]
CrReader = Callable[[str, str], "Obj | None"]  # (namespace, name) -> the Istio CR, None if absent
OPT_OUT = ("false", "no", "n", "0", "off")


def webhook_configuration(cr: Obj, url: str, ca_bundle: bytes) -> Obj:
    """The injector MutatingWebhookConfiguration the Banzai operator writes for ``cr``.

    A global control plane answers ``istio-injection=enabled`` and, through its secondary
    webhook, its own ``istio.io/rev``; a revisioned one (``global: false``) only its
    ``istio.io/rev`` and only where ``istio-injection`` is absent, so the label wins.
    """
    meta = cr["metadata"]
    revision = f"{meta['name']}.{meta['namespace']}"
    by_rev: list[Obj] = [
        {"key": "istio-injection", "operator": "DoesNotExist"},
        {"key": "istio.io/rev", "operator": "In", "values": [revision]},
    ]
    selectors: list[tuple[str, list[Obj]]]
    if (cr.get("spec") or {}).get("global") is False:
        selectors = [("sidecar-injector.istio.io", by_rev)]
    else:
        enabled: list[Obj] = [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]
        selectors = [
            ("sidecar-injector.istio.io", enabled),
            ("secondary.sidecar-injector.istio.io", by_rev),
        ]
    hooks = [
        {
            "name": name,
            "admissionReviewVersions": ["v1"],
            "clientConfig": {
                "url": f"{url}/inject/{meta['namespace']}/{meta['name']}",
                "caBundle": base64.b64encode(ca_bundle).decode(),
            },
            "failurePolicy": "Fail",
            "matchPolicy": "Equivalent",
            "namespaceSelector": {"matchExpressions": selector},
            "objectSelector": {},
            "reinvocationPolicy": "Never",
            "rules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["pods"],
                    "scope": "*",
                }
            ],
            "sideEffects": "None",
            "timeoutSeconds": 10,
        }
        for name, selector in selectors
    ]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": f"istio-sidecar-injector-{meta['name']}-{meta['namespace']}",
            "labels": {"app": "istio-sidecar-injector", "istio.io/rev": revision},
        },
        "webhooks": hooks,
    }


class InjectionWebhook:
    """The HTTPS injector; ``start``/``stop`` or a context manager.

    ``cert``/``key``: a serving certificate for 127.0.0.1 that the API server trusts (its
    configuration's ``caBundle`` names the CA). ``read_cr``: how to read an Istio CR.
    """

    def __init__(self, cert: Path, key: Path, read_cr: CrReader) -> None:
        self.cert, self.key, self.read_cr = cert, key, read_cr
        self.url = ""
        self.calls: list[str] = []  # request paths, for tests: which webhook the API server called
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> InjectionWebhook:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                review = json.loads(self.rfile.read(length) or b"{}")
                hook.calls.append(self.path)
                body = json.dumps(hook.review(self.path, review)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the API server's errors say what failed; keep test output clean

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> InjectionWebhook:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def review(self, path: str, review: Obj) -> Obj:
        """Answer one AdmissionReview: a JSON patch with the sidecar, or a denial saying why."""
        request = review.get("request") or {}
        response: Obj = {"uid": request.get("uid", ""), "allowed": True}
        answer = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}
        pod = copy.deepcopy(request.get("object") or {})
        meta = pod.setdefault("metadata", {})
        meta.setdefault("namespace", request.get("namespace", "default"))
        annotations = meta.get("annotations") or {}
        skip = (
            str(annotations.get(INJECT_ANNOTATION, "")).lower() in OPT_OUT
            or STATUS_ANNOTATION in annotations
            or (pod.get("spec") or {}).get("hostNetwork")
        )
        if skip:
            return {**answer, "response": response}
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "inject":
            response.update(allowed=False, status={"code": 404, "message": f"no injector {path}"})
            return {**answer, "response": response}
        cr = self.read_cr(parts[1], parts[2])
        if cr is None:
            message = f"control plane {parts[1]}/{parts[2]} not found"
            response.update(allowed=False, status={"code": 500, "message": message})
            return {**answer, "response": response}
        inject(pod, InjectionConfig.from_cr(cr))
        patch = [
            {"op": "add", "path": "/metadata/labels", "value": meta.get("labels") or {}},
            {"op": "add", "path": "/metadata/annotations", "value": meta.get("annotations") or {}},
            {"op": "add", "path": "/spec", "value": pod["spec"]},
        ]
        response.update(
            patchType="JSONPatch", patch=base64.b64encode(json.dumps(patch).encode()).decode()
        )
        return {**answer, "response": response}
