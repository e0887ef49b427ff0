"""curl's command line and output, and the echoserver body: the pure halves of the mesh."""

from __future__ import annotations

import pytest

from simcluster import curl, echoserver


def test_parse_seed_flags_combined_and_attached() -> None:
    req = curl.parse_args(["-Ls", "-o", "/dev/null", "-w", "%{http_code}", "app-b.demo-b"])
    assert (req.follow, req.silent, req.output, req.write_out) == (
        True,
        True,
        "/dev/null",
        "%{http_code}",
    )
    req = curl.parse_args(
        ["-sSo/dev/null", "-w%{http_code}", "--max-time", "5", "-H", "X-A: 1", "u"]
    )
    assert (req.silent, req.show_error, req.output, req.max_time) == (True, True, "/dev/null", 5.0)
    assert req.headers == ["X-A: 1"] and req.urls == ["u"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-time=5", "u"], "curl: option --max-time=5: is unknown"),
        (["-o"], "curl: option -o: requires parameter"),
        (["-s"], "curl: no URL specified!"),
        (["--connect-timeout", "x", "u"], "expected a proper numerical parameter"),
    ],
)
def test_usage_errors_exit_2_like_curl(args: list[str], message: str) -> None:
    with pytest.raises(curl.CurlExit) as err:
        curl.parse_args(args)
    assert err.value.exit_code == 2
    assert message in err.value.message and "curl --help" in err.value.message


def test_urls_with_and_without_scheme() -> None:
    t = curl.parse_url("app-b.demo-b.svc.cluster.local")
    assert (t.scheme, t.host, t.port, t.path, t.url) == (
        "http", "app-b.demo-b.svc.cluster.local", 80, "/", "http://app-b.demo-b.svc.cluster.local/"
    )  # fmt: skip
    t = curl.parse_url("http://app-a:8080/x?y=1")
    assert (t.host, t.port, t.path, t.query) == ("app-a", 8080, "/x?y=1", "y=1")
    with pytest.raises(curl.CurlExit) as err:
        curl.parse_url("ftp://x")
    assert err.value.exit_code == 1


def test_render_write_out_and_failures() -> None:
    req = curl.parse_args(["-sS", "-o", "/dev/null", "-w", "%{http_code}\\n%{exitcode}", "x"])
    target = curl.parse_url("x")
    ok = curl.Response(200, "OK", [("content-type", "text/plain")], b"body")
    assert curl.render(req, target, ok) == (b"200\n0", b"", 0)
    out, err, code = curl.render(req, target, curl.Failure(6, "Could not resolve host: x"))
    assert (out, err, code) == (b"000\n6", b"curl: (6) Could not resolve host: x\n", 6)
    silent = curl.parse_args(["-s", "-w", "%{http_code}", "x"])
    assert curl.render(silent, target, curl.Failure(7, "refused")) == (b"000", b"", 7)
    fail = curl.parse_args(["-sSf", "x"])
    out, err, code = curl.render(
        fail, target, curl.Response(503, "Service Unavailable", [], b"no healthy upstream")
    )
    assert (out, code) == (b"", 22) and b"returned error: 503" in err


def test_render_include_verbose_and_progress_meter() -> None:
    target = curl.parse_url("x")
    resp = curl.Response(200, "OK", [("server", "envoy")], b"hi", "10.96.0.7", 80)
    out, _, _ = curl.render(curl.parse_args(["-si", "x"]), target, resp)
    assert out == b"HTTP/1.1 200 OK\r\nserver: envoy\r\n\r\nhi"
    _, err, _ = curl.render(curl.parse_args(["-sv", "x"]), target, resp)
    assert b"> GET / HTTP/1.1" in err and b"< HTTP/1.1 200 OK" in err and b"10.96.0.7" in err
    _, err, _ = curl.render(curl.parse_args(["x"]), target, resp)
    assert err.startswith(b"  % Total    % Received")


def test_echoserver_body_layout_sorted_escaped_headers() -> None:
    body = echoserver.body(
        hostname="app-b-1",
        client_address="127.0.0.1",
        method="GET",
        path="/p?q=1",
        host_header="app-b.demo-b:80",
        server_port=8080,
        headers=[
            ("User-Agent", "curl/7.68.0"),
            ("Host", "app-b.demo-b:80"),
            ("X-Forwarded-Client-Cert", 'Subject="";x&y'),
        ],
    )
    lines = body.split("\n")
    assert lines[:3] == ["", "", "Hostname: app-b-1"]
    assert "\treal path=/p" in lines and "\tquery=q=1" in lines
    assert "\trequest_uri=http://app-b.demo-b:8080/p?q=1" in lines
    start = lines.index("Request Headers:")
    assert lines[start + 1 : start + 4] == [
        "\thost=app-b.demo-b:80",
        "\tuser-agent=curl/7.68.0",
        "\tx-forwarded-client-cert=Subject=&quot;&quot;;x&amp;y",
    ]
    assert body.endswith("Request Body:\n\t-no body in request-\n\n")


def test_output_to_stdout_keeps_the_body_before_write_out() -> None:
    """The verifier's probe: -o /dev/stdout -w '\\n%{http_code}'."""
    target = curl.parse_url("x")
    ok = curl.Response(200, "OK", [], b"body")
    for sink in ("/dev/stdout", "-"):
        req = curl.parse_args(["-sS", "-o", sink, "-w", "\\n%{http_code}", "--max-time", "5", "x"])
        assert curl.render(req, target, ok) == (b"body\n200", b"", 0)
    req = curl.parse_args(["-s", "-o", "/dev/stderr", "x"])
    assert curl.render(req, target, ok) == (b"", b"body", 0)
