"""The Sail operator's own rules, as `verifier.sailview` applies them to objects read once.

Facts from istio-ecosystem/sail-operator (commit 328df99d): `pkg/revision/references.go`
(`istio-injection=enabled` names `default` and wins over `istio.io/rev`; a pod's injector
annotation names the revision that injected it; a pod label counts only where the namespace
names nothing, and `sidecar.istio.io/inject=false` opts out), and
`controllers/istiorevision` (`isRevisionReferenced`: tags by `status.istioRevision`, then
namespaces, then pods not `Succeeded`).
"""

from __future__ import annotations

from typing import Any

from verifier.sailview import SailView, condition, namespace_revision, pod_revision, references

Obj = dict[str, Any]


def pod(
    ns: str, name: str, *, ann: str = "", labels: Obj | None = None, phase: str = "Running"
) -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "labels": labels or {}}
    if ann:
        meta["annotations"] = {"istio.io/rev": ann}
    return {"metadata": meta, "status": {"phase": phase}}


def namespace(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": labels}}


def test_istio_injection_enabled_names_default_and_wins_over_istio_io_rev() -> None:
    assert namespace_revision({"istio-injection": "enabled", "istio.io/rev": "prod"}) == "default"
    assert namespace_revision({"istio-injection": "disabled", "istio.io/rev": "prod"}) == "prod"
    assert namespace_revision({}) == ""


def test_the_injector_annotation_names_the_revision_whatever_the_namespace_says() -> None:
    labelled = {"istio.io/rev": "default-v1-28-6"}
    p = pod("demo", "a", ann="default-v1-27-9", labels={"sidecar.istio.io/inject": "false"})
    assert pod_revision(p, labelled) == (
        "default-v1-27-9",
        "its istio.io/rev annotation (the injector's)",
    )


def test_a_pod_label_counts_only_where_the_namespace_names_nothing() -> None:
    p = pod("demo", "a", labels={"istio.io/rev": "canary"})
    assert pod_revision(p, {"istio.io/rev": "stable"}) == ("", "")
    assert pod_revision(p, {}) == ("canary", "its istio.io/rev label")
    opted_out = pod(
        "demo", "b", labels={"istio.io/rev": "canary", "sidecar.istio.io/inject": "false"}
    )
    assert pod_revision(opted_out, {}) == ("", "")
    inject = pod("demo", "c", labels={"sidecar.istio.io/inject": "true"})
    assert pod_revision(inject, {})[0] == "default"


def test_a_succeeded_pod_names_nothing() -> None:
    assert pod_revision(pod("jobs", "done", ann="old", phase="Succeeded"), {}) == ("", "")


def test_references_name_every_tag_namespace_and_pod_that_keeps_a_revision_in_use() -> None:
    view = SailView(
        tags={"prod": {"metadata": {"name": "prod"}, "status": {"istioRevision": "new"}}},
    )
    pods = [
        pod("demo", "app-1", ann="old"),
        pod("demo", "app-2", ann="new"),
        pod("plain", "debug", labels={"istio.io/rev": "old"}),
        pod("demo", "ignored-label", labels={"istio.io/rev": "old"}),  # demo names prod
    ]
    namespaces = {"demo": namespace("demo", **{"istio.io/rev": "prod"})}
    refs = references(view, pods, namespaces)
    assert refs["new"] == [
        "IstioRevisionTag prod",
        "pod demo/app-2 (its istio.io/rev annotation (the injector's))",
    ]
    assert refs["prod"] == ["namespace demo (istio.io/rev=prod)"]
    assert refs["old"] == [
        "pod demo/app-1 (its istio.io/rev annotation (the injector's))",
        "pod plain/debug (its istio.io/rev label)",
    ]


def test_a_missing_condition_reads_as_unknown_as_in_sail() -> None:
    assert condition(None, "InUse").status == "Unknown"
    obj = {"status": {"conditions": [{"type": "InUse", "status": "False",
                                      "reason": "NotReferencedByAnything"}]}}  # fmt: skip
    assert str(condition(obj, "InUse")) == "InUse=False NotReferencedByAnything"
    assert not condition(obj, "InUse").true


def test_a_default_revision_injecting_every_namespace_is_always_in_use() -> None:
    def default(enabled: bool) -> Obj:
        webhook = {"enableNamespacesByDefault": enabled}
        return {"metadata": {"name": "default"},
                "spec": {"values": {"sidecarInjectorWebhook": webhook}}}  # fmt: skip

    assert references(SailView(revisions={"default": default(True)}), [], {})["default"] == [
        "IstioRevision default (values.sidecarInjectorWebhook.enableNamespacesByDefault)"
    ]
    assert references(SailView(revisions={"default": default(False)}), [], {}) == {}
