"""Webhook hygiene: no double injection, no webhook calling a missing istiod, one default.

Three traps of a revision upgrade that leave every pod looking fine until the next restart:

- **Overlapping injectors** (istioctl analyze IST0139): the API server calls every injector whose
  namespaceSelector matches the namespace's live labels and whose objectSelector matches the
  pod; Istio's injector re-injects, so the one called last decides the revision, with no error.
  Each namespace some injector could match is evaluated for a plain pod and for the label sets
  of its live pods (and an unlabelled namespace for a pod labelled
  `sidecar.istio.io/inject=true`); two configurations matching one of them is named.
- **A dangling webhook**: an injector, tag or validator that calls an istiod Service that does
  not exist. An injector with `failurePolicy: Fail` refuses every pod it matches; the validator
  refuses all Istio config (istio/istio#35590).
- **Two defaults**: base's `defaultRevision` (`istiod-default-validator`) and the `default` tag
  pointing at different revisions (istio/istio#58578).
- **A CA bundle that keeps changing**: istiod writes its root into its webhooks once, and a
  canary's revisions share one root; a set `caBundle` that differs from the previous
  evaluation's means something keeps rewriting it (`verifier/webhookdrift.py: churned`).

Each is pending (a sync may be half applied) and names the object and the fix; the deadline
turns it into a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verifier import pods as P
from verifier.admission import Hook, injectors_matching
from verifier.checks.base import Phase
from verifier.checks.helm_tags import VALIDATOR, config_revisions, validator_revision
from verifier.expectation import Expectation
from verifier.helmview import HelmView
from verifier.result import CheckResult
from verifier.snapshot import Snapshot
from verifier.webhookdrift import ca_bundles, churned

NAME = "webhooks"
_MAX = 6


class WebhookHygiene:
    """Judged at every stage of a Helm plan."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.helm is not None

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def overlaps(snap: Snapshot, view: HelmView) -> list[tuple[str, list[Hook]]]:
    """(namespace, the injectors of two or more configurations a pod there would meet)."""
    injectors = view.injectors
    namespaces: dict[str, Mapping[str, str]] = {
        name: _labels(obj) for name, obj in snap.meshed_namespaces.items()
    }
    namespaces.update({n: _labels(o) for n, o in view.namespaces.items() if o is not None})
    cases: list[tuple[str, Mapping[str, str], Mapping[str, str]]] = [
        ("(any unlabelled namespace)", {}, {"sidecar.istio.io/inject": "true"})
    ]
    for ns, ns_labels in sorted(namespaces.items()):
        seen: set[tuple[tuple[str, str], ...]] = set()
        plain: list[Mapping[str, str]] = [{}]
        for pod_labels in plain + [P.labels(p) for p in snap.pods_in(ns) if not P.is_finished(p)]:
            key = tuple(sorted(pod_labels.items()))
            if key not in seen:
                seen.add(key)
                cases.append((ns, ns_labels, pod_labels))
    found: dict[str, list[Hook]] = {}
    for ns, ns_labels, pod_labels in cases:
        hit = injectors_matching(injectors, ns_labels, pod_labels)
        if len({h.config for h in hit}) > 1 and ns not in found:
            found[ns] = hit
    return sorted(found.items())


def dangling(view: HelmView) -> list[Hook]:
    """Istio webhooks that call an istiod Service which does not exist."""
    out = []
    for h in view.injectors + view.validating_hooks:
        if not h.service.startswith("istiod") or h.service_namespace not in view.services_read:
            continue
        if view.service(h.service_namespace, h.service) is None:
            out.append(h)
    return out


def _fix_dangling(h: Hook) -> str:
    if h.config == VALIDATOR:
        return "set base's defaultRevision to a revision that runs"
    if "istio.io/tag" in h.labels:
        return f"point tag {h.labels['istio.io/tag']} at a revision that runs, or remove it"
    return f"delete {h.kind} {h.config}, or bring its istiod back"


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    view = snap.helm
    if view is None:
        return CheckResult.pending(NAME, "webhook configurations not read", unverifiable=True)
    evidence: list[dict[str, Any]] = []
    problems: list[str] = []
    for ns, hit in overlaps(snap, view):
        configs = sorted({h.config for h in hit})
        evidence.append(
            {"namespace": ns, "overlappingInjectors": [f"{h.config}/{h.name} -> {h.target}" for h in hit]}
        )  # fmt: skip
        problems.append(
            f"double injection in {ns}: MutatingWebhookConfigurations {', '.join(configs)} all "
            f"match its pods (calling {', '.join(sorted({h.target for h in hit}))}); the one the "
            f"API server calls last ({hit[-1].config}) decides the revision, silently; delete "
            "the one that should not inject there, or relabel the namespace"
        )
    for h in dangling(view):
        evidence.append({"dangling": h.label, "calls": h.target})
        problems.append(
            f"{h.label} calls Service {h.target}, which does not exist "
            f"({'every Istio config change is refused' if h.kind.startswith('Validating') else 'pods it matches are refused'}); "
            f"{_fix_dangling(h)}"
        )
    default_tags = view.tag_configs().get("default", [])
    validator, exists = validator_revision(list(view.validating))
    if default_tags and exists:
        tag_revs = set().union(
            *(config_revisions(c, "MutatingWebhookConfiguration") for c in default_tags)
        )
        evidence.append({"defaultTag": sorted(tag_revs), "defaultRevision": validator})
        if tag_revs != {validator}:
            problems.append(
                f"the default tag points at {', '.join(sorted(tag_revs))} but base's "
                f"defaultRevision ({VALIDATOR}) calls {validator}: istio-injection=enabled "
                "namespaces and config validation are served by different revisions; set both "
                "to one revision in the same commit"
            )
    now = set(churned(view.earlier_bundles, ca_bundles(view.mutating, view.validating)))
    changed = sorted(now | {k for k, n in view.bundle_changes.items() if n >= 2})
    if changed:
        times = {k: view.bundle_changes.get(k, 1) for k in changed}
        evidence.append({"caBundleChanged": times})
        shown = ", ".join(f"{k} ({times[k]}x)" for k in changed[:3])
        problems.append(
            f"the caBundle of {shown}{' ...' if len(changed) > 3 else ''} changed during this "
            "run: something keeps rewriting istiod's CA bundle (istiods of different roots, a "
            "CA being replaced, or a sync fighting istiod), and the API server's webhook calls "
            "fail TLS while it does; find the writer (kubectl get mutatingwebhookconfigurations "
            "-o yaml --show-managed-fields), stop it and run the gate again"
        )
    if problems:
        more = f" (+{len(problems) - _MAX} more)" if len(problems) > _MAX else ""
        return CheckResult.pending(NAME, "; ".join(problems[:_MAX]) + more, evidence)
    n = len(view.injectors)
    return CheckResult.passed(
        NAME,
        f"{n} injector webhook(s), no two match one namespace; every Istio webhook calls an "
        "existing istiod; one default revision",
        evidence,
    )
