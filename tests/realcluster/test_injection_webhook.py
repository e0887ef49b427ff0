"""Sidecar injection through a real MutatingWebhookConfiguration and our HTTPS webhook.

The seed's two control planes (global 1.6 `istio-sample`, revisioned 1.7 `istio-sample-v17x`)
each get the injector webhook configuration the Banzai operator writes; the API server decides
which one a pod's namespace calls. Pods come from Deployments (the real ReplicaSet controller
creates them) and kwok runs them, so an injected pod is 2/2 Running like on a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from realcluster import ControlPlane
from realcluster.crds import CRDS
from simcluster.webhook import InjectionWebhook, webhook_configuration
from tests.realcluster.conftest import kubectl

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

GLOBAL = {
    "apiVersion": "istio.banzaicloud.io/v1beta1",
    "kind": "Istio",
    "metadata": {"name": "istio-sample", "namespace": "istio-system"},
    "spec": {"version": "1.6.14"},
}
CANARY = {
    "apiVersion": "istio.banzaicloud.io/v1beta1",
    "kind": "Istio",
    "metadata": {"name": "istio-sample-v17x", "namespace": "istio-system"},
    "spec": {"version": "1.7.7", "global": False},
}
NAMESPACES = {
    "by-label": {"istio-injection": "enabled"},
    "by-rev": {"istio.io/rev": "istio-sample-v17x.istio-system"},
    "both": {"istio-injection": "enabled", "istio.io/rev": "istio-sample-v17x.istio-system"},
    "global-rev": {"istio.io/rev": "istio-sample.istio-system"},
    "plain": {},
}


def _deployment(ns: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    labels = {"app": "app"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations or {}},
                "spec": {"containers": [{"name": "app", "image": "echoserver:1.10"}]},
            },
        },
    }


ISTIO = "/apis/istio.banzaicloud.io/v1beta1/namespaces/{ns}/istios/{name}"


def _webhook(cp: ControlPlane) -> InjectionWebhook:
    """Served with the API server's certificate (127.0.0.1, signed by the cluster CA, which the
    configurations' caBundle names); reads Istio CRs with the admin identity."""

    def read_cr(ns: str, name: str) -> dict[str, Any] | None:
        status, body = cp.request("GET", ISTIO.format(ns=ns, name=name))
        return dict(body) if status == 200 else None

    return InjectionWebhook(cp.pki / "apiserver.crt", cp.pki / "apiserver.key", read_cr)


def _configure(cp: ControlPlane, hook: InjectionWebhook) -> None:
    """(Re)write both control planes' webhook configurations to point at the hook's URL."""
    ca = (cp.pki / "ca.crt").read_bytes()
    configs = [webhook_configuration(cr, hook.url, ca) for cr in (GLOBAL, CANARY)]
    kubectl(cp.kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all(configs))


@pytest.fixture(scope="module")
def cluster(control_plane: ControlPlane) -> Iterator[tuple[Path, InjectionWebhook]]:
    kc = control_plane.kubeconfig
    kubectl(kc, "apply", "-f", "-", stdin=yaml.safe_dump_all(CRDS))
    kubectl(kc, "wait", "--for=condition=Established", "crd", "--all")
    kubectl(kc, "create", "namespace", "istio-system")
    kubectl(kc, "apply", "-f", "-", stdin=yaml.safe_dump_all([GLOBAL, CANARY]))
    with _webhook(control_plane) as hook:
        _configure(control_plane, hook)
        docs: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": labels}}
            for n, labels in NAMESPACES.items()
        ]
        docs += [_deployment(n) for n in NAMESPACES]
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "opt-out", "labels": {"istio-injection": "enabled"}}})  # fmt: skip
        docs.append(_deployment("opt-out", {"sidecar.istio.io/inject": "false"}))
        kubectl(kc, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
        for ns in [*NAMESPACES, "opt-out"]:
            kubectl(kc, "rollout", "status", "-n", ns, "deploy/app", "--timeout=60s")
        yield kc, hook


def _pod(kc: Path, ns: str) -> dict[str, Any]:
    out = kubectl(kc, "get", "pods", "-n", ns, "-l", "app=app", "-o", "json").stdout
    (pod,) = json.loads(out)["items"]
    return dict(pod)


def _proxy(pod: dict[str, Any]) -> tuple[str | None, str | None]:
    """(proxy image, istio.io/rev label) of an injected pod; (None, None) when not injected."""
    images = {c["name"]: c["image"] for c in pod["spec"]["containers"]}
    return images.get("istio-proxy"), pod["metadata"].get("labels", {}).get("istio.io/rev")


@pytest.mark.parametrize(
    ("ns", "want"),
    [
        ("by-label", ("docker.io/istio/proxyv2:1.6.14", "istio-sample.istio-system")),
        ("by-rev", ("docker.io/istio/proxyv2:1.7.7", "istio-sample-v17x.istio-system")),
        ("both", ("docker.io/istio/proxyv2:1.6.14", "istio-sample.istio-system")),
        ("global-rev", ("docker.io/istio/proxyv2:1.6.14", "istio-sample.istio-system")),
        ("plain", (None, None)),
        ("opt-out", (None, None)),
    ],
)
def test_the_api_server_picks_the_injector_by_namespace_labels(
    cluster: tuple[Path, InjectionWebhook], ns: str, want: tuple[str | None, str | None]
) -> None:
    kc, _ = cluster
    pod = _pod(kc, ns)
    assert _proxy(pod) == want
    if want[0]:
        assert [c["name"] for c in pod["spec"].get("initContainers", [])] == ["istio-init"]
        assert "sidecar.istio.io/status" in pod["metadata"]["annotations"]
        # kwok runs both containers: the pod is 2/2 Ready like an injected pod on a cluster.
        statuses = pod["status"]["containerStatuses"]
        assert sorted(s["name"] for s in statuses if s["ready"]) == ["app", "istio-proxy"]


def test_failure_policy_fail_refuses_pods_when_the_injector_is_down(
    control_plane: ControlPlane, cluster: tuple[Path, InjectionWebhook]
) -> None:
    kc, hook = cluster
    hook.stop()
    try:
        refused = kubectl(kc, "run", "late", "-n", "by-rev", "--image=echoserver:1.10", check=False)
        assert refused.returncode != 0
        assert 'failed calling webhook "sidecar-injector.istio.io"' in refused.stderr
        # A namespace no selector matches never calls the webhook, so it is unaffected.
        kubectl(kc, "run", "late", "-n", "plain", "--image=echoserver:1.10")
    finally:
        hook.start()
        _configure(control_plane, hook)  # the URL's port changed with the restart
