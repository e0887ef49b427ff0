"""curl's command line and output, emulated: what an exec'd ``curl`` prints and exits with.

Pure: ``parse_args`` turns argv into a ``CurlRequest`` (or a ``CurlExit`` usage error, exit 2 like
curl), the mesh decides an ``Outcome`` (an HTTP ``Response`` or a ``Failure`` with curl's exit
code), and ``render`` produces stdout, stderr and the exit code the way curl 7.x does, including
``-w`` variables, ``-s``/``-S``, ``-f``, ``-i``, ``-I``, ``-v`` and the progress meter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "CURL_VERSION",
    "CurlExit",
    "CurlRequest",
    "Failure",
    "Outcome",
    "Response",
    "Target",
    "parse_args",
    "parse_url",
    "render",
]

CURL_VERSION = "7.68.0"
_TRY_HELP = "curl: try 'curl --help' or 'curl --manual' for more information\n"

# Flags without a value, and flags taking one; curl accepts no `--flag=value` spelling.
_SHORT_BOOL = {
    "s": "silent",
    "S": "show_error",
    "L": "follow",
    "f": "fail",
    "i": "include",
    "I": "head",
    "v": "verbose",
    "k": "insecure",
    "4": None,
    "6": None,
    "N": None,
    "#": None,
}
_SHORT_ARG = {
    "o": "output",
    "w": "write_out",
    "H": "header",
    "m": "max_time",
    "X": "method",
    "d": "data",
    "A": "user_agent",
    "e": None,
    "u": None,
    "x": None,
    "D": None,
}
_LONG_BOOL = {
    "--silent": "silent",
    "--show-error": "show_error",
    "--location": "follow",
    "--fail": "fail",
    "--fail-with-body": "fail_with_body",
    "--include": "include",
    "--head": "head",
    "--verbose": "verbose",
    "--insecure": "insecure",
    "--http1.1": None,
    "--http2": None,
    "--no-buffer": None,
    "--compressed": None,
    "--retry-connrefused": None,
    "--ipv4": None,
    "--ipv6": None,
}
_LONG_ARG = {
    "--output": "output",
    "--write-out": "write_out",
    "--header": "header",
    "--max-time": "max_time",
    "--connect-timeout": "connect_timeout",
    "--request": "method",
    "--data": "data",
    "--data-raw": "data",
    "--data-binary": "data",
    "--user-agent": "user_agent",
    "--url": "url",
    "--retry": None,
    "--retry-delay": None,
    "--retry-max-time": None,
    "--resolve": None,
    "--cacert": None,
    "--cert": None,
    "--key": None,
    "--user": None,
    "--proxy": None,
    "--referer": None,
    "--dump-header": None,
}
_NUMERIC = {"max_time", "connect_timeout"}


class CurlExit(Exception):
    """curl gave up before sending anything (usage error); ``message`` goes to stderr."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


@dataclass(frozen=True)
class Target:
    """Where one URL points: curl defaults the scheme to http when it is missing."""

    scheme: str
    host: str
    port: int
    path: str  # path plus ?query, always starting with "/"
    query: str
    url: str  # the effective URL curl reports in %{url_effective}


@dataclass
class CurlRequest:
    """What the command line asks for; only the options the mesh acts on are kept."""

    urls: list[str] = field(default_factory=list)
    method: str | None = None
    headers: list[str] = field(default_factory=list)
    output: str | None = None
    write_out: str | None = None
    silent: bool = False
    show_error: bool = False
    follow: bool = False
    fail: bool = False
    fail_with_body: bool = False
    include: bool = False
    head: bool = False
    verbose: bool = False
    insecure: bool = False
    max_time: float | None = None
    connect_timeout: float | None = None
    data: str | None = None
    user_agent: str = f"curl/{CURL_VERSION}"

    @property
    def effective_method(self) -> str:
        if self.method:
            return self.method
        if self.head:
            return "HEAD"
        return "POST" if self.data is not None else "GET"

    def request_headers(self, target: Target) -> list[tuple[str, str]]:
        """Headers on the wire, in curl's order, after ``-H`` overrides and removals."""
        host = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
        base: list[tuple[str, str]] = [
            ("Host", host),
            ("User-Agent", self.user_agent),
            ("Accept", "*/*"),
        ]
        if self.data is not None:
            base += [
                ("Content-Length", str(len(self.data.encode()))),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ]
        for raw in self.headers:
            if ":" in raw:
                name, _, value = raw.partition(":")
                value = value.strip()
                base = [(n, v) for n, v in base if n.lower() != name.strip().lower()]
                if value:
                    base.append((name.strip(), value))
            elif raw.endswith(";"):
                base.append((raw[:-1].strip(), ""))
        return base


