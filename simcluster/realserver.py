"""simcluster's Istio behaviours as controllers of a real API server (``--control-plane real``).

The API server, etcd, controller-manager, scheduler and kwok (``realcluster``) already do what
simcluster's Kubernetes controllers model (Deployments to ReplicaSets to Pods, scheduling,
Endpoints, garbage collection, pod lifecycle), so only the Istio-specific parts run here, on an
``ApiStore`` (``simcluster.apistore``) instead of the in-process store:

- the istio-operator chart releases (``controllers.releases``: operator StatefulSets),
- the Banzai operators and their gateways (``controllers.operator``, ``controllers.gateways``),
- the ServiceAccounts the operator's Deployments name (a real API server refuses pods
  without theirs; simcluster's store does not check),
- a load-balancer allocator (what a cloud controller or MetalLB does: a stable fake address in
  ``status.loadBalancer`` of each LoadBalancer Service), which the gateways wait for,
- sidecar injection as a real ``MutatingWebhookConfiguration`` calling our HTTPS webhook
  (``simcluster.webhook``): the operator's injector configuration is rewritten on its way to the
  API server to call that webhook instead of the istiod Service,
- the GitOps sync (``simcluster.gitops.Syncer``).

It takes the control plane's coordinates (URL, CA, an admin client certificate and a serving
certificate for 127.0.0.1 that the CA signed), not the control plane itself: simcluster imports
nothing of ``realcluster`` (docs/architecture.md); ``simcluster serve --control-plane real`` and
the tests start one and hand it over.

- the mesh behind ``kubectl exec`` (``simcluster.meshexec``: kwok runs our command shims);
- the faults: ``split-trust`` and ``no-sync`` read by the operator model and the syncer,
  ``stuck-rollout`` by an admission webhook plus a kwok stage (``simcluster.stuckrollout``),
  ``api-flaky`` by a proxy in front of the API server that kubectl and the verifier go through
  (``simcluster.faultproxy``).

Not here yet (docs/realcluster.md, "Known limits"): upstream istiod (Helm flavour) behaviours
and with them the webhook faults.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from core.errors import UsageError
from simcluster.apierrors import StoreError
from simcluster.apistore import ApiStore
from simcluster.controllers.kubelet import NEVER_READY
from simcluster.errorlog import ErrorLog
from simcluster.faultproxy import FaultProxy, status_body
from simcluster.faults import KNOWN_FAULTS, Faults
from simcluster.meshexec import MeshExec
from simcluster.stuckrollout import STUCK, StuckRollout
from simcluster.upstreaminjection import UpstreamInjection
from simcluster.webhook import InjectionWebhook, webhook_configuration

__all__ = ["Coordinates", "RealServer", "RealSimCluster"]

Obj = dict[str, Any]
Key = tuple[str, str, str]
# On the injector configuration: what the operator wrote, which ``_rewrite`` replaced
CLIENT_CONFIG = "simcluster.istio-canary.dev/operator-client-config"
OWNERS = "simcluster.istio-canary.dev/operator-owner-references"
log = logging.getLogger("simcluster.realserver")

# What the Istio controllers react to; everything else they read with live requests.
WATCHED = (
    "Namespace", "Pod", "Service", "Deployment", "StatefulSet",
    "Istio", "MeshGateway", "Application",
)  # fmt: skip


@dataclass(frozen=True)
class Coordinates:
    """Where the real API server is and who we are there."""

    url: str
    ca: Path  # the cluster CA (also the webhook configurations' caBundle)
    client_cert: Path  # an admin identity (system:masters)
    client_key: Path
    serving_cert: Path  # a certificate for 127.0.0.1 signed by ``ca``, for our webhook
    serving_key: Path
    kubeconfig: Path  # an admin kubeconfig for the same server (kubectl, the verifier)
    # the annotation kwok holds pods Running-not-Ready by (``ControlPlane(held_annotation=)``)
    held_annotation: str | None = None

    @classmethod
    def of(cls, cp: Any) -> Coordinates:
        """Those of a ``realcluster.ControlPlane`` (its PKI: the API server's serving certificate
        is for 127.0.0.1 and signed by the cluster CA, so our webhook can serve with it)."""
        pki = Path(cp.pki)
        return cls(
            url=str(cp.url),
            ca=pki / "ca.crt",
            client_cert=pki / "admin.crt",
            client_key=pki / "admin.key",
            serving_cert=pki / "apiserver.crt",
            serving_key=pki / "apiserver.key",
            kubeconfig=Path(cp.kubeconfig),
            held_annotation=getattr(cp, "held_annotation", None),
        )


def load_balancer_ip(uid: str) -> str:
    """A stable fake address for a Service (same uid, same address), as simcluster gives."""
    digest = hashlib.sha256(uid.encode()).digest()
    return f"172.18.{digest[0]}.{max(digest[1], 1)}"


class LoadBalancers:
    """Writes ``status.loadBalancer.ingress`` of LoadBalancer Services, as a cloud would."""

    def __init__(self, ctl: ApiControllers) -> None:
        self.ctl = ctl
        self.store = ctl.store

    def handlers(self) -> dict[str, Callable[[str, str], None]]:
        return {"loadbalancer": self.sync}

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        spec = obj.get("spec") or {}
        if (
            obj.get("kind") == "Service"
            and event != "DELETED"
            and spec.get("type") == "LoadBalancer"
        ):
            meta = obj["metadata"]
            self.ctl.enqueue("loadbalancer", meta.get("namespace", ""), meta["name"])

    def sync(self, ns: str, name: str) -> None:
        svc = self.store.get("Service", ns, name)
        if svc is None or (svc.get("spec") or {}).get("type") != "LoadBalancer":
            return
        if ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            return
        ip = load_balancer_ip(svc["metadata"]["uid"])
        svc["status"] = {**(svc.get("status") or {}), "loadBalancer": {"ingress": [{"ip": ip}]}}
        self.store.update(svc, status_only=True)


class ServiceAccounts:
    """The operator's ServiceAccounts for what it deploys.

    The Banzai operator creates a ServiceAccount for istiod and for each gateway; simcluster's
    store admits pods without one, so its operator model never writes them, but a real API
    server refuses such pods (the ServiceAccount admission plugin). Made here, owned like the
    Deployment that names them, so the garbage collector removes them with it.
    """

    def __init__(self, ctl: ApiControllers) -> None:
        self.ctl = ctl
        self.store = ctl.store

    def handlers(self) -> dict[str, Callable[[str, str], None]]:
        return {"serviceaccount": self.sync}

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        owners = obj["metadata"].get("ownerReferences") or []
        if (
            obj.get("kind") == "Deployment"
            and event != "DELETED"
            and any(r.get("kind") in ("Istio", "MeshGateway") for r in owners)
        ):
            self.ctl.enqueue(
                "serviceaccount", obj["metadata"]["namespace"], obj["metadata"]["name"]
            )

    def sync(self, ns: str, name: str) -> None:
        dep = self.store.get("Deployment", ns, name)
        if dep is None:
            return
        spec = ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}
        account = spec.get("serviceAccountName")
        if not account or account == "default" or self.store.get("ServiceAccount", ns, account):
            return
        meta = dep["metadata"]
        owners = [r for r in meta.get("ownerReferences") or [] if r.get("kind") != "Deployment"]
        try:
            self.store.create(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {
                        "name": account,
                        "namespace": ns,
                        "labels": dict(meta.get("labels") or {}),
                        "ownerReferences": owners,
                    },
                }
            )
        except StoreError as err:
            if err.code != 409:
                raise


class ApiControllers:
    """The Istio controllers' work queue over an ApiStore (the parts are simcluster's own)."""

    def __init__(self, store: ApiStore, faults: Faults) -> None:
        from simcluster.controllers import gateways, operator, releases

        self.store = store
        self.faults = faults
        self._loop = asyncio.get_running_loop()
        self._queue: dict[Key, None] = {}
        self._wake = asyncio.Event()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._busy = False
        self.errors: list[str] = []
        ctl = cast(Any, self)  # the parts are typed for Controllers; they use the calls below
        self.releases = releases.Releases(ctl)
        self.operator = operator.Operators(ctl)
        self.gateways = gateways.Gateways(ctl, self.operator)
        self.load_balancers = LoadBalancers(self)
        self.service_accounts = ServiceAccounts(self)
        self._parts: tuple[Any, ...] = (
            self.releases, self.operator, self.gateways, self.load_balancers,
            self.service_accounts,
        )  # fmt: skip
        self._handlers: dict[str, Callable[[str, str], None]] = {}
        for part in self._parts:
            self._handlers.update(part.handlers())
        self._unsubscribe = [store.subscribe(self._on_event), faults.subscribe(self._on_fault)]
        self.task = self._loop.create_task(self._run())

    def enqueue(self, controller: str, namespace: str, name: str) -> None:
        self._queue[(controller, namespace, name)] = None
        self._wake.set()

    def after(self, delay: float, controller: str, namespace: str, name: str) -> None:
        key = (controller, namespace, name)
        if key in self._timers:
            return

        def fire() -> None:
            self._timers.pop(key, None)
            self.enqueue(*key)

        self._timers[key] = self._loop.call_later(delay, fire)

    later = after

    def idle(self) -> bool:
        return not self._queue and not self._busy and not self._timers

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for handle in self._timers.values():
            handle.cancel()
        self.task.cancel()

    def _on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        for part in self._parts:
            part.on_event(event, obj, old)

    def _on_fault(self, name: str, on: bool) -> None:
        if name == "split-trust":
            self._loop.call_soon_threadsafe(self.operator.resync_all)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                key = next(iter(self._queue))
                del self._queue[key]
                self._busy = True
                try:
                    # blocking requests on the loop, as the in-process store's calls are: the
                    # watches queue their events meanwhile, and one thread owns all state
                    self._handlers[key[0]](key[1], key[2])
                except StoreError as err:
                    if err.code == 409:  # raced a newer version: do it again on fresh reads
                        self.after(0.1, *key)
                    else:
                        log.warning("controller %s on %s/%s: %s", *key, err)
                        self.errors.append(f"{key}: {err}")
                except Exception as err:  # a controller bug must not kill the cluster
                    log.exception("controller %s failed on %s/%s", *key)
                    self.errors.append(f"{key}: {err!r}")
                finally:
                    self._busy = False
                await asyncio.sleep(0)  # let watch events in between keys


class RealServer:
    """The Istio behaviours and GitOps sync for one real control plane; start/stop on a loop."""

    def __init__(
        self,
        where: Coordinates,
        *,
        repo: Path | None = None,
        branch: str = "main",
        sync_interval: float = 1.0,
        faults: Faults | None = None,
        quiet_period: float = 0.5,
        mesh_dir: Path | None = None,
    ) -> None:
        """``mesh_dir``: where the mesh's command shims go; it needs kwok watching ``Exec``
        objects (``realcluster.kwokcrds``). Without it, exec runs whatever kwok is told to."""
        self.where = where
        self.mesh_dir = mesh_dir
        self.mesh: MeshExec | None = None
        self.repo, self.branch, self.sync_interval = repo, branch, sync_interval
        self.faults = faults if faults is not None else Faults()
        self.quiet_period = quiet_period
        self.store = ApiStore(
            where.url,
            where.ca,
            where.client_cert,
            where.client_key,
            rewrite=self._rewrite,
            view=self._view,
        )
        self.webhook = InjectionWebhook(
            where.serving_cert,
            where.serving_key,
            lambda ns, name: self.store.get("Istio", ns, name),
        )
        self.stuck: StuckRollout | None = None
        self._unsubscribe_stuck: Callable[[], None] | None = None
        self.upstream = UpstreamInjection(
            self.store, where.serving_cert, where.serving_key, where.ca.read_bytes()
        )
        self.controllers: ApiControllers | None = None
        self.syncer: Any = None
        self.last_sync: str | None = None
        self.sync_errors: list[str] = []
        self._error_log = ErrorLog(log, "simcluster: sync failed: ")
        self._sync_task: asyncio.Task[None] | None = None
        self._sync_lock = asyncio.Lock()
        self._last_change = time.monotonic()

    def _rewrite(self, obj: Obj) -> Obj:
        """The operator's injector configuration, pointed at our webhook instead of istiod."""
        if obj.get("kind") != "MutatingWebhookConfiguration":
            return obj
        owner = next(
            (r for r in obj["metadata"].get("ownerReferences") or [] if r.get("kind") == "Istio"),
            None,
        )
        hooks = obj.get("webhooks") or []
        service = ((hooks[0] if hooks else {}).get("clientConfig") or {}).get("service") or {}
        if owner is None or not service.get("namespace"):
            return self.upstream.rewrite(obj)  # the Helm flavour's injectors, if it is one
        cr = {
            "metadata": {"name": owner["name"], "namespace": service["namespace"]},
            "spec": {"global": False} if len(hooks) == 1 else {},
        }
        ca = self.where.ca.read_bytes()
        mine = webhook_configuration(cr, self.webhook.url, ca)
        by_name = {h["name"]: h for h in mine["webhooks"]}
        out = dict(obj, webhooks=[])
        original = json.dumps([h.get("clientConfig") for h in hooks], sort_keys=True)
        for hook in hooks:
            hook = dict(hook)
            if hook["name"] in by_name:
                hook["clientConfig"] = by_name[hook["name"]]["clientConfig"]
            hook["admissionReviewVersions"] = ["v1"]
            out["webhooks"].append(hook)
        # A cluster-scoped object cannot be owned by a namespaced one (the real GC would refuse
        # it); the operator's configuration is kept alive by the operator, not by ownership.
        out["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "ownerReferences"}
        out["metadata"]["annotations"] = {
            **(obj["metadata"].get("annotations") or {}),
            CLIENT_CONFIG: original,
            OWNERS: json.dumps(obj["metadata"].get("ownerReferences") or []),
        }
        return out

    def _view(self, obj: Obj) -> Obj:
        """The injector configuration as the operator wrote it (service, owner), for readers:
        the GitOps sync checks that istiod's Service has a ready endpoint before it starts
        workloads the injector would refuse; the operator then sees nothing to change."""
        obj = self.upstream.view(obj)
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if obj.get("kind") != "MutatingWebhookConfiguration" or CLIENT_CONFIG not in annotations:
            return obj
        configs = json.loads(annotations[CLIENT_CONFIG])
        for hook, config in zip(obj.get("webhooks") or [], configs, strict=False):
            hook["clientConfig"] = config
            hook["admissionReviewVersions"] = ["v1beta1", "v1"]
        owners = json.loads(annotations.get(OWNERS) or "[]")
        if owners:
            obj["metadata"]["ownerReferences"] = owners
        rest = {k: v for k, v in annotations.items() if k not in (CLIENT_CONFIG, OWNERS)}
        if rest:
            obj["metadata"]["annotations"] = rest
        else:
            obj["metadata"].pop("annotations", None)
        return obj

    async def start(self) -> None:
        self.webhook.start()
        self.upstream.start()
        loop = asyncio.get_running_loop()
        self.store.subscribe(self._touch)
        if self.where.held_annotation == NEVER_READY:
            self.stuck = StuckRollout(
                self.store, self.faults, self.where.serving_cert, self.where.serving_key,
                self.where.ca.read_bytes(),
            )  # fmt: skip
            await asyncio.to_thread(self.stuck.start)
            stuck = self.stuck

            def released(name: str, on: bool) -> None:
                if name == STUCK and not on:
                    loop.call_soon_threadsafe(stuck.release)

            self._unsubscribe_stuck = self.faults.subscribe(released)
        if self.mesh_dir is not None:
            self.mesh = MeshExec(self.store, self.faults, self.mesh_dir).start()
            self.store.subscribe(self.mesh.on_event)
        await asyncio.to_thread(self.store.start, loop, WATCHED)
        self.controllers = ApiControllers(self.store, self.faults)
        for kind in WATCHED:  # what exists already is work, as in Controllers
            items, _rv = await asyncio.to_thread(self.store.list, kind)
            for obj in items:
                self.controllers._on_event("ADDED", obj, None)
        if self.repo is not None:
            from simcluster import gitops

            self.syncer = gitops.Syncer(self.repo, self.branch, cast(Any, self.store), self.faults)
            await self._sync_logged()
            self._sync_task = loop.create_task(self._sync_loop())

    async def stop(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
        if self.controllers is not None:
            self.controllers.stop()
        self.store.stop()
        self.webhook.stop()
        self.upstream.stop()
        if self._unsubscribe_stuck is not None:  # a switch after stop must not reach the loop
            self._unsubscribe_stuck()
        if self.stuck is not None:
            self.stuck.stop()
        if self.mesh is not None:
            self.mesh.stop()

    def _touch(self, _event: str, _obj: Obj, _old: Obj | None) -> None:
        self._last_change = time.monotonic()

    def idle(self) -> bool:
        if self.controllers is not None and not self.controllers.idle():
            return False
        return time.monotonic() - self._last_change >= self.quiet_period

    async def sync_now(self) -> str | None:
        if self.syncer is None:
            return None
        async with self._sync_lock:
            result = self.syncer.sync_once()  # on the loop, like the controllers
        self.last_sync = str(result) if result is not None else self.last_sync
        return self.last_sync

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sync_interval)
            await self._sync_logged()

    async def _sync_logged(self) -> None:
        try:
            await self.sync_now()
        except (StoreError, OSError, ValueError, RuntimeError) as err:
            self._error_log.report([str(err)])
            self.sync_errors.append(str(err))
        else:
            self._error_log.report([])


class RealSimCluster:
    """``RealServer`` on its own loop thread, with ``SimCluster``'s harness calls (the ones the
    rehearsal pipeline uses: ``kubeconfig``, ``url``, ``sync_now``, ``wait_settled``,
    ``set_fault``)."""

    def __init__(
        self,
        where: Coordinates,
        repo: Path | str | None = None,
        branch: str = "main",
        sync_interval: float = 1.0,
        faults: Iterable[str] = (),
        *,
        start_timeout: float = 60.0,
        mesh_dir: Path | None = None,
        proxy: bool = True,
    ) -> None:
        """``proxy``: kubectl and the verifier reach the API server through the api-flaky proxy
        (it lets every request through while that fault is off; our controllers never use it).
        It costs a TLS handshake each way per request (about 25 ms against 3.5 ms direct), so a
        measurement may do without it (``proxy=False``), and then without ``api-flaky``."""
        self.faults = Faults(faults)
        if not proxy and self.faults.enabled("api-flaky"):
            raise UsageError("api-flaky needs the fault proxy (RealSimCluster(proxy=True))")
        self.use_proxy = proxy
        self.proxy = FaultProxy(
            where.url, self.faults, ca=where.ca, serving_cert=where.serving_cert,
            serving_key=where.serving_key, client_cert=where.client_cert,
            client_key=where.client_key, control=self.control,
        )  # fmt: skip
        self.direct_kubeconfig = where.kubeconfig
        self.kubeconfig = (
            where.kubeconfig.with_name("faultproxy.kubeconfig") if proxy else where.kubeconfig
        )
        self.url = "" if proxy else where.url
        self._server = RealServer(
            where,
            repo=Path(repo) if repo is not None else None,
            branch=branch,
            sync_interval=sync_interval,
            faults=self.faults,
            mesh_dir=mesh_dir,
        )
        self._start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def server(self) -> RealServer:
        return self._server

    def start(self) -> RealSimCluster:
        if self.use_proxy:
            self.proxy.start()
            self.url = self.proxy.url
            _write_kubeconfig_via(self.direct_kubeconfig, self.kubeconfig, self.url)
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=self._start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._server.start())
        except BaseException as err:
            ready.set_exception(err)
            loop.run_until_complete(self._server.stop())
            loop.close()
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._server.stop())
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
        self._thread = None
        self.proxy.stop()

    def __enter__(self) -> RealSimCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _submit(self, coro: Any, timeout: float | None) -> Any:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the real control plane's controllers are not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def set_fault(self, name: str, enabled: bool) -> None:
        if name == "api-flaky" and enabled and not self.use_proxy:
            raise UsageError("api-flaky needs the fault proxy (RealSimCluster(proxy=True))")
        self.faults.set(name, enabled)

    def control(self, method: str, path: str, body: bytes) -> tuple[int, Obj]:
        """simcluster's control endpoints, answered as the embedded server answers them."""
        parts = path.split("?", 1)[0].strip("/").split("/")
        route = (method, tuple(parts[2:3]))
        if parts[:2] != ["simcluster", "v1"]:
            return 404, status_body(404, "NotFound", "the server could not find it")
        if route == ("GET", ("faults",)) and len(parts) == 3:
            active = self.faults.active()
            return 200, {"faults": {n: n in active for n in KNOWN_FAULTS}}
        if route == ("PUT", ("faults",)) and len(parts) == 4:
            try:
                name = self.faults.check_name(parts[3])
            except UsageError as err:
                return 404, status_body(404, "NotFound", str(err))
            try:
                enabled = json.loads(body or b"{}")["enabled"]
                if not isinstance(enabled, bool):
                    raise TypeError("enabled must be true or false")
            except (ValueError, KeyError, TypeError) as err:
                message = f'body must be {{"enabled": true|false}}: {err}'
                return 400, status_body(400, "BadRequest", message)
            self.set_fault(name, enabled)
            return 200, {"name": name, "enabled": self.faults.enabled(name)}
        if route == ("POST", ("sync",)) and len(parts) == 3:
            if self._server.repo is None:
                return 404, status_body(404, "NotFound", "this server syncs no repo")
            return 200, {"revision": self.sync_now()}
        if route == ("GET", ("settled",)) and len(parts) == 3:
            return 200, {"settled": self.settled()}
        return 404, status_body(404, "NotFound", "the server could not find it")

    def sync_now(self, timeout: float = 60.0) -> str | None:
        return cast("str | None", self._submit(self._server.sync_now(), timeout))

    def settled(self) -> bool:
        async def ask() -> bool:
            return self._server.idle()

        return bool(self._submit(ask(), 10.0))

    def wait_settled(self, timeout: float = 30.0) -> None:
        """Until our controllers are idle and no watched object changed for a moment (polled)."""
        deadline = time.monotonic() + timeout
        while not self.settled():
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the real control plane did not settle within {timeout}s")
            time.sleep(0.05)

    @property
    def controllers(self) -> ApiControllers | None:
        return self._server.controllers


