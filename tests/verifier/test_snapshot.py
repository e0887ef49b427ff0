"""collect(): what one evaluation reads, through the narrow ClusterReader protocol (a hand fake).

The same code runs against simcluster in test_sim_gate.py; this pins down the request shape:
one cluster-wide pod list, and namespace lists filtered by label so their size stays constant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.verifier import builders as B
from verifier.expectation import expect_stage
from verifier.resources import Resource
from verifier.snapshot import collect


class FakeCluster:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        self.chunks: dict[tuple[str, str | None], int] = {}

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        label_selector: str | None = None,
        chunk: int = 500,
    ) -> Sequence[Mapping[str, Any]]:
        self.calls.append(("list", resource.plural, label_selector))
        self.chunks[(resource.plural, label_selector)] = chunk
        if resource.plural == "pods":
            return B.healthy(3).pods
        if (
            resource.plural == "namespaces"
            and label_selector == "istio-injection=enabled,istio.io/rev"
        ):
            return [{"metadata": {"name": "demo-a"}}]
        return []

    def get_or_none(
        self, resource: Resource, namespace: str, name: str
    ) -> Mapping[str, Any] | None:
        self.calls.append(("get", resource.plural, f"{namespace}/{name}"))
        return None


def test_a_namespaces_stage_reads_pods_once_and_only_conflicting_namespaces() -> None:
    fake = FakeCluster()
    snap = collect(fake, expect_stage(B.plan(), 3))
    assert [c for c in fake.calls if c[1] == "pods"] == [("list", "pods", None)]
    assert ("list", "namespaces", "istio-injection=enabled,istio.io/rev") in fake.calls
    assert snap.legacy_injection == frozenset({"demo-a"})
    # the Endpoints of each probe target (every endpoint is probed), the istiods, the gateway
    assert sorted(c[2] or "" for c in fake.calls if c[0] == "get") == [
        "demo-a/app-a",
        "demo-b/app-b",
        "istio-system/istio-ingressgateway",
        "istio-system/istiod",
        "istio-system/istiod-istio-sample-v17x",
    ]
    assert len(snap.pods_in("demo-a")) == 1


def test_the_lists_that_grow_with_the_cluster_are_read_in_pages_of_a_thousand() -> None:
    # twice kubectl's 500: with the meshed namespaces and the Helm reads, an evaluation still
    # makes fewer list requests than `kubectl get pods -A` (bench/helm_verifier_bench.py)
    fake = FakeCluster()
    collect(fake, expect_stage(B.plan(), 3))
    assert fake.chunks[("pods", None)] == 1000
    assert fake.chunks[("namespaces", "istio.io/rev")] == 1000
    assert fake.chunks[("namespaces", "istio-injection")] == 1000


def test_before_cleanup_every_namespace_labelled_for_the_old_revision_is_read() -> None:
    fake = FakeCluster()
    collect(fake, expect_stage(B.plan(), 4, with_next_preconditions=True))
    selectors = {c[2] for c in fake.calls if c[1] == "namespaces"}
    assert selectors == {
        "istio-injection=enabled",
        "istio.io/rev=istio-sample.istio-system",
        "istio-injection",  # every namespace some control plane could inject, planned or not
        "istio.io/rev",
    }