def _set(req: CurlRequest, attr: str | None, value: str | bool, flag: str) -> None:
    if attr is None:
        return
    if attr == "header":
        req.headers.append(str(value))
    elif attr == "url":
        req.urls.append(str(value))
    elif attr in _NUMERIC:
        try:
            setattr(req, attr, float(str(value)))
        except ValueError:
            raise CurlExit(
                2, f"curl: option {flag}: expected a proper numerical parameter\n" + _TRY_HELP
            ) from None
    else:
        setattr(req, attr, value)


def parse_args(args: list[str]) -> CurlRequest:
    """Parse curl's arguments (argv without the program name) like curl 7.x does."""
    req = CurlRequest()
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg.startswith("--") and len(arg) > 2:
            if arg in _LONG_BOOL:
                _set(req, _LONG_BOOL[arg], True, arg)
            elif arg in _LONG_ARG:
                if i >= len(args):
                    raise CurlExit(2, f"curl: option {arg}: requires parameter\n" + _TRY_HELP)
                _set(req, _LONG_ARG[arg], args[i], arg)
                i += 1
            else:
                raise CurlExit(2, f"curl: option {arg}: is unknown\n" + _TRY_HELP)
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                letter = arg[j]
                if letter in _SHORT_BOOL:
                    _set(req, _SHORT_BOOL[letter], True, f"-{letter}")
                    j += 1
                elif letter in _SHORT_ARG:
                    rest = arg[j + 1 :]
                    if rest:
                        value = rest
                    elif i < len(args):
                        value = args[i]
                        i += 1
                    else:
                        raise CurlExit(
                            2, f"curl: option -{letter}: requires parameter\n" + _TRY_HELP
                        )
                    _set(req, _SHORT_ARG[letter], value, f"-{letter}")
                    break
                else:
                    raise CurlExit(2, f"curl: option {arg}: is unknown\n" + _TRY_HELP)
        else:
            req.urls.append(arg)
    if not req.urls:
        raise CurlExit(2, "curl: no URL specified!\n" + _TRY_HELP)
    return req


def parse_url(url: str) -> Target:
    """Split a URL the way curl reads it; no scheme means http, no path means "/"."""
    raw = url if "://" in url else f"http://{url}"
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise CurlExit(1, f'curl: (1) Protocol "{scheme}" not supported or disabled in libcurl\n')
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise CurlExit(3, "curl: (3) URL using bad/illegal format or missing URL\n") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise CurlExit(3, "curl: (3) URL using bad/illegal format or missing URL\n")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return Target(scheme, host, port, path, parts.query, f"{scheme}://{netloc}{path}")


@dataclass(frozen=True)
class Response:
    """An HTTP answer as the caller's curl receives it."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    remote_ip: str = ""
    remote_port: int = 0


@dataclass(frozen=True)
class Failure:
    """A transport failure: curl's exit code and its error text (after ``curl: (N) ``)."""

    exit_code: int
    message: str
    remote_ip: str = ""
    remote_port: int = 0


Outcome = Response | Failure

_WRITE_OUT_VAR = re.compile(r"%\{([a-z_]+)\}|%%|\\[ntr\\]")


