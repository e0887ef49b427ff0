"""The body ``k8s.gcr.io/echoserver:1.10`` answers with (nginx + lua template), built from a request.

Kept byte-for-byte with the format the published 1.10 image prints: two empty lines, Hostname,
Pod Information, Server values, Request Information, sorted lower-case Request Headers with
HTML-escaped values, Request Body. Verifiers parse this, so the layout is the contract.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["RESPONSE_HEADERS", "body"]

RESPONSE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Server", "echoserver"),
    ("Content-Type", "text/plain"),
    ("Transfer-Encoding", "chunked"),
    ("Connection", "keep-alive"),
)

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}


def _escape(value: str) -> str:
    """The template's HTML escaping; "/" stays as is in the kubernetes copy."""
    return "".join(_ESCAPES.get(ch, ch) for ch in value)


def body(
    *,
    hostname: str,
    client_address: str,
    method: str,
    path: str,
    host_header: str,
    server_port: int,
    headers: Iterable[tuple[str, str]],
    request_body: str | None = None,
    pod_info: dict[str, str] | None = None,
) -> str:
    """Render the echo body; ``path`` includes any ``?query``, ``server_port`` is the container's."""
    real_path, _, query = path.partition("?")
    host_only = host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header
    lines = ["", "", f"Hostname: {hostname}", "", "Pod Information:"]
    if pod_info:
        lines += [f"\t{key}:\t{value}" for key, value in pod_info.items()]
    else:
        lines.append("\t-no pod information available-")
    lines += [
        "",
        "Server values:",
        "\tserver_version=nginx: 1.13.3 - lua: 10008",
        "",
        "Request Information:",
        f"\tclient_address={client_address}",
        f"\tmethod={method}",
        f"\treal path={real_path}",
        f"\tquery={query}",
        "\trequest_version=1.1",
        "\trequest_scheme=http",
        f"\trequest_uri=http://{host_only}:{server_port}{path}",
        "",
        "Request Headers:",
    ]
    lines += [
        f"\t{name}={_escape(value)}" for name, value in sorted((n.lower(), v) for n, v in headers)
    ]
    lines += ["", "Request Body:"]
    lines.append(f"\t{request_body}" if request_body else "\t-no body in request-")
    return "\n".join(lines) + "\n\n"
