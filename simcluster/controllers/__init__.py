"""The simulated cluster's controllers: kube-controller-manager, kubelet, the Banzai operators.

Event-driven like the real ones: a store subscription turns every change into work-queue keys
(``(controller, namespace, name)``, de-duplicated), and one asyncio task on the server's loop
drains the queue. Short timers stand in for the kubelet starting containers. ``idle()`` is true
when nothing is queued, running or about to fire, so ``wait_settled`` returns once rollouts are
done or stuck (a stuck rollout waits for an event, not a timer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from simcluster.faults import Faults
from simcluster.store import Store

__all__ = ["Controllers", "Key", "start"]

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (controller, namespace, name)
log = logging.getLogger("simcluster.controllers")


class Controllers:
    """The running controllers of one simulated cluster; build with ``start``."""

    def __init__(self, store: Store, faults: Faults) -> None:
        from simcluster.controllers import (
            admission,
            endpoints,
            gateways,
            injection,
            istiod,
            kubelet,
            operator,
            releases,
            webhookfaults,
            workloads,
        )

        self.store = store
        self.faults = faults
        self._loop = asyncio.get_running_loop()
        self._queue: dict[Key, None] = {}
        self._wake = asyncio.Event()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._busy = False
        self._deadlines: dict[Key, asyncio.TimerHandle] = {}
        self.errors: list[str] = []
        self.kubelet = kubelet.Kubelet(self)
        self.workloads = workloads.Workloads(self)
        self.endpoints = endpoints.Endpoints(self)
        self.releases = releases.Releases(self)
        self.operator = operator.Operators(self)
        self.gateways = gateways.Gateways(self, self.operator)
        self.istiods = istiod.Istiods(self)
        self.webhook_faults = webhookfaults.WebhookFaults(self)
        parts = (
            self.kubelet,
            self.workloads,
            self.endpoints,
            self.releases,
            self.operator,
            self.gateways,
            self.istiods,
            self.webhook_faults,
        )
        self._parts = parts
        self._handlers: dict[str, Callable[[str, str], None]] = {}
        for part in parts:
            self._handlers.update(part.handlers())
        self._unsubscribe = [
            store.subscribe(self._on_event),
            store.add_mutator(injection.mutator(store)),
            store.add_mutator(self.istiods.admit),
            store.add_mutator(self.webhook_faults.admit),
            store.add_mutator(admission.validator(store)),
            store.add_mutator(self.kubelet.admit),
            store.add_mutator(self.operator.validate_istio),
            faults.subscribe(self._on_fault),
        ]
        self.tasks: list[asyncio.Task[None]] = [self._loop.create_task(self._run())]
        for kind in ("Namespace", "Service", "Deployment", "ReplicaSet", "StatefulSet"):
            for obj in store.list(kind, shared=True)[0]:
                self._on_event("ADDED", obj, None)
        for kind in (
            "DaemonSet",
            "Job",
            "Pod",
            "Istio",
            "MeshGateway",
            "Application",
            "HelmRelease",
        ):
            for obj in store.list(kind, shared=True)[0]:
                self._on_event("ADDED", obj, None)

    # -- queue -----------------------------------------------------------------------------------

    def enqueue(self, controller: str, namespace: str, name: str) -> None:
        self._queue[(controller, namespace, name)] = None
        self._wake.set()

    def after(self, delay: float, controller: str, namespace: str, name: str) -> None:
        """Enqueue a key after ``delay`` seconds (counts as pending work for ``idle``)."""
        key = (controller, namespace, name)
        if key in self._timers:
            return

        def fire() -> None:
            self._timers.pop(key, None)
            self.enqueue(*key)

        self._timers[key] = self._loop.call_later(delay, fire)

    def later(self, delay: float, controller: str, namespace: str, name: str) -> None:
        """Enqueue a key after ``delay`` seconds without counting as pending work (deadlines)."""
        key = (controller, namespace, name)
        previous = self._deadlines.pop(key, None)
        if previous is not None:
            previous.cancel()

        def fire() -> None:
            self._deadlines.pop(key, None)
            self.enqueue(*key)

        self._deadlines[key] = self._loop.call_later(delay, fire)

    def idle(self) -> bool:
        """Nothing queued, running, or about to fire."""
        return not self._queue and not self._busy and not self._timers

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for handle in [*self._timers.values(), *self._deadlines.values()]:
            handle.cancel()
        self._timers.clear()
        for task in self.tasks:
            task.cancel()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            done = 0
            while self._queue:
                key = next(iter(self._queue))
                del self._queue[key]
                self._busy = True
                try:
                    self._handlers[key[0]](key[1], key[2])
                except Exception as err:  # a controller bug must not kill the cluster
                    log.exception("controller %s failed on %s/%s", *key)
                    self.errors.append(f"{key}: {err!r}")
                finally:
                    self._busy = False
                done += 1
                if done % 50 == 0:
                    await asyncio.sleep(0)  # let the API answer between batches

    # -- events ----------------------------------------------------------------------------------

    def _on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        """Route a store change to the controllers that watch that kind (enqueue only)."""
        for part in self._parts:
            part.on_event(event, obj, old)

    def _on_fault(self, name: str, on: bool) -> None:
        self._loop.call_soon_threadsafe(self._fault_changed, name, on)

    def _fault_changed(self, name: str, on: bool) -> None:
        if name == "stuck-rollout" and not on:
            self.kubelet.release_stuck()
        if name == "split-trust":
            self.operator.resync_all()
        if name in ("webhook-overlap", "dangling-validator"):
            self.webhook_faults.fault_changed()
        if name == "cabundle-drift":
            for dep in self.store.list("Deployment", shared=True)[0]:
                self.istiods.on_event("MODIFIED", dep, None)


def start(store: Store, faults: Faults) -> Controllers:
    """Start every controller on the running loop (call it on the server's loop thread)."""
    return Controllers(store, faults)
