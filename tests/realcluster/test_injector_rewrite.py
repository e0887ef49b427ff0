"""The injector configuration on its way to the real API server and back (no server needed).

The operator model writes its webhooks against the istiod Service and owned by the CR;
``RealServer`` sends them pointing at our webhook, unowned, and shows readers what was written.
"""

from __future__ import annotations

import base64
import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest

from realcluster import BinaryMissing, find_binary
from simcluster.realserver import CLIENT_CONFIG, Coordinates, RealServer

OWNER = {
    "apiVersion": "istio.banzaicloud.io/v1beta1", "kind": "Istio", "name": "istio-sample-v17x",
    "uid": "u-1", "controller": True, "blockOwnerDeletion": True,
}  # fmt: skip


def _hook(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "admissionReviewVersions": ["v1beta1", "v1"],
        "clientConfig": {
            "service": {"name": "istiod-istio-sample-v17x", "namespace": "istio-system",
                        "path": "/inject", "port": 443}
        },
        "failurePolicy": "Fail",
    }  # fmt: skip


WRITTEN = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "MutatingWebhookConfiguration",
    "metadata": {"name": "istio-sidecar-injector-v17x", "ownerReferences": [OWNER]},
    "webhooks": [_hook("sidecar-injector.istio.io")],
}


@pytest.fixture
def server(tmp_path: Path) -> RealServer:
    try:
        binary = find_binary()
    except BinaryMissing as err:
        pytest.skip(str(err))
    pki = tmp_path / "pki"
    subprocess.run([str(binary), "certs", "--dir", str(pki)], check=True, capture_output=True)
    where = Coordinates(
        "https://127.0.0.1:1", pki / "ca.crt", pki / "admin.crt", pki / "admin.key",
        pki / "apiserver.crt", pki / "apiserver.key", tmp_path / "kc",
    )  # fmt: skip
    real = RealServer(where)
    real.webhook.url = "https://127.0.0.1:8443"
    return real


def test_the_injector_is_sent_to_our_webhook_unowned(server: RealServer) -> None:
    sent = server._rewrite(copy.deepcopy(WRITTEN))
    (hook,) = sent["webhooks"]
    assert (
        hook["clientConfig"]["url"]
        == "https://127.0.0.1:8443/inject/istio-system/istio-sample-v17x"
    )
    assert "service" not in hook["clientConfig"]
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == server.where.ca.read_bytes()
    assert hook["admissionReviewVersions"] == ["v1"]
    assert "ownerReferences" not in sent["metadata"]
    assert CLIENT_CONFIG in sent["metadata"]["annotations"]


def test_readers_see_what_the_operator_wrote(server: RealServer) -> None:
    assert server._view(server._rewrite(copy.deepcopy(WRITTEN))) == WRITTEN


def test_other_kinds_pass_unchanged(server: RealServer) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}}
    assert server._rewrite(copy.deepcopy(svc)) == svc
    assert server._view(copy.deepcopy(svc)) == svc
