"""The rehearsal: a canary upgrade played end to end on simcluster, every role by the real part.

A copy of a GitOps repo is the "origin" that the simulated cluster syncs like Argo CD; a clone of it
is the CI checkout where the generator commits each stage on its PR branch; the verifier gates the
PR and checks the merged stage. `istio-canary demo`, the end-to-end tests and `bench/` all drive
the upgrade through this one package.

It sits on top of the others: it imports `core`, `generator`, `verifier` and `simcluster`, and none
of them imports it (`docs/architecture.md` has the import rules).
"""
