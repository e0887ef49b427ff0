"""The faults registry: names are checked, switches notify, api-flaky is repeatable by seed."""

from __future__ import annotations

import pytest

from core.errors import UsageError
from simcluster.faults import FLAKY_ACTIONS, Faults


def test_switches_notify_only_on_change() -> None:
    faults = Faults(["no-sync"])
    seen: list[tuple[str, bool]] = []
    faults.subscribe(lambda name, on: seen.append((name, on)))
    assert faults.enabled("no-sync") and not faults.enabled("split-trust")
    faults.set("no-sync", True)
    faults.set("split-trust", True)
    faults.set("no-sync", False)
    assert seen == [("split-trust", True), ("no-sync", False)]
    assert faults.active() == ("split-trust",)


def test_unknown_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown fault 'split-brain'.*split-trust"):
        Faults(["split-brain"])


def test_flaky_is_off_until_enabled_and_deterministic_by_seed() -> None:
    faults = Faults(flaky_share=0.5, seed=7)
    assert {faults.flaky_action() for _ in range(50)} == {None}
    faults.set("api-flaky", True)
    first = [faults.flaky_action() for _ in range(400)]
    again = Faults(["api-flaky"], flaky_share=0.5, seed=7)
    assert [again.flaky_action() for _ in range(400)] == first
    hits = [a for a in first if a is not None]
    assert set(hits) == set(FLAKY_ACTIONS)
    assert 150 < len(hits) < 250  # about half, as asked
