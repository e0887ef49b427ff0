"""Switchable faults of the simulated cluster, so tests can rehearse what goes wrong in real ones.

One registry is shared by the API middleware (``api-flaky``), the controllers (``stuck-rollout``,
``webhook-overlap``, ``dangling-validator``, ``cabundle-drift``),
the mesh (``split-trust``) and the GitOps syncer (``no-sync``). Switches may be flipped from any
thread (tests, the HTTP fault endpoint); listeners are told so controllers can re-evaluate.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable

from core.errors import UsageError

__all__ = ["FAULT_NAMES", "FLAKY_ACTIONS", "HELM_FAULT_NAMES", "KNOWN_FAULTS", "Faults"]

FAULT_NAMES: tuple[str, ...] = ("split-trust", "stuck-rollout", "no-sync", "api-flaky")
"""The faults of the seed (Banzai) flavour, which `istio-canary demo --fault` offers.

split-trust: a control plane created while on gets its own root CA (cross-CP mTLS fails).
stuck-rollout: pods created while on never become Ready.
no-sync: the GitOps syncer stops applying commits.
api-flaky: a share of API requests answer 429 + Retry-After, 500, a reset, or hang."""

HELM_FAULT_NAMES: tuple[str, ...] = ("webhook-overlap", "dangling-validator", "cabundle-drift")
"""The faults of upstream Istio installed with Helm (docs/simcluster-helm.md).

webhook-overlap: a second injector webhook configuration, pointing at the oldest upstream istiod,
    matches every namespace an injector already matches (double injection, last one wins).
dangling-validator: the validators point at an istiod Service that does not exist, so creating
    Istio config fails with the API server's webhook call error.
cabundle-drift: upstream istiods keep rewriting their webhooks' caBundle."""

KNOWN_FAULTS: tuple[str, ...] = FAULT_NAMES + HELM_FAULT_NAMES
"""Every fault the registry, `simcluster serve --fault` and the fault endpoint accept."""

FLAKY_ACTIONS: tuple[str, ...] = ("429", "500", "reset", "hang")

Listener = Callable[[str, bool], None]


class Faults:
    """Registry of fault switches; ``flaky_action`` draws from a seeded RNG for repeatable tests."""

    def __init__(
        self, enabled: Iterable[str] = (), *, flaky_share: float = 0.3, seed: int = 0
    ) -> None:
        self._lock = threading.Lock()
        self._on: set[str] = set()
        self._listeners: list[Listener] = []
        self.flaky_share = flaky_share
        self.flaky_actions: tuple[str, ...] = FLAKY_ACTIONS
        self.flaky_paths: tuple[str, ...] = ()  # when set, only paths containing one are flaky
        self._rng = random.Random(seed)
        for name in enabled:
            self.set(name, True)

    @staticmethod
    def check_name(name: str) -> str:
        """Reject unknown names with the list of known ones (a typo must not silently do nothing)."""
        if name not in KNOWN_FAULTS:
            raise UsageError(f"unknown fault {name!r}; known faults: {', '.join(KNOWN_FAULTS)}")
        return name

    def enabled(self, name: str) -> bool:
        self.check_name(name)
        with self._lock:
            return name in self._on

    def active(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(n for n in KNOWN_FAULTS if n in self._on)

    def set(self, name: str, on: bool) -> None:
        """Flip one switch and tell listeners when it changed."""
        self.check_name(name)
        with self._lock:
            changed = (name in self._on) != on
            if on:
                self._on.add(name)
            else:
                self._on.discard(name)
            listeners = list(self._listeners)
        if changed:
            for fn in listeners:
                fn(name, on)

    def subscribe(self, fn: Listener) -> Callable[[], None]:
        """Call ``fn(name, on)`` after every change (on the thread that called ``set``)."""
        with self._lock:
            self._listeners.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._listeners:
                    self._listeners.remove(fn)

        return unsubscribe

    def flaky_action(self) -> str | None:
        """What the API should do with the next request: None (serve it) or one of FLAKY_ACTIONS."""
        if not self.enabled("api-flaky"):
            return None
        with self._lock:
            if self._rng.random() >= self.flaky_share:
                return None
            return self._rng.choice(self.flaky_actions)