def _write_out(fmt: str, target: Target, req: CurlRequest, outcome: Outcome, code: int) -> str:
    """Expand ``-w``: %{var}, %% and the backslash escapes curl knows."""
    resp = outcome if isinstance(outcome, Response) else None
    content_type = ""
    if resp:
        content_type = next((v for n, v in resp.headers if n.lower() == "content-type"), "")
    values = {
        "http_code": f"{resp.status:03d}" if resp else "000",
        "response_code": f"{resp.status:03d}" if resp else "000",
        "exitcode": str(code),
        "url_effective": target.url,
        "time_total": "0.004000",
        "time_connect": "0.001000",
        "time_starttransfer": "0.003000",
        "remote_ip": outcome.remote_ip,
        "remote_port": str(outcome.remote_port or ""),
        "content_type": content_type,
        "size_download": str(len(resp.body)) if resp else "0",
        "errormsg": outcome.message if isinstance(outcome, Failure) else "",
        "scheme": target.scheme.upper(),
        "method": req.effective_method,
        "num_redirects": "0",
    }
    escapes = {"\\n": "\n", "\\t": "\t", "\\r": "\r", "\\\\": "\\", "%%": "%"}

    def expand(m: re.Match[str]) -> str:
        token = m.group(0)
        if token in escapes:
            return escapes[token]
        return values.get(m.group(1), "")

    return _WRITE_OUT_VAR.sub(expand, fmt)


def _status_line(resp: Response) -> str:
    return f"HTTP/1.1 {resp.status} {resp.reason}"


def _progress(size: int) -> str:
    """The meter curl writes to stderr when not silent and stdout is not a terminal."""
    head = (
        "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
        "                                 Dload  Upload   Total   Spent    Left  Speed\n"
    )
    zero = "\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0"
    if size <= 0:
        return head + zero + "\n"
    pct = 100
    return (
        head
        + zero
        + f"\r{pct:3d} {size:5d}  {pct:3d} {size:5d}    0     0   200k      0 --:--:-- --:--:-- --:--:--  200k\n"
    )


def render(
    req: CurlRequest, target: Target, outcome: Outcome, remote_desc: str = ""
) -> tuple[bytes, bytes, int]:
    """stdout, stderr and exit code of one transfer, as curl 7.x prints them."""
    out: list[str] = []
    err: list[str] = []
    body_out = ""
    show_errors = not req.silent or req.show_error
    resolved = not (isinstance(outcome, Failure) and outcome.exit_code == 6)
    if req.verbose and resolved:
        ip = outcome.remote_ip or "10.96.0.1"
        port = outcome.remote_port or target.port
        err.append(f"*   Trying {ip}:{port}...\n")
    if isinstance(outcome, Failure):
        code = outcome.exit_code
        if not req.silent and not req.verbose:
            err.append(_progress(0))
        if req.verbose:
            err.append(f"* {outcome.message}\n* Closing connection 0\n")
        if show_errors:
            err.append(f"curl: ({code}) {outcome.message}\n")
    else:
        resp = outcome
        code = 0
        if req.verbose:
            ip = outcome.remote_ip or "10.96.0.1"
            err.append(f"* Connected to {target.host} ({ip}) port {target.port} (#0)\n")
            err.append(f"> {req.effective_method} {target.path} HTTP/1.1\r\n")
            err.extend(f"> {n}: {v}\r\n" for n, v in req.request_headers(target))
            err.append(">\r\n")
            err.append(f"< {_status_line(resp)}\r\n")
            err.extend(f"< {n}: {v}\r\n" for n, v in resp.headers)
            err.append("<\r\n")
        failed = (req.fail or req.fail_with_body) and resp.status >= 400
        head_text = ""
        if req.include or req.head:
            head_text = (
                _status_line(resp)
                + "\r\n"
                + "".join(f"{n}: {v}\r\n" for n, v in resp.headers)
                + "\r\n"
            )
        body = "" if req.effective_method == "HEAD" or req.head else resp.body.decode()
        body_out = "" if failed and not req.fail_with_body else head_text + body
        if not req.silent and not req.verbose:
            err.append(_progress(len(body)))
        if failed:
            code = 22
            if show_errors:
                err.append(f"curl: (22) The requested URL returned error: {resp.status}\n")
        if req.verbose:
            err.append(f"* Connection #0 to host {target.host} left intact\n")
    if req.output in (None, "-", "/dev/stdout", "/proc/self/fd/1"):
        out.append(body_out)
    elif req.output in ("/dev/stderr", "/proc/self/fd/2"):
        err.append(body_out)
    if req.write_out is not None:
        out.append(_write_out(req.write_out, target, req, outcome, code))
    return "".join(out).encode(), "".join(err).encode(), code
