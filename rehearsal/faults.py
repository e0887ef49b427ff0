"""The simcluster faults the demo can inject, and what each does in words for its closing line.

Kept apart from the demo so the `--fault` choices are known without importing simcluster; a test
checks the names against simcluster's own list.
"""

from __future__ import annotations

__all__ = ["FAULTS", "HELM_FAULTS", "SAIL_FAULTS"]

FAULTS: dict[str, str] = {
    "split-trust": "the new control plane got its own root CA, so mTLS between 1.6 and 1.7 "
    "sidecars fails: exactly what the shared trust of a canary upgrade must rule out",
    "stuck-rollout": "new pods never become Ready, so the restarted workloads never roll out",
    "no-sync": "the simulated Argo CD stopped applying main, so no merged stage reaches the cluster",
    "api-flaky": "the Kubernetes API answers some requests with 429/500, resets or hangs",
}

# The Helm flavour's faults (`istio-canary demo --flavour helm`), each caught by the first gate
# after it is switched on. `cabundle-drift` breaks nothing Argo CD judges (the example's
# Applications ignore caBundle) and the cluster never settles, but the demo stops at the first
# gate, before any merge waits for a settle: the gate names a CA bundle that changed twice in
# one run.
HELM_FAULTS: dict[str, str] = {
    "webhook-overlap": "an extra injector calls the old istiod for every labelled namespace, so "
    "restarted pods would silently land on the old revision (double injection)",
    "dangling-validator": "istiod-default-validator calls a Service that does not exist, so every "
    "Istio config change is refused",
    "cabundle-drift": "istiod keeps rewriting its webhooks' caBundle, so the API server's calls "
    "to istiod fail TLS whenever its bundle and istiod's certificate disagree",
}

SAIL_FAULTS: dict[str, str] = {
    "revision-stuck": "the Sail operator's new IstioRevision never gets Ready, so no workload "
    "may move to it",
    "in-use-forever": "a forgotten pod keeps the old Sail revision in use, so the operator never "
    "deletes it; the first gate that expects its namespace on the new revision names the pod "
    "(the cleanup gate would too)",
}
"""The Sail flavour's faults (simcluster's SAIL_FAULT_NAMES), for a Sail demo's closing line."""