def _write_kubeconfig_via(source: Path, out: Path, server: str) -> None:
    """``source`` (same CA, same user) with every cluster's server set to ``server``."""
    import yaml

    config = yaml.safe_load(source.read_text())
    for cluster in config.get("clusters") or []:
        cluster["cluster"]["server"] = server
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(out)


def serve_real(
    repo: Path | None,
    branch: str,
    kubeconfig_out: Path,
    sync_interval: float,
    faults: Iterable[str],
) -> None:
    """``simcluster serve --control-plane real``: a realcluster control plane (next to
    ``kubeconfig_out``) with the Istio behaviours as its controllers, until SIGTERM/SIGINT."""
    import shutil
    import signal

    import click

    from core.errors import UsageError

    # realcluster stands where a real API server would and imports nothing of ours; this one
    # command reaches it when it runs (as `istio-canary demo` reaches rehearsal).
    from realcluster import BinaryMissing, ControlPlane
    from realcluster.crds import CRDS
    from realcluster.kwokcrds import EXEC_CRD, KWOK_EXEC_ARGS

    workdir = kubeconfig_out.resolve().parent / f"{kubeconfig_out.name}.realcp"
    if workdir.exists():
        shutil.rmtree(workdir)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        cp = ControlPlane(
            workdir,
            crds=[*CRDS, EXEC_CRD],
            kwok_args=KWOK_EXEC_ARGS,
            exec_path=[workdir / "mesh"],
            held_annotation=NEVER_READY,  # the stuck-rollout fault (simcluster.stuckrollout)
        )
    except BinaryMissing as err:
        raise UsageError(f"--control-plane real: {err}") from err
    with (
        cp,
        RealSimCluster(
            Coordinates.of(cp), repo, branch, sync_interval, faults, mesh_dir=workdir / "mesh"
        ) as sim,
    ):
        shutil.copyfile(sim.kubeconfig, kubeconfig_out)  # through the api-flaky proxy
        kubeconfig_out.chmod(0o600)
        click.echo(
            f"simcluster: serving {sim.url} (kubeconfig {kubeconfig_out}; real control plane "
            f"{cp.url})"
        )
        stop.wait()
