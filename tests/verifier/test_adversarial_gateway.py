"""Issue 12 item 7: split trust is caught at the gateways stage, by a probe through the gateway.

Under `split-trust` the canary control plane gets its own root CA. After the gateways stage the
ingress gateway is on it while every app is still on the old root: each side looks healthy and
the sidecar-to-sidecar probes pass, but every request through the gateway fails TLS on the
gateway's hop to the app. `stage 2` and the next gate must say so, naming that hop; the same
flow without the fault passes, with the gateway's identity as the mTLS evidence. Real git,
simcluster over HTTP, the real generator, verifier CLI and kubectl; the Gateway and
VirtualService are applied with kubectl (the example repo has none).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV
from tests.verifier.simseed import Seed, seed_cluster

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

FAST = 4.0  # seconds a gate may poll a state that must not pass
GATEWAY_SPIFFE = "/ns/istio-system/sa/istio-ingressgateway-service-account"
ROUTES = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: demo
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.demo.example"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app-b
  namespace: demo-b
spec:
  hosts: [app-b.demo.example]
  gateways: [istio-system/demo]
  http:
  - route:
    - destination: {host: app-b, port: {number: 80}}
"""


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.fspath(tmp_path / ".gitconfig"))
    monkeypatch.setenv("KUBECACHEDIR", os.fspath(tmp_path / "kubecache"))
    return tmp_path


def add_routes(seed: Seed, tmp: Path) -> None:
    routes = tmp / "routes.yaml"
    routes.write_text(ROUTES)
    seed.kubectl("apply", "-f", os.fspath(routes))


@contextmanager
def gateways_moved(tmp: Path, faults: tuple[str, ...]) -> Iterator[Seed]:
    """The seed with stages 1 (control plane) and 2 (gateways) gated, merged and applied."""
    with seed_cluster(tmp, faults) as seed:
        seed.promote()
        seed.promote()
        yield seed


def test_split_trust_fails_the_gateways_stage_naming_the_gateway_hop(env: Path) -> None:
    with gateways_moved(env, ("split-trust",)) as seed:
        add_routes(seed, env)
        bad = seed.verify("stage", "2", timeout=FAST)
        assert bad.exit_code == 1, bad.output
        msg = bad.message("gateway-routes")
        assert (
            "gateway istio-system/istio-ingressgateway (Host app-b.demo.example, VirtualService "
            "demo-b/app-b) -> app-b.demo-b: HTTP 503, expected 200: upstream connect error"
        ) in msg, msg
        assert "TLS error" in msg and "CERTIFICATE_VERIFY_FAILED" in msg
        # the sidecar-to-sidecar probes alone would have passed this stage
        assert bad.check("connectivity")["status"] == "passed"
        # the gate of the first namespace wave checks the gateways stage: it stops there too
        seed.open_pr()
        gate = seed.verify("gate", timeout=FAST)
        assert gate.exit_code == 1, gate.output
        assert "CERTIFICATE_VERIFY_FAILED" in gate.message("gateway-routes")


def test_control_without_the_fault_the_gateway_hop_passes_over_mtls(env: Path) -> None:
    with gateways_moved(env, ()) as seed:
        # no VirtualService bound to the gateway: said, as a note, not claimed as a probe
        unprobed = seed.verify("stage", "2")
        assert unprobed.exit_code == 0, unprobed.output
        assert unprobed.message("gateway-routes").startswith("not probed: no VirtualService")
        assert any(n.startswith("gateway routes not probed") for n in unprobed.data["notes"])
        add_routes(seed, env)
        good = seed.verify("stage", "2")
        assert good.exit_code == 0, good.output
        (probe,) = good.check("gateway-routes")["evidence"]
        assert probe["httpCode"] == "200" and probe["mtls"] is True
        assert probe["xfcc"].endswith(GATEWAY_SPIFFE), probe["xfcc"]
        assert probe["url"] == "http://istio-ingressgateway.istio-system.svc.cluster.local:80/"
        assert probe["answeredBy"] and all(p.startswith("app-b-") for p in probe["answeredBy"])
