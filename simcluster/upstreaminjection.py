"""Upstream Istio's sidecar injector (the Helm flavour) as a real webhook of ours.

The ``istiod`` chart's ``MutatingWebhookConfiguration``s (the injector, and the revision tags'
``istio-revision-tag-*``) call the istiod Service at ``/inject``. On a real control plane nothing
of ours listens there, so the API server's call fails and, with ``failurePolicy: Fail``, no
workload gets a pod. Here each such webhook is pointed, on its way to the API server
(``ApiStore``'s ``rewrite``), at this HTTPS endpoint, ``/upstream/<namespace>/<service>/<policy>``,
which injects as simcluster's in-store injector does for an upstream istiod
(``controllers.injection``: the settings from the istiod's injector ConfigMap; an earlier
injection stripped first, so the last injector called wins). Which webhook is called, in which
order, for which namespace and object selectors, is the real API server's decision.

What the chart wrote (each webhook's ``clientConfig`` and ``admissionReviewVersions``) is kept in
annotations and shown back to every reader by ``view``, so the GitOps sync sees no drift and the
verifier reads the chart's configuration. An istiod whose Service has no ready endpoint cannot
answer: the call fails, refused under ``Fail`` and let through unchanged under ``Ignore``, as the
API server does with an unreachable webhook.

Not here: the validators (``istiod-default-validator``, ``istio-validator-*``) still name the
istiod Service; the chart installs them with ``failurePolicy: Ignore``, which the API server
applies to the failed call. istiod's own writes (caBundle, the validators' ``Fail``) are not
modelled on the real control plane.
"""

from __future__ import annotations

import base64
import copy
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from simcluster.apistore import ApiStore
from simcluster.controllers.injection import _upstream_config, inject, strip, webhook_ready

__all__ = ["ORIGINAL", "UpstreamInjection"]

Obj = dict[str, Any]
ORIGINAL = "simcluster.istio-canary.dev/chart-webhooks"  # what the chart wrote, per webhook
OPT_OUT = ("false", "no", "n", "0", "off")


def _istiod_service(hook: Obj) -> Obj | None:
    service = (hook.get("clientConfig") or {}).get("service") or {}
    return service if str(service.get("name", "")).startswith("istiod") else None


class UpstreamInjection:
    """The endpoint, and the ``rewrite``/``view`` of the chart's injector configurations."""

    def __init__(self, store: ApiStore, cert: Path, key: Path, ca: bytes) -> None:
        self.store, self.cert, self.key, self.ca = store, cert, key, ca
        self.url = ""
        self.calls: list[str] = []  # request paths, for tests
        self._server: ThreadingHTTPServer | None = None

    # -- the configurations ------------------------------------------------------------------

    def rewrite(self, obj: Obj) -> Obj:
        """Point each istiod-calling webhook of an upstream injector configuration at us."""
        if obj.get("kind") != "MutatingWebhookConfiguration" or not self.url:
            return obj
        owners = (obj.get("metadata") or {}).get("ownerReferences") or []
        hooks = obj.get("webhooks") or []
        if any(r.get("kind") == "Istio" for r in owners) or not any(map(_istiod_service, hooks)):
            return obj  # Banzai's operator-made injector, or not an injector
        kept = [{k: h.get(k) for k in ("clientConfig", "admissionReviewVersions")} for h in hooks]
        out = copy.deepcopy(obj)
        for hook in out["webhooks"]:
            service = _istiod_service(hook)
            if service is None:
                continue
            policy = "fail" if hook.get("failurePolicy", "Fail") == "Fail" else "ignore"
            where = f"{service.get('namespace', 'istio-system')}/{service['name']}"
            hook["clientConfig"] = {
                "url": f"{self.url}/upstream/{where}/{policy}",
                "caBundle": base64.b64encode(self.ca).decode(),
            }
            hook["admissionReviewVersions"] = ["v1"]
        meta = out.setdefault("metadata", {})
        meta["annotations"] = {**(meta.get("annotations") or {}), ORIGINAL: json.dumps(kept)}
        return out

    @staticmethod
    def view(obj: Obj) -> Obj:
        """The configuration as the chart wrote it, for every reader."""
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if obj.get("kind") != "MutatingWebhookConfiguration" or ORIGINAL not in annotations:
            return obj
        for hook, kept in zip(
            obj.get("webhooks") or [], json.loads(annotations[ORIGINAL]), strict=False
        ):
            for key, value in kept.items():
                if value is None:
                    hook.pop(key, None)
                else:
                    hook[key] = value
        rest = {k: v for k, v in annotations.items() if k != ORIGINAL}
        if rest:
            obj["metadata"]["annotations"] = rest
        else:
            obj["metadata"].pop("annotations", None)
        return obj

    # -- the webhook ---------------------------------------------------------------------------

    def review(self, path: str, review: Obj) -> Obj:
        request = review.get("request") or {}
        response: Obj = {"uid": request.get("uid", ""), "allowed": True}
        answer = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "upstream":
            response.update(allowed=False, status={"code": 404, "message": f"no injector {path}"})
            return {**answer, "response": response}
        _, namespace, name, policy = parts
        service = self.store.get("Service", namespace, name)
        cfg = _upstream_config(self.store, service) if service is not None else None
        if cfg is None or not webhook_ready(self.store, namespace, name):
            if policy == "fail":  # what the API server says when it cannot reach the injector
                message = f'failed to call webhook: service "{name}" has no ready istiod'
                response.update(allowed=False, status={"code": 500, "message": message})
            return {**answer, "response": response}
        pod = copy.deepcopy(request.get("object") or {})
        meta = pod.setdefault("metadata", {})
        meta.setdefault("namespace", request.get("namespace", "default"))
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        opt = labels.get("sidecar.istio.io/inject", annotations.get("sidecar.istio.io/inject", ""))
        if str(opt).lower() in OPT_OUT or (pod.get("spec") or {}).get("hostNetwork"):
            return {**answer, "response": response}
        strip(pod)
        inject(pod, cfg)
        patch = [
            {"op": "add", "path": "/metadata/labels", "value": meta.get("labels") or {}},
            {"op": "add", "path": "/metadata/annotations", "value": meta.get("annotations") or {}},
            {"op": "add", "path": "/spec", "value": pod["spec"]},
        ]
        response.update(
            patchType="JSONPatch", patch=base64.b64encode(json.dumps(patch).encode()).decode()
        )
        return {**answer, "response": response}

    def start(self) -> UpstreamInjection:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                hook.calls.append(self.path)
                review = json.loads(self.rfile.read(length) or b"{}")
                data = json.dumps(hook.review(self.path, review)).encode()
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
        threading.Thread(
            target=server.serve_forever, name="upstream-injection", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
