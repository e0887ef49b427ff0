"""The pure rule that tells istiod's own webhook rewrites from drift: what it accepts and refuses."""

from __future__ import annotations

import json
from typing import Any

from verifier.webhookdrift import LAST_APPLIED, ca_bundles, churned, istiod_drift

V = "ValidatingWebhookConfiguration"
M = "MutatingWebhookConfiguration"


def _hook(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": {"service": {"name": "istiod", "namespace": "istio-system"}},
        "rules": [{"operations": ["CREATE"], "resources": ["*"]}],
        **extra,
    }


def _config(kind: str, name: str, applied: list[Any], live: list[Any], **labels: str) -> Any:
    rendered = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind}
    rendered |= {"metadata": {"name": name, "labels": {"istio.io/rev": "default"}}}
    rendered["webhooks"] = applied
    meta = {
        "name": name,
        "labels": labels or {"istio.io/rev": "default"},
        "annotations": {LAST_APPLIED: json.dumps(rendered)},
    }
    return {"kind": kind, "metadata": meta, "webhooks": live}


def _app(*resources: tuple[str, str], revision: str = "1.26.4") -> dict[str, Any]:
    return {
        "status": {
            "sync": {"status": "OutOfSync", "revision": "1.26.4"},
            "operationState": {"syncResult": {"revision": revision}},
            "resources": [
                {
                    "group": "admissionregistration.k8s.io",
                    "kind": k,
                    "name": n,
                    "status": "OutOfSync",
                }
                for k, n in resources
            ],
        }
    }


def _istiod_made(kind: str, name: str) -> Any:
    applied = [_hook("a.istio.io", failurePolicy="Ignore" if kind == V else "Fail")]
    live = [_hook("a.istio.io", failurePolicy="Fail", timeoutSeconds=10)]
    live[0]["clientConfig"]["caBundle"] = "LS0tLS1CRUdJTi=="
    return _config(kind, name, applied, live)


def test_only_the_bundle_and_the_validators_failure_policy_are_istiods() -> None:
    live = {(V, "v"): _istiod_made(V, "v"), (M, "m"): _istiod_made(M, "m")}
    drift = istiod_drift(_app((V, "v"), (M, "m")), live)
    assert drift.accepted == (f"{V} v", f"{M} m") and not drift.why


def test_anything_else_is_drift() -> None:
    selector = _istiod_made(V, "v")
    selector["webhooks"][0]["namespaceSelector"] = {"matchLabels": {"x": "y"}}
    selector["metadata"]["annotations"][LAST_APPLIED] = json.dumps(
        {"webhooks": [_hook("a.istio.io", namespaceSelector={"matchLabels": {"x": "z"}})]}
    )
    assert (
        "differs in webhook a.istio.io namespaceSelector"
        in istiod_drift(_app((V, "v")), {(V, "v"): selector}).why
    )
    lax = _istiod_made(M, "m")
    lax["webhooks"][0]["failurePolicy"] = "Ignore"  # only validators are istiod's to flip
    assert "failurePolicy" in istiod_drift(_app((M, "m")), {(M, "m"): lax}).why
    extra = _istiod_made(M, "m")
    extra["webhooks"].append(_hook("b.istio.io"))
    assert "other webhooks" in istiod_drift(_app((M, "m")), {(M, "m"): extra}).why


def test_it_fails_closed_where_the_live_facts_cannot_tell() -> None:
    ok = {(V, "v"): _istiod_made(V, "v")}
    assert "not of the applied revision" in istiod_drift(_app((V, "v"), revision="1.25.0"), ok).why
    assert "not found live" in istiod_drift(_app((V, "v")), {}).why
    unlabelled = _istiod_made(V, "v")
    unlabelled["metadata"]["labels"] = {}
    assert "no istio.io/rev" in istiod_drift(_app((V, "v")), {(V, "v"): unlabelled}).why
    ssa = _istiod_made(V, "v")
    del ssa["metadata"]["annotations"][LAST_APPLIED]
    assert LAST_APPLIED in istiod_drift(_app((V, "v")), {(V, "v"): ssa}).why
    app = _app((V, "v"))
    app["status"]["resources"].append(
        {"group": "apps", "kind": "Deployment", "name": "istiod", "status": "OutOfSync"}
    )
    assert "Deployment istiod is OutOfSync" in istiod_drift(app, ok).why
    app = _app((V, "v"))
    app["status"]["resources"][0]["requiresPruning"] = True
    assert "pruning" in istiod_drift(app, ok).why
    assert "no OutOfSync resource" in istiod_drift(_app(), ok).why


def test_a_bundle_is_churn_only_when_a_set_one_changes() -> None:
    def cfg(name: str, bundle: str, rev: str = "default") -> Any:
        labels = {"istio.io/rev": rev} if rev else {}
        hook = {"name": "w", "clientConfig": {"caBundle": bundle} if bundle else {}}
        return {"metadata": {"name": name, "labels": labels}, "webhooks": [hook]}

    first = ca_bundles([cfg("inj", "")], [cfg("val", "A"), cfg("foreign", "X", rev="")])
    assert first == {f"{M} inj/w": "", f"{V} val/w": "A"}  # istiod patches labelled ones only
    written = ca_bundles([cfg("inj", "A")], [cfg("val", "A")])
    assert churned(first, written) == []  # istiod's first write of its root
    assert churned(written, ca_bundles([cfg("inj", "B")], [cfg("val", "A")])) == [f"{M} inj/w"]
    assert churned({}, written) == []  # nothing to compare with on a run's first read
