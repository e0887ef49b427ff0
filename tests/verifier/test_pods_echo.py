"""Pure readers: pod facts (sidecar, version, revision, owner) and curl/echoserver output."""

from __future__ import annotations

import json

import pytest

from tests.verifier import builders as B
from verifier import echo
from verifier import pods as P


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("docker.io/istio/proxyv2:1.7.7", "1.7.7"),
        ("gcr.io/istio-release/proxyv2:1.24.1-distroless", "1.24.1"),
        ("registry:5000/istio/proxyv2:1.6.14@sha256:abc", "1.6.14"),
        ("registry:5000/istio/proxyv2", ""),
    ],
)
def test_image_version(image: str, version: str) -> None:
    assert P.image_version(image) == version


def test_revision_prefers_injection_status_then_annotation_then_label() -> None:
    pod = B.pod("demo-a", "app-a-x-1", B.OLD)
    assert P.revision(pod) == "istio-sample.istio-system"
    pod["metadata"]["annotations"]["istio.io/rev"] = "canary"
    assert P.revision(pod) == "canary"
    pod["metadata"]["annotations"]["sidecar.istio.io/status"] = json.dumps({"revision": "1-24"})
    assert P.revision(pod) == "1-24"


def test_owner_resolves_replicaset_to_deployment() -> None:
    pod = B.pod("demo-a", "app-a-7d9f-x", B.OLD, template="7d9f")
    assert P.owner(pod) == P.Owner("Deployment", "app-a", "7d9f")
    assert P.owner(B.pod("demo-a", "bare", B.OLD, owner_kind="")) == P.Owner("", "", "")


def test_selector_matching() -> None:
    lab = {"k8s-app": "app-a", "tier": "web"}
    assert P.match_selector("k8s-app=app-a", lab)
    assert P.match_selector("k8s-app==app-a,tier!=db,tier", lab)
    assert not P.match_selector("k8s-app=app-b", lab)
    assert not P.match_selector("!tier", lab)


OLD_FORMAT = (
    "CLIENT VALUES:\nclient_address=10.0.0.1\n\nHEADERS RECEIVED:\naccept=*/*\n"
    'x-forwarded-client-cert=By=spiffe://td/ns/demo-b/sa/default;Hash=1;Subject="";URI=spiffe://td/ns/demo-a/sa/default\n'
    "BODY:\n-no body in request-"
)


def test_both_echoserver_formats_yield_the_xfcc_header() -> None:
    for body in (
        OLD_FORMAT,
        "Request Headers:\n\tx-forwarded-client-cert=URI=spiffe://td/ns/demo-a/sa/default;Subject=&quot;&quot;\n",
    ):
        headers = echo.parse_headers(body)
        assert headers is not None
        assert echo.caller_uris(headers["x-forwarded-client-cert"]) == [
            "spiffe://td/ns/demo-a/sa/default"
        ]
    assert echo.parse_headers("plain text") is None


def test_xfcc_with_several_elements_and_quoted_separators() -> None:
    value = 'By=spiffe://a/ns/x/sa/y;URI=spiffe://a/ns/gw/sa/gw,By=spiffe://a/ns/b/sa/c;Subject="CN=x,O=y";URI=spiffe://a/ns/demo-a/sa/default'
    assert echo.caller_uris(value) == ["spiffe://a/ns/gw/sa/gw", "spiffe://a/ns/demo-a/sa/default"]
    assert echo.spiffe_id("demo-a", "default").match("spiffe://cluster.local/ns/demo-a/sa/default")
    assert not echo.spiffe_id("demo-a", "default").match(
        "spiffe://cluster.local/ns/demo-ab/sa/default"
    )


def test_curl_output_splits_body_and_code() -> None:
    assert echo.parse_curl("hello\nworld\n200") == echo.CurlOutput("hello\nworld", "200")
    assert echo.parse_curl("hello\\n503") == echo.CurlOutput("hello", "503")
    assert echo.parse_curl("") == echo.CurlOutput("", "")
