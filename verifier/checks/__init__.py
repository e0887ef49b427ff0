"""Pure checks: each takes a snapshot (and the plan's expectation) and returns a CheckResult.

Only `verifier.runner` waits and decides; a check never sleeps, retries or talks to the cluster.
"""
