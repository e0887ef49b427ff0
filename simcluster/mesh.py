"""The simulated data plane behind ``kubectl exec ... -- curl``: DNS, Services, sidecars, mTLS.

``Mesh.exec_handler(pod, container, argv)`` is the exec hook the API server calls. It resolves
the URL's host like kube-dns (search path ``<ns>.svc.cluster.local svc.cluster.local
cluster.local``), picks a ready endpoint of the Service, and decides what a real Istio 1.6/1.7
mesh would answer, from the sidecars on both pods and their control planes:

- both sidecars, control planes share a root CA: mTLS, 200, and the echoserver sees
  ``x-forwarded-client-cert`` naming the caller's SPIFFE identity;
- roots differ (``split-trust``): 503 ``upstream connect error ... TLS error``;
- no ready endpoint: 503 ``no healthy upstream`` through a sidecar, curl exit 7 without one;
- a request that reaches a gateway pod is routed by the Gateways and VirtualServices bound to it
  (``meshroutes``; no route: 404) and sent on from the gateway's proxy as a second hop, which
  fails like sidecar-to-sidecar traffic (503, TLS error) when the gateway's root differs;
- the caller's control plane is gone (its istiod Deployment deleted): the sidecar has no valid
  config or certificate, modelled as the connection being reset, curl exit 56 ``Recv failure``;
  the callee's control plane gone: the caller's Envoy answers 503 ``upstream connect error ...
  connection termination`` (no sidecar on the caller: exit 56).

A real mesh keeps serving from cached config until certificates expire (24 h) or a proxy
restarts; the simulation breaks at once so a check that forgets a pod on a deleted revision fails.
Traffic from the ``istio-proxy`` container itself runs as UID 1337 and bypasses the sidecar; a
call to a pod IP is passed through as plain TCP (no mTLS). Besides ``curl`` the containers know
``sh -c`` (``command -v``), ``echo``, ``hostname``, ``true`` and ``false``; anything else fails
the way containerd reports a missing binary.
"""

from __future__ import annotations

import collections
import hashlib
import ipaddress
import itertools
import shlex
from dataclasses import dataclass
from typing import Any, Protocol

from simcluster import curl, echoserver, meshroutes
from simcluster.faults import Faults

__all__ = [
    "ROOT_CA_ANNOTATION",
    "ExecResult",
    "Mesh",
    "Objects",
    "Sidecar",
    "sidecar_of",
]

Obj = dict[str, Any]
ROOT_CA_ANNOTATION = "simcluster.istio-canary.dev/root-ca"
"""Set by the simulated operator on each istiod Deployment: which root CA signs its certs."""

_PROXY = "istio-proxy"


class Objects(Protocol):
    """The read side of the store that the mesh needs."""

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None: ...

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[Obj], str]: ...


@dataclass(frozen=True)
class ExecResult:
    """What a command run in a container produced; ``error`` means it could not start at all."""

    stdout: bytes
    stderr: bytes
    exit_code: int
    error: str | None = None


@dataclass(frozen=True)
class Sidecar:
    """The istio-proxy of a pod and the istiod it was configured for."""

    istiod: str
    namespace: str
    revision: str


def _containers(pod: Obj) -> list[Obj]:
    spec = pod.get("spec") or {}
    native = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return list(spec.get("containers") or []) + native


def sidecar_of(pod: Obj) -> Sidecar | None:
    """The pod's sidecar, read from the istio-proxy container's CA_ADDR like pilot-agent does."""
    for c in _containers(pod):
        if c.get("name") != _PROXY:
            continue
        env = {e.get("name"): e.get("value", "") for e in c.get("env") or []}
        meta = pod.get("metadata") or {}
        revision = (
            env.get("ISTIO_META_REVISION", "")
            or (meta.get("labels") or {}).get("istio.io/rev", "")
            or (meta.get("annotations") or {}).get("istio.io/rev", "")
        )
        host = str(env.get("CA_ADDR", "istiod.istio-system.svc:15012")).split(":", 1)[0]
        name, _, rest = host.partition(".")
        namespace = rest.split(".", 1)[0] or "istio-system"
        return Sidecar(istiod=name, namespace=namespace, revision=revision)
    return None


