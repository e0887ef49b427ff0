"""Reading what an exec'd `curl` printed: the HTTP code and, for echo servers, the request headers.

Pure text parsing. The body formats are those of the two echoserver generations in use: the 1.10
`Request Headers:` block (tab-indented, HTML-escaped values) and the older `HEADERS RECEIVED:`
block. mTLS evidence is the `x-forwarded-client-cert` header the server-side sidecar adds only for
mTLS-terminated requests; it must name the caller's SPIFFE identity.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = ["CurlOutput", "caller_uris", "hostname", "parse_curl", "parse_headers", "spiffe_id"]

_CODE = re.compile(r"(?:\\n|\n)?(\d{3})\s*$")
_HEADER_STARTS = ("request headers:", "headers received:")
_HEADER_ENDS = ("request body:", "body:")


@dataclass(frozen=True)
class CurlOutput:
    """stdout of `curl -sS -w '\\n%{http_code}' URL` split into body and code ("" if missing)."""

    body: str
    http_code: str


def parse_curl(stdout: str) -> CurlOutput:
    m = _CODE.search(stdout)
    if not m:
        return CurlOutput(stdout, "")
    return CurlOutput(stdout[: m.start()], m.group(1))


def parse_headers(body: str) -> dict[str, str] | None:
    """Request headers an echo server reported, lower-cased names; None when it echoes none."""
    lines = body.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip().lower() in _HEADER_STARTS), None)
    if start is None:
        return None
    headers: dict[str, str] = {}
    for line in lines[start + 1 :]:
        text = line.strip()
        if not text or text.lower() in _HEADER_ENDS:
            break
        if "=" not in text:
            continue
        name, value = text.split("=", 1)
        headers[name.strip().lower()] = html.unescape(value.strip())
    return headers


def hostname(body: str) -> str:
    """The `Hostname: <pod>` line an echoserver prints: which endpoint answered ("" if none)."""
    for line in body.splitlines()[:8]:
        if line.lower().startswith("hostname:"):
            return line.split(":", 1)[1].strip()
    return ""


def caller_uris(xfcc: str) -> list[str]:
    """The `URI=` values of every element of an XFCC header (elements are comma-separated)."""
    uris: list[str] = []
    for element in _split_unquoted(xfcc, ","):
        for pair in _split_unquoted(element, ";"):
            key, _, value = pair.partition("=")
            if key.strip().lower() == "uri":
                uris.append(value.strip().strip('"'))
    return uris


def spiffe_id(namespace: str, service_account: str, trust_domain: str = "") -> re.Pattern[str]:
    """Pattern of the caller's SPIFFE id; any trust domain unless one is given."""
    td = re.escape(trust_domain) if trust_domain else r"[^/]+"
    return re.compile(rf"^spiffe://{td}/ns/{re.escape(namespace)}/sa/{re.escape(service_account)}$")


def _split_unquoted(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]
