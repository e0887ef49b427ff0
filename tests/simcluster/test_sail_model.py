"""The pure parts of the Sail operator model: version tables, names, in-use and pruning."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from simcluster.sail import status as st
from simcluster.sail.versions import VersionError, revision_name, table_for

Obj = dict[str, Any]
NOW = dt.datetime(2026, 11, 30, 18, 0, 0, tzinfo=dt.UTC)


def test_revision_names_follow_the_strategy_and_keep_an_alias_literally() -> None:
    assert revision_name("default", "RevisionBased", "v1.28.2") == "default-v1-28-2"
    assert revision_name("default", "RevisionBased", "v1.28-latest") == "default-v1-28-latest"
    assert revision_name("default", "InPlace", "v1.28.2") == "default"
    assert revision_name("mesh", None, "v1.28.2") == "mesh"  # InPlace is the default


def test_each_operator_release_installs_its_own_versions() -> None:
    assert table_for("1.29.2").resolve("v1.28-latest") == "v1.28.6"
    assert table_for("1.30.3").resolve("v1.28-latest") == "v1.28.10"
    assert table_for("1.30.5").operator == "1.30.3"  # the newest known not newer than it
    assert table_for(None).resolve("v1.27.0") == "v1.27.0"
    with pytest.raises(VersionError, match="end-of-life"):
        table_for("1.30.3").resolve("v1.27.9")
    with pytest.raises(VersionError, match="not found"):
        table_for("1.29.2").resolve("1.28.2")  # Sail's versions carry the v


def test_conditions_keep_their_transition_time_while_the_status_holds() -> None:
    first = st.set_condition([], st.condition("InUse", True, "ReferencedByWorkloads"), "t1")
    same = st.set_condition(first, st.condition("InUse", True, "ReferencedByWorkloads"), "t2")
    flipped = st.set_condition(same, st.condition("InUse", False, "NotReferencedByAnything"), "t3")
    assert [c["lastTransitionTime"] for c in (*first, *same, *flipped)] == ["t1", "t1", "t3"]
    assert st.derive_state(flipped) == "NotReferencedByAnything"
    assert st.derive_state([st.condition("Ready", True, "Ready")]) == "Healthy"


def ns(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": labels}}


def pod(namespace: str, rev: str = "", phase: str = "Running", **labels: str) -> Obj:
    annotations = {"istio.io/rev": rev} if rev else {}
    return {
        "metadata": {
            "name": "p",
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "status": {"phase": phase},
    }


def test_in_use_reads_tags_namespace_labels_and_the_injected_annotation() -> None:
    tag = {"metadata": {"name": "prod"}, "status": {"istioRevision": "r1"}}
    assert st.revision_in_use("r1", [tag], [], []) == "IstioRevisionTag prod"
    assert st.revision_in_use("default", [], [ns("a", **{"istio-injection": "enabled"})], [])
    # istio-injection wins over istio.io/rev
    both = ns("a", **{"istio-injection": "enabled", "istio.io/rev": "r1"})
    assert st.revision_in_use("r1", [], [both], []) == ""
    assert st.revision_in_use("r1", [], [ns("a")], [pod("a", "r1")]) == "Pod a/p"
    assert st.revision_in_use("r1", [], [ns("a")], [pod("a", "r1", "Succeeded")]) == ""
    labelled = pod("a", **{"istio.io/rev": "r1"})
    assert st.revision_in_use("r1", [], [ns("a")], [labelled]) == "Pod a/p"
    # a pod label counts only in a namespace without an injection label
    assert st.revision_in_use("r1", [], [ns("a", **{"istio.io/rev": "r2"})], [labelled]) == ""
    assert st.tag_in_use("prod", [ns("a", **{"istio.io/rev": "prod"})], [])
    assert not st.tag_in_use("prod", [ns("a")], [pod("a", "prod")])  # annotations name revisions


def revision(name: str, in_use: str, since: str) -> Obj:
    cond = {"type": "InUse", "status": in_use, "lastTransitionTime": since}
    return {"metadata": {"name": name}, "status": {"conditions": [cond]}}


def test_pruning_waits_the_grace_period_and_never_prunes_the_active_or_unknown() -> None:
    revs = [
        revision("old", "False", "2026-11-30T17:59:00Z"),
        revision("older", "False", "2026-11-30T17:59:50Z"),
        revision("unknown", "Unknown", "2026-11-30T17:00:00Z"),
        revision("used", "True", "2026-11-30T17:00:00Z"),
        revision("active", "False", "2026-11-30T17:00:00Z"),
    ]
    doomed, wait = st.prune_due(revs, "active", 30, NOW)
    assert doomed == ["old"]
    assert wait == 20.0
    assert st.prune_due(revs, "active", 3600, NOW) == ([], 3540.0)


def test_readiness_messages() -> None:
    assert st.istiod_ready(None)["message"] == "istiod Deployment not found"
    zero = {"status": {"replicas": 0}}
    assert st.istiod_ready(zero)["message"] == "istiod Deployment is scaled to zero replicas"
    half = {"status": {"replicas": 2, "readyReplicas": 1}}
    assert st.istiod_ready(half)["message"] == "not all istiod pods are ready"
    assert st.istiod_ready({"status": {"replicas": 1, "readyReplicas": 1}})["status"] == "True"
    unscheduled = st.daemonset_ready({"status": {}})
    assert unscheduled["message"] == "no istio-cni-node pods are currently scheduled"


def test_the_sail_faults_have_words_for_a_demo() -> None:
    from rehearsal.faults import SAIL_FAULTS
    from simcluster.faults import KNOWN_FAULTS, SAIL_FAULT_NAMES

    assert tuple(SAIL_FAULTS) == SAIL_FAULT_NAMES
    assert set(SAIL_FAULT_NAMES) <= set(KNOWN_FAULTS)