@dataclass(frozen=True)
class ControlPlane:
    """What a sidecar depends on: a live istiod, its root CA, and its CR's mesh settings."""

    root_ca: str
    trust_domain: str
    mtls_mode: str


@dataclass(frozen=True)
class _Peer:
    pod: Obj
    sidecar: Sidecar | None
    cp: ControlPlane | None  # None with a sidecar means its control plane is gone

    @property
    def namespace(self) -> str:
        return str(self.pod["metadata"].get("namespace", "default"))

    @property
    def name(self) -> str:
        return str(self.pod["metadata"]["name"])

    @property
    def ip(self) -> str:
        return str((self.pod.get("status") or {}).get("podIP", "") or "10.244.0.1")

    @property
    def service_account(self) -> str:
        spec = self.pod.get("spec") or {}
        return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")

    def spiffe(self) -> str:
        domain = self.cp.trust_domain if self.cp else "cluster.local"
        return f"spiffe://{domain}/ns/{self.namespace}/sa/{self.service_account}"


class Mesh:
    """Answers exec'd commands from the live objects; called on the server's loop thread."""

    def __init__(self, store: Objects, faults: Faults, cluster_domain: str = "cluster.local"):
        self._store = store
        self._faults = faults
        self._domain = cluster_domain
        self._request_ids = itertools.count(1)
        # Round-robin position per Service (namespace, name): each Service spreads its own
        # requests over its endpoints, whatever other traffic or request ids happen in between.
        self._turns: collections.Counter[tuple[str, str]] = collections.Counter()

    # -- exec entry point -------------------------------------------------------------------

    def exec_handler(self, pod: Obj, container: str, argv: list[str]) -> ExecResult:
        """Run argv in the pod's container: curl through the mesh, a few shell builtins, else
        the runtime's missing-binary error."""
        if not argv:
            return _missing("")
        program = argv[0].rsplit("/", 1)[-1]
        if program == "curl":
            return self.run_curl(pod, container, argv[1:])
        if program in ("sh", "bash", "ash") and len(argv) >= 3 and argv[1] == "-c":
            return self._shell(pod, container, argv[2])
        if program == "true":
            return ExecResult(b"", b"", 0)
        if program == "false":
            return ExecResult(b"", b"", 1)
        if program == "echo":
            return ExecResult((" ".join(argv[1:]) + "\n").encode(), b"", 0)
        if program == "hostname":
            return ExecResult(f"{pod['metadata']['name']}\n".encode(), b"", 0)
        return _missing(argv[0])

    def _shell(self, pod: Obj, container: str, script: str) -> ExecResult:
        """Enough of ``sh -c`` for probes: ``command -v X``, ``which X``, and simple commands."""
        try:
            words = shlex.split(script)
        except ValueError as err:
            return ExecResult(b"", f"sh: syntax error: {err}\n".encode(), 2)
        if words[:2] in (["command", "-v"], ["which"]) or words[:1] == ["which"]:
            name = words[-1]
            known = {"curl", "sh", "echo", "true", "false", "hostname"}
            if name in known:
                return ExecResult(f"/usr/bin/{name}\n".encode(), b"", 0)
            return ExecResult(b"", b"", 1)
        if not words:
            return ExecResult(b"", b"", 0)
        result = self.exec_handler(pod, container, words)
        if result.error is not None:
            return ExecResult(b"", f"sh: 1: {words[0]}: not found\n".encode(), 127)
        return result

    def run_curl(self, pod: Obj, container: str, args: list[str]) -> ExecResult:
        try:
            req = curl.parse_args(args)
        except curl.CurlExit as err:
            return ExecResult(b"", err.message.encode(), err.exit_code)
        stdout, stderr, code = b"", b"", 0
        for url in req.urls:
            try:
                target = curl.parse_url(url)
            except curl.CurlExit as err:
                show = not req.silent or req.show_error
                stderr += err.message.encode() if show else b""
                code = err.exit_code
                continue
            outcome = self.request(pod, container, req, target)
            out, err_text, code = curl.render(req, target, outcome)
            stdout += out
            stderr += err_text
        return ExecResult(stdout, stderr, code)

    # -- the data plane ----------------------------------------------------------------------

    def request(
        self, pod: Obj, container: str, req: curl.CurlRequest, target: curl.Target
    ) -> curl.Outcome:
        """One HTTP request from ``pod`` to ``target`` through the simulated mesh."""
        caller = self._peer(pod, bypass=container == _PROXY)
        found = self._resolve(target.host, caller.namespace)
        if found is None and _is_ip(target.host):
            pod_at_ip = self._pod_by_ip(target.host)
            if pod_at_ip is None:
                return _timeout(req, target, target.host)  # an address nothing answers on
            return self._direct(caller, req, target, pod_at_ip)
        if found is None:
            return curl.Failure(6, f"Could not resolve host: {target.host}")
        service_ip = str((found.get("spec") or {}).get("clusterIP") or "10.96.0.10")
        port = next(
            (
                p
                for p in (found.get("spec") or {}).get("ports") or []
                if p.get("port") == target.port
            ),
            None,
        )
        if port is None:
            return _timeout(req, target, service_ip)
        if caller.sidecar is not None and caller.cp is None:
            return curl.Failure(
                56, "Recv failure: Connection reset by peer", service_ip, target.port
            )
        upstream = self._pick_endpoint(found, port)
        if upstream is None:
            if caller.sidecar is not None:
                return _envoy_reply(503, "Service Unavailable", "no healthy upstream", service_ip)
            return curl.Failure(
                7,
                f"Failed to connect to {target.host} port {target.port}: Connection refused",
                service_ip,
                target.port,
            )
        callee_pod, server_port = upstream
        callee = self._peer(callee_pod, bypass=False)
        headers = [(n, v) for n, v in req.request_headers(target)]
        request_id = self._request_id()
        if _is_gateway(callee_pod):
            return self._via_gateway(caller, callee, req, target, headers, request_id, service_ip)

        if caller.sidecar is not None:
            headers += _envoy_request_headers(request_id, target)
            if callee.sidecar is not None:
                if callee.cp is None:
                    return _envoy_reply(503, "Service Unavailable", _TERMINATION, service_ip)
                if caller.cp is not None and caller.cp.root_ca != callee.cp.root_ca:
                    return _envoy_reply(503, "Service Unavailable", _TLS_ERROR, service_ip)
                headers.append(("x-forwarded-client-cert", _xfcc(caller, callee)))
            else:
                headers += _peer_metadata_headers(caller)
            response_headers = [
                ("content-type", "text/plain"),
                ("date", _DATE),
                ("server", "envoy"),
                ("x-envoy-upstream-service-time", "1"),
                ("transfer-encoding", "chunked"),
            ]
        else:
            if callee.sidecar is not None:
                if callee.cp is None or (callee.cp and callee.cp.mtls_mode == "STRICT"):
                    return curl.Failure(
                        56, "Recv failure: Connection reset by peer", service_ip, target.port
                    )
                headers += [
                    ("x-forwarded-proto", "http"),
                    ("x-request-id", request_id),
                    ("x-b3-traceid", request_id.replace("-", "")[:32]),
                    ("x-b3-spanid", request_id.replace("-", "")[:16]),
                    ("x-b3-sampled", "0"),
                ]
                response_headers = [
                    ("content-type", "text/plain"),
                    ("date", _DATE),
                    ("server", "istio-envoy"),
                    ("x-envoy-upstream-service-time", "1"),
                    (
                        "x-envoy-decorator-operation",
                        f"{_svc_fqdn(found, self._domain)}:{port.get('port')}/*",
                    ),
                    ("transfer-encoding", "chunked"),
                ]
            else:
                response_headers = [("Date", _DATE), *echoserver.RESPONSE_HEADERS]

        text = echoserver.body(
            hostname=callee.name,
            client_address="127.0.0.1" if callee.sidecar is not None else caller.ip,
            method=req.effective_method,
            path=target.path,
            host_header=next(v for n, v in headers if n.lower() == "host"),
            server_port=server_port,
            headers=headers,
            request_body=req.data,
        )
        return curl.Response(200, "OK", response_headers, text.encode(), service_ip, target.port)

    def _via_gateway(
        self,
        caller: _Peer,
        gateway: _Peer,
        req: curl.CurlRequest,
        target: curl.Target,
        headers: list[tuple[str, str]],
        request_id: str,
        service_ip: str,
    ) -> curl.Outcome:
        """A request that reached a gateway pod: plain HTTP in (a gateway pod carries no
        ``security.istio.io/tlsMode`` label, so callers' sidecars send it plaintext), routed by
        the Gateways and VirtualServices bound to it (``meshroutes``), then a second hop from the
        gateway's proxy to the destination: mTLS when the destination has a sidecar, failing
        with the same TLS error as sidecar-to-sidecar traffic when their roots differ."""
        if gateway.sidecar is not None and gateway.cp is None:  # the gateway's istiod is gone
            if caller.sidecar is not None:
                return _envoy_reply(503, "Service Unavailable", _TERMINATION, service_ip)
            return curl.Failure(
                56, "Recv failure: Connection reset by peer", service_ip, target.port
            )
        host = next(v for n, v in headers if n.lower() == "host")
        route = meshroutes.find_route(self._store, gateway.pod, host, target.path)
        if route is None:  # no route for this host: Envoy's 404
            return curl.Response(
                404,
                "Not Found",
                [("date", _DATE), ("server", "istio-envoy"), ("content-length", "0")],
                b"",
                service_ip,
                target.port,
            )
        found = self._resolve(route.host, route.namespace)
        ports = list(((found or {}).get("spec") or {}).get("ports") or [])
        port = next((p for p in ports if p.get("port") == route.port), None)
        if port is None and route.port is None and len(ports) == 1:
            port = ports[0]
        upstream = self._pick_endpoint(found, port) if found and port else None
        if upstream is None:
            return _envoy_reply(503, "Service Unavailable", "no healthy upstream", service_ip)
        dest_pod, server_port = upstream
        dest = self._peer(dest_pod, bypass=False)
        hop = headers + _envoy_request_headers(request_id, target)
        hop += [("x-envoy-external-address", caller.ip), ("x-forwarded-for", caller.ip)]
        if dest.sidecar is not None:
            if dest.cp is None:
                return _envoy_reply(503, "Service Unavailable", _TERMINATION, service_ip)
            if gateway.cp is not None and gateway.cp.root_ca != dest.cp.root_ca:
                return _envoy_reply(503, "Service Unavailable", _TLS_ERROR, service_ip)
            hop.append(("x-forwarded-client-cert", _xfcc(gateway, dest)))
        elif gateway.sidecar is not None:
            hop += _peer_metadata_headers(gateway)
        text = echoserver.body(
            hostname=dest.name,
            client_address="127.0.0.1" if dest.sidecar is not None else gateway.ip,
            method=req.effective_method,
            path=target.path,
            host_header=host,
            server_port=server_port,
            headers=hop,
            request_body=req.data,
        )
        response_headers = [
            ("content-type", "text/plain"),
            ("date", _DATE),
            ("server", "istio-envoy"),
            ("x-envoy-upstream-service-time", "1"),
            ("transfer-encoding", "chunked"),
        ]
        return curl.Response(200, "OK", response_headers, text.encode(), service_ip, target.port)

    def _direct(
        self, caller: _Peer, req: curl.CurlRequest, target: curl.Target, pod: Obj
    ) -> curl.Outcome:
        """A call to a pod IP: Envoy passes it through as plain TCP (no mTLS, no headers)."""
        ip = target.host
        if caller.sidecar is not None and caller.cp is None:
            return curl.Failure(56, "Recv failure: Connection reset by peer", ip, target.port)
        ports = {
            int(p.get("containerPort", 0))
            for c in (pod.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or []
        }
        if target.port not in ports:
            return curl.Failure(
                7,
                f"Failed to connect to {ip} port {target.port}: Connection refused",
                ip,
                target.port,
            )
        callee = self._peer(pod, bypass=False)
        if callee.sidecar is not None and (callee.cp is None or callee.cp.mtls_mode == "STRICT"):
            return curl.Failure(56, "Recv failure: Connection reset by peer", ip, target.port)
        headers = req.request_headers(target)
        text = echoserver.body(
            hostname=callee.name,
            client_address="127.0.0.1" if callee.sidecar is not None else caller.ip,
            method=req.effective_method,
            path=target.path,
            host_header=next(v for n, v in headers if n.lower() == "host"),
            server_port=target.port,
            headers=headers,
            request_body=req.data,
        )
        response_headers = [("Date", _DATE), *echoserver.RESPONSE_HEADERS]
        return curl.Response(200, "OK", response_headers, text.encode(), ip, target.port)

    def _pod_by_ip(self, ip: str) -> Obj | None:
        pods, _ = self._store.list("Pod")
        return next(
            (
                p
                for p in pods
                if (p.get("status") or {}).get("podIP") == ip
                and not p["metadata"].get("deletionTimestamp")
            ),
            None,
        )

    # -- lookups -----------------------------------------------------------------------------

    def _peer(self, pod: Obj, *, bypass: bool) -> _Peer:
        sidecar = None if bypass else sidecar_of(pod)
        return _Peer(pod, sidecar, self._control_plane(sidecar) if sidecar else None)

    def _control_plane(self, sidecar: Sidecar) -> ControlPlane | None:
        istiod = self._store.get("Deployment", sidecar.namespace, sidecar.istiod)
        if istiod is None:
            return None
        annotations = istiod["metadata"].get("annotations") or {}
        root = str(annotations.get(ROOT_CA_ANNOTATION, "istio-ca-secret"))
        cr: Obj | None = None
        owned = False
        for ref in istiod["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Istio":
                owned = True
                cr = self._store.get("Istio", sidecar.namespace, ref["name"])
        if not owned and (istiod["metadata"].get("labels") or {}).get("app") == "istiod":
            # an upstream istiod (Helm chart): the mesh defaults, one root shared by revisions
            return ControlPlane(root, "cluster.local", "PERMISSIVE")
        if cr is None:
            return None  # the CR is gone; its istiod is being garbage-collected
        spec = cr.get("spec") or {}
        mode = str(((spec.get("meshPolicy") or {}).get("mtlsMode")) or "PERMISSIVE")
        return ControlPlane(root, str(spec.get("trustDomain") or "cluster.local"), mode)

    def _resolve(self, host: str, namespace: str) -> Obj | None:
        """kube-dns: a Service name (short, ``svc.ns``, ``svc.ns.svc``, FQDN) or a ClusterIP."""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            services, _ = self._store.list("Service")
            for service in services:
                lb = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                if (service.get("spec") or {}).get("clusterIP") == host or any(
                    i.get("ip") == host for i in lb
                ):
                    return service
            return None
        suffix = f".svc.{self._domain}"
        candidates = [host] if host.endswith(suffix) else []
        candidates += [
            f"{host}.{namespace}{suffix}",
            f"{host}{suffix}",
            f"{host}.{self._domain}",
        ]
        for fqdn in candidates:
            if not fqdn.endswith(suffix):
                continue
            parts = fqdn[: -len(suffix)].split(".")
            if len(parts) != 2:
                continue
            found = self._store.get("Service", parts[1], parts[0])
            if found is not None:
                return found
        return None

    def _pick_endpoint(self, service: Obj, port: Obj) -> tuple[Obj, int] | None:
        """A ready endpoint behind the Service port, taken in turn per Service (round-robin).

        kube-proxy picks at random; a fixed rotation spreads requests over every endpoint just
        as well and keeps runs repeatable.
        """
        meta = service["metadata"]
        endpoints = self._store.get("Endpoints", meta.get("namespace"), meta["name"])
        ready: list[tuple[Obj, int]] = []
        for subset in (endpoints or {}).get("subsets") or []:
            ports = subset.get("ports") or []
            match = next((p for p in ports if p.get("name") == port.get("name")), None)
            if match is None and len(ports) == 1 and not port.get("name"):
                match = ports[0]
            if match is None:
                continue
            for address in subset.get("addresses") or []:
                ref = address.get("targetRef") or {}
                pod = self._store.get("Pod", ref.get("namespace"), str(ref.get("name")))
                if pod is not None:
                    ready.append((pod, int(match.get("port", 80))))
        if not ready:
            return None
        key = (str(meta.get("namespace", "")), str(meta["name"]))
        turn = self._turns[key]
        self._turns[key] = turn + 1
        return ready[turn % len(ready)]

    def _request_id(self) -> str:
        digest = hashlib.sha256(str(next(self._request_ids)).encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


_DATE = "Thu, 26 Nov 2026 07:00:00 GMT"
_TLS_ERROR = (
    "upstream connect error or disconnect/reset before headers. reset reason: connection "
    "failure, transport failure reason: TLS error: 268435581:SSL routines:"
    "OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"
)
_TERMINATION = (
    "upstream connect error or disconnect/reset before headers. reset reason: connection "
    "termination"
)


def _is_gateway(pod: Obj) -> bool:
    """A Banzai operator's gateway pod (``gateway-type``), or one injected with the upstream
    ``gateway`` template (the Helm ``gateway`` chart)."""
    meta = pod.get("metadata") or {}
    return "gateway-type" in (meta.get("labels") or {}) or (
        (meta.get("annotations") or {}).get("inject.istio.io/templates") == "gateway"
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _svc_fqdn(service: Obj, domain: str) -> str:
    meta = service["metadata"]
    return f"{meta['name']}.{meta.get('namespace', 'default')}.svc.{domain}"


def _envoy_reply(status: int, reason: str, text: str, ip: str) -> curl.Response:
    headers = [
        ("content-length", str(len(text))),
        ("content-type", "text/plain"),
        ("date", _DATE),
        ("server", "envoy"),
    ]
    return curl.Response(status, reason, headers, text.encode(), ip, 80)


def _envoy_request_headers(request_id: str, target: curl.Target) -> list[tuple[str, str]]:
    compact = request_id.replace("-", "")
    return [
        ("x-forwarded-proto", "http"),
        ("x-request-id", request_id),
        ("x-envoy-attempt-count", "1"),
        ("x-b3-traceid", compact[:32]),
        ("x-b3-spanid", compact[16:32]),
        ("x-b3-parentspanid", compact[:16]),
        ("x-b3-sampled", "0"),
    ]


def _peer_metadata_headers(caller: _Peer) -> list[tuple[str, str]]:
    """Plaintext from a sidecar to a sidecar-less pod leaks Istio's peer metadata headers."""
    ident = (
        f"sidecar~{caller.ip}~{caller.name}.{caller.namespace}~{caller.namespace}.svc.cluster.local"
    )
    return [
        ("x-envoy-peer-metadata-id", ident),
        ("x-envoy-peer-metadata", "ChQKDkFQUF9DT05UQUlORVJT"),
    ]


def _xfcc(caller: _Peer, callee: _Peer) -> str:
    """The header the callee's sidecar adds for mTLS traffic: By=callee, URI=caller."""
    digest = hashlib.sha256(f"{caller.spiffe()}|{caller.cp.root_ca if caller.cp else ''}".encode())
    return f'By={callee.spiffe()};Hash={digest.hexdigest()};Subject="";URI={caller.spiffe()}'


def _timeout(req: curl.CurlRequest, target: curl.Target, ip: str) -> curl.Failure:
    """Nothing listens on that ClusterIP port: the SYN goes unanswered until a timeout."""
    if req.connect_timeout is not None and (
        req.max_time is None or req.connect_timeout <= req.max_time
    ):
        ms = int(req.connect_timeout * 1000)
        return curl.Failure(28, f"Connection timed out after {ms} milliseconds", ip, target.port)
    if req.max_time is not None:
        ms = int(req.max_time * 1000)
        return curl.Failure(
            28,
            f"Operation timed out after {ms} milliseconds with 0 bytes received",
            ip,
            target.port,
        )
    return curl.Failure(
        7,
        f"Failed to connect to {target.host} port {target.port}: Connection timed out",
        ip,
        target.port,
    )


def _missing(binary: str) -> ExecResult:
    """What containerd reports for a binary the image lacks (kubectl shows it, exit 126)."""
    message = (
        "failed to exec in container: failed to start exec: OCI runtime exec failed: exec failed: "
        f'unable to start container process: exec: "{binary}": executable file not found in $PATH: '
        "unknown"
    )
    return ExecResult(b"", b"", 126, message)
