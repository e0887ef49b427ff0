"""Revision tags and the default revision point where the plan says after this stage.

A tag is a MutatingWebhookConfiguration labelled `istio.io/tag=<tag>` and `istio.io/rev=<rev>`
whose webhooks call `istiod-<rev>` (`revision-tags-mwc.yaml`); what it calls decides, and its label
must agree. The plan says which revision each tag points at after stage N
(`Plan.tag_revision`): a stable tag leaves the old release at tags-drop (no webhook until
tags-take), a canary tag exists from control-plane on, `default` moves with base's
`defaultRevision`. The default revision is `istiod-default-validator` (base chart), which calls
`istiod` (`defaultRevision: default`) or `istiod-<defaultRevision>`. A difference is pending:
the engine may still be applying the stage; the deadline turns it into a failure naming it.

While a tag has no webhook (between tags-drop and the stage that gives it back), a namespace still
selected by it would start its new pods without a sidecar: one labelled `istio.io/rev=<tag>`, or,
for the `default` tag, one labelled `istio-injection=enabled`. The waves moved every planned
namespace off the stable tags first, so such a namespace was added or relabelled by hand after
`init`; that fails at once, naming it and the label that injects it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verifier.admission import hooks, revision_of_service
from verifier.checks.base import Phase
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

NAME = "revision-tags"
VALIDATOR = "istiod-default-validator"


def config_revisions(cfg: Mapping[str, Any], kind: str) -> set[str]:
    """The revisions a configuration's webhooks call (by their istiod Service)."""
    return {revision_of_service(h.service) or f"?{h.service}" for h in hooks([cfg], kind)}


def _untagged(snap: Snapshot, gone: set[str], revision: str) -> list[str]:
    """Namespaces selected only by a tag that has no webhook after this stage."""
    out: list[str] = []
    for name, ns in sorted(snap.meshed_namespaces.items()):
        labels = (ns.get("metadata") or {}).get("labels") or {}
        legacy = labels.get("istio-injection") == "enabled"
        tag = "default" if legacy else str(labels.get("istio.io/rev", ""))
        if tag in gone:
            how = "istio-injection=enabled" if legacy else f"istio.io/rev={tag}"
            out.append(
                f"namespace {name} is labelled {how}, but tag {tag} has no webhook after this "
                f"stage, so its new pods start without a sidecar; move it to the new revision "
                f"(`kubectl label ns {name} istio-injection- istio.io/rev={revision} "
                "--overwrite`, and in Git) or revert the stage"
            )
    return out


def validator_revision(validating: list[Mapping[str, Any]]) -> tuple[str, bool]:
    """(the revision `istiod-default-validator` calls, whether it exists)."""
    for cfg in validating:
        if (cfg.get("metadata") or {}).get("name") == VALIDATOR:
            revs = config_revisions(cfg, "ValidatingWebhookConfiguration")
            return (next(iter(revs)) if len(revs) == 1 else ",".join(sorted(revs))), True
    return "", False


class RevisionTags:
    """Judged at every stage of a Helm plan."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.helm is not None

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    view, helm = snap.helm, expect.helm
    if view is None or helm is None:
        return CheckResult.pending(NAME, "webhook configurations not read", unverifiable=True)
    evidence: list[dict[str, Any]] = []
    pending: list[str] = []
    live = view.tag_configs()
    for tag, want in sorted(helm.tags.items()):
        configs = live.get(tag, [])
        names = sorted(str((c.get("metadata") or {}).get("name")) for c in configs)
        calls = set().union(*(config_revisions(c, "MutatingWebhookConfiguration") for c in configs))
        labelled = {
            str(((c.get("metadata") or {}).get("labels") or {}).get("istio.io/rev"))
            for c in configs
        }
        evidence.append(
            {"tag": tag, "expectedRevision": want or "(none)", "webhooks": names,
             "calls": sorted(calls), "labelled": sorted(labelled)}
        )  # fmt: skip
        if not want and configs:
            pending.append(
                f"tag {tag} should have no webhook after this stage, but {', '.join(names)} "
                f"still calls {', '.join(sorted(calls))}"
            )
        elif want and not configs:
            pending.append(
                f"tag {tag} has no webhook (MutatingWebhookConfiguration labelled "
                f"istio.io/tag={tag}); expected it to point at {want}"
            )
        elif want and (calls != {want} or labelled != {want}):
            pending.append(
                f"tag {tag} ({', '.join(names)}) calls {', '.join(sorted(calls))} and is labelled "
                f"istio.io/rev={', '.join(sorted(labelled))}; expected {want}"
            )
    # only a tag the old release had and has let go of: a tag that is not there yet (a canary
    # tag before control-plane, a `default` tag the new release takes over from a non-revisioned
    # istiod, whose own injector serves istio-injection=enabled meanwhile) takes nothing away
    had = set(expect.plan.helm.istiod_from.tags) if expect.plan.helm is not None else set()
    gone = {t for t, w in helm.tags.items() if not w and t in had}
    orphans = _untagged(snap, gone, expect.plan.target.revision)
    if orphans:
        return CheckResult.failed(NAME, "; ".join(orphans), evidence)
    want = helm.default_revision
    got, exists = validator_revision(list(view.validating))
    evidence.append(
        {"defaultRevision": want or "(none)", "validatorCalls": got, "validator": exists}
    )
    if want and not exists:
        pending.append(
            f"ValidatingWebhookConfiguration {VALIDATOR} not found; base's defaultRevision "
            f"{want} renders it"
        )
    elif want and got != want:
        pending.append(
            f"ValidatingWebhookConfiguration {VALIDATOR} calls revision {got}; base's "
            f"defaultRevision is {want} after this stage"
        )
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    shown = ", ".join(f"{t} -> {r or '(none)'}" for t, r in sorted(helm.tags.items()))
    return CheckResult.passed(
        NAME, f"default revision {want or '(none)'}; tags: {shown or 'none'}", evidence
    )
