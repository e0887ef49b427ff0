"""Helm cleanup safety: nothing uses the old revision before its istiod release may be deleted.

Judged as the cleanup gate's precondition and after cleanup. The old revision is in use while
any of these holds (the Sail operator's "in use" rule, plus what a Helm install adds):

- a pod runs its proxy (decided by what injected it, as everywhere);
- a namespace would get it on its next pod: the injectors the API server would call there
  (live labels, live webhooks) call the old istiod;
- a revision tag, or any webhook configuration other than the old release's own injector and
  validator, calls the old istiod;
- base's default revision (`istiod-default-validator`) is still the old one.

And one state that will not heal by waiting: an Argo CD Application of the old istiod without
`resources-finalizer.argocd.argoproj.io` (or its `/foreground` or `/background` variant, the
only names Argo CD cascades on: `core/argocd.py`). Deleting it from the repo would orphan the
old istiod, its Service and its injector webhook instead of deleting them, leaving two
injectors behind (with a `default` tag, the double-injection trap) - that fails at once. The
control-plane stage writes the finalizer into the old Application, so its absence live means it
was taken off by hand or the repo's Application is not what runs; the message names both fixes.
"""

from __future__ import annotations

from typing import Any

from core.argocd import RESOURCES_FINALIZER as FINALIZER
from core.argocd import cascades
from verifier import pods as P
from verifier.admission import injectors_matching, revision_of_service
from verifier.checks.base import Phase
from verifier.checks.cleanup import NAME, _on
from verifier.checks.helm_tags import validator_revision
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

_MAX = 8


def _own_configs(expect: Expectation) -> set[str]:
    """The old release's own injector and validator (cleanup deletes them with it)."""
    old = expect.plan.source
    suffix = "" if old.revision == "default" else f"-{old.revision}"
    ns = old.namespace
    return {
        f"istio-sidecar-injector{suffix}",
        f"istio-sidecar-injector{suffix}-{ns}",
        f"istio-validator{suffix}-{ns}",
    }


def _shown(items: list[str]) -> str:
    more = f" (+{len(items) - _MAX} more)" if len(items) > _MAX else ""
    return ", ".join(items[:_MAX]) + more


class HelmCleanupSafety:
    """Judged for the cleanup stage of a Helm plan: as the gate's precondition, and after it."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.helm is not None and expect.cleanup_safety

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    view = snap.helm
    if view is None or expect.plan.helm is None:
        return CheckResult.pending(NAME, "webhook configurations not read", unverifiable=True)
    old = expect.plan.source
    evidence: list[dict[str, Any]] = []
    pending: list[str] = []
    failed: list[str] = []
    on_old = sorted(
        f"{P.meta(p).get('namespace')}/{P.meta(p).get('name')}"
        for p in snap.pods
        if P.proxy_container(p) is not None and not P.is_finished(p) and _on(p, expect)
    )
    if on_old:
        evidence.append({"podsOnOldRevision": on_old})
        pending.append(f"{len(on_old)} pod(s) still on {old.revision}: {_shown(on_old)}")
    injectors = view.injectors
    namespaces = sorted(
        ns
        for ns, obj in snap.meshed_namespaces.items()
        if any(
            revision_of_service(h.service) == old.revision
            for h in injectors_matching(injectors, P.labels(obj), {})
        )
    )
    if namespaces:
        evidence.append({"namespacesInjectedByOldRevision": namespaces})
        pending.append(
            f"namespace(s) whose next pod the old revision {old.revision} would inject: "
            f"{_shown(namespaces)}"
        )
    own = _own_configs(expect)
    callers = sorted(
        {
            h.label
            for h in view.mutating_hooks + view.validating_hooks
            if revision_of_service(h.service) == old.revision
            and h.service_namespace == old.namespace
            and h.config not in own
        }
    )
    if callers:
        evidence.append({"webhooksCallingOldRevision": callers})
        pending.append(f"still calling the old istiod {old.istiod}: {_shown(callers)}")
    default, _ = validator_revision(list(view.validating))
    if default == old.revision:
        pending.append(f"base's default revision is still {old.revision}")
    release = expect.plan.helm.istiod_from
    if release.form == "argocd-application":
        for ref, app in snap.gitops.items():
            if ref.kind != "Application" or ref.name != release.object_name or app is None:
                continue
            have = P.meta(app).get("finalizers")
            if not cascades(have):
                evidence.append(
                    {"application": f"{ref.namespace}/{ref.name}", "finalizers": have or None}
                )
                failed.append(
                    f"Application {ref.namespace}/{ref.name} has no {FINALIZER} finalizer: "
                    f"deleting it would orphan istiod {old.istiod}, its Service and its "
                    "injector webhook instead of deleting them; add the finalizer first, in "
                    f"{release.file} (metadata.finalizers) or live "
                    f"(kubectl patch application -n {ref.namespace} {ref.name} --type=merge "
                    f"""-p '{{"metadata":{{"finalizers":["{FINALIZER}"]}}}}')"""
                )
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    return CheckResult.passed(
        NAME,
        f"nothing uses {old.revision}: no pod, namespace, tag, webhook, gateway or default "
        "revision",
        evidence,
    )
