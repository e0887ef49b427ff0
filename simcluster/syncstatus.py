"""What Argo CD and Flux write into their objects' status after a sync, field by field.

Argo CD Application: ``sync`` (status, revision, comparedTo), ``operationState`` (phase,
message, startedAt, finishedAt, ``syncResult.revision`` and resources), ``history``,
``health`` (the worst resource health, with lastTransitionTime), ``resources``, ``summary``,
``sourceType`` and ``reconciledAt``. Flux Kustomization: ``lastAppliedRevision`` /
``lastAttemptedRevision`` as ``<branch>@sha1:<sha>``, ``observedGeneration``, the ``Ready``
condition (health-gated with ``spec.wait``), ``inventory`` and ``lastHandledReconcileAt``.
Flux HelmRelease of an Istio chart: ``Ready`` and ``Released`` conditions (Ready once the
release's workloads are healthy, as helm-controller waits by default), ``history`` (chart
version, release version, config digest), ``lastAttemptedRevision`` and ``observedGeneration``.
An Application whose webhook configurations differ live from Git (istiod's ``caBundle`` and
``failurePolicy``) is OutOfSync unless ``ignoreDifferences`` covers the fields (``argodiff.py``).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from simcluster.apiobject import deep_copy, now_rfc3339
from simcluster.argodiff import WEBHOOK_KINDS, differences, ignored, rules_for
from simcluster.controllers.kubelet import pod_ready
from simcluster.kinds import store_key
from simcluster.store import Store

if TYPE_CHECKING:
    from simcluster.gitops import Source

__all__ = [
    "DEPENDENCY_ERROR",
    "HEALTH_ORDER",
    "REQUESTED_AT",
    "TOOLING_GROUPS",
    "SyncStatus",
    "is_tooling",
    "resource_health",
]

Obj = dict[str, Any]
HEALTH_ORDER = ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
# helm-controller's error for a `dependsOn` HelmRelease it cannot get (checkDependencies), which
# it reports as Ready False, reason DependencyNotReady
DEPENDENCY_ERROR = "unable to get '{namespace}/{name}' dependency: {cause}"


TOOLING_GROUPS = frozenset(
    {
        "source.toolkit.fluxcd.io",
        "notification.toolkit.fluxcd.io",
        "image.toolkit.fluxcd.io",
        "apiextensions.k8s.io",
    }
)


def is_tooling(obj: Obj) -> bool:
    """GitOps plumbing and CRDs the simulation does not model (its CRDs are built in): Flux
    sources and notifications, Argo CD AppProjects. Real controllers accept them; so do we."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    if group in TOOLING_GROUPS or (group == "argoproj.io" and obj.get("kind") == "AppProject"):
        return True
    return obj.get("kind") == "CustomResourceDefinition"


class SyncStatus:
    """Writes Application / Kustomization status from a sync's outcome and the live objects."""

    def __init__(self, store: Store, branch: str) -> None:
        self.store = store
        self.branch = branch

    def application(
        self,
        app: Obj,
        source: Source,
        sha: str,
        started: str,
        results: list[Obj],
        errors: list[str],
        changed: bool,
        automated: bool,
    ) -> None:
        spec = app.get("spec") or {}
        src = deep_copy(spec.get("source") or {})
        old = app.get("status") or {}
        now = now_rfc3339()
        status = deep_copy(old)
        synced = not errors and automated
        status["sync"] = {
            "status": "Synced" if synced else "OutOfSync",
            "revision": sha,
            "comparedTo": {"source": src, "destination": deep_copy(spec.get("destination") or {})},
        }
        if source.revisions:  # a multi-source Application records one revision per source
            status["sync"] = {
                "status": status["sync"]["status"],
                "revisions": list(source.revisions),
                "comparedTo": {
                    "sources": deep_copy(spec.get("sources") or []),
                    "destination": deep_copy(spec.get("destination") or {}),
                },
            }
        last_op = old.get("operationState") or {}
        last_result = last_op.get("syncResult") or {}
        new_operation = automated and (
            changed
            or errors
            or (
                last_result.get("revisions") != source.revisions
                if source.revisions
                else last_result.get("revision") != sha
            )
        )
        if new_operation:
            phase = "Failed" if errors else "Succeeded"
            status["operationState"] = {
                "phase": phase,
                "message": "; ".join(errors) if errors else "successfully synced (all tasks run)",
                "startedAt": started,
                "finishedAt": now,
                "operation": {
                    "sync": {
                        "revision": sha,
                        "prune": True,
                        "syncOptions": list(
                            (spec.get("syncPolicy") or {}).get("syncOptions") or []
                        ),
                    },
                    "initiatedBy": {"automated": True},
                    "retry": {"limit": 5},
                },
                "syncResult": {"revision": sha, "source": src, "resources": results},
            }
            if source.revisions:
                status["operationState"]["syncResult"] = {
                    "revisions": list(source.revisions),
                    "sources": deep_copy(spec.get("sources") or []),
                    "resources": results,
                }
            history = list(old.get("history") or [])
            if phase == "Succeeded" and (not history or history[-1].get("revision") != sha):
                history.append(
                    {
                        "id": len(history),
                        "revision": sha,
                        "deployedAt": now,
                        "deployStartedAt": started,
                        "source": src,
                    }
                )
                status["history"] = history[-10:]
            status["reconciledAt"] = now
        if errors:
            status["conditions"] = [
                {"type": "SyncError", "message": "; ".join(errors), "lastTransitionTime": now}
            ]
        else:
            status.pop("conditions", None)
        status["sourceType"] = source.source_type
        status["summary"] = {"images": sorted(self._images(source))} if self._images(source) else {}
        self.health(app, status, source)

    def _images(self, source: Source) -> set[str]:
        images: set[str] = set()
        for obj in source.desired:
            template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
            for c in (template.get("containers") or []) + (template.get("initContainers") or []):
                if c.get("image"):
                    images.add(str(c["image"]))
        return images

    def health(self, app: Obj, status: Obj, source: Source) -> None:
        """Aggregate resource health like Argo CD: the worst resource's status wins."""
        resources = []
        worst = "Healthy"
        drifted: list[str] = []
        for obj in source.desired:
            meta = obj["metadata"]
            if is_tooling(obj):
                continue
            live = self.store.get(store_key(obj), meta.get("namespace"), str(meta["name"]))
            health = resource_health(live) if live is not None else "Missing"
            group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
            in_sync = live is not None
            if live is not None and obj.get("kind") in WEBHOOK_KINDS:
                rules = rules_for(app, obj)
                diffs = [d for d in differences(obj, live) if not ignored(d, rules)]
                if diffs:
                    in_sync = False
                    drifted.append(f"{obj['kind']}/{meta['name']} {', '.join(diffs)}")
            entry: Obj = {
                "group": group,
                "version": version,
                "kind": obj["kind"],
                "name": meta["name"],
                "status": "Synced" if in_sync else "OutOfSync",
            }
            if meta.get("namespace"):
                entry["namespace"] = meta["namespace"]
            if health is not None:
                entry["health"] = {"status": health}
                if HEALTH_ORDER.index(health) > HEALTH_ORDER.index(worst):
                    worst = health
            resources.append(entry)
        status["resources"] = resources
        sync = status.get("sync")
        if isinstance(sync, dict) and source.helm:
            automated = "automated" in ((app.get("spec") or {}).get("syncPolicy") or {})
            failing = any(c.get("type") == "SyncError" for c in status.get("conditions") or [])
            sync["status"] = "OutOfSync" if drifted or failing or not automated else "Synced"
        now = now_rfc3339()
        old_health = (app.get("status") or {}).get("health") or {}
        if old_health.get("status") != worst:
            status["health"] = {"status": worst, "lastTransitionTime": now}
            status["reconciledAt"] = now
        else:
            status["health"] = old_health
        if status != app.get("status"):
            app["status"] = status
            self.store.update(app, status_only=True)

    def kustomization(
        self, ks: Obj, source: Source, sha: str, errors: list[str], suspended: bool
    ) -> None:
        old = ks.get("status") or {}
        now = now_rfc3339()
        revision = f"{self.branch}@sha1:{sha}"
        generation = ks["metadata"].get("generation", 1)
        status = deep_copy(old)
        status["observedGeneration"] = generation
        status["lastAttemptedRevision"] = revision
        wait = bool((ks.get("spec") or {}).get("wait"))
        healthy = all(
            resource_health(
                self.store.get(
                    store_key(o), o["metadata"].get("namespace"), str(o["metadata"]["name"])
                )
            )
            in ("Healthy", None)
            for o in source.desired
            if not is_tooling(o)
        )
        if errors:
            ready = ("False", "ReconciliationFailed", "; ".join(errors))
        elif suspended:
            ready = (
                next(
                    (c["status"] for c in old.get("conditions") or [] if c["type"] == "Ready"),
                    "Unknown",
                ),
                "Suspended",
                "Reconciliation is suspended",
            )
        elif wait and not healthy:
            ready = ("Unknown", "Progressing", "Reconciliation in progress")
            status["lastAppliedRevision"] = old.get("lastAppliedRevision", "")
        else:
            ready = ("True", "ReconciliationSucceeded", f"Applied revision: {revision}")
            status["lastAppliedRevision"] = revision
            status["inventory"] = {
                "entries": [
                    {
                        "id": f"{o['metadata'].get('namespace', '')}_{o['metadata']['name']}_{str(o.get('apiVersion', '')).rpartition('/')[0]}_{o['kind']}",
                        "v": str(o.get("apiVersion", "")).rpartition("/")[2],
                    }
                    for o in source.desired
                ]
            }
        prev = next((c for c in old.get("conditions") or [] if c.get("type") == "Ready"), None)
        same = (
            prev is not None
            and (prev.get("status"), prev.get("reason"), prev.get("message")) == ready
        )
        status["conditions"] = [
            {
                "type": "Ready",
                "status": ready[0],
                "reason": ready[1],
                "message": ready[2],
                "observedGeneration": generation,
                "lastTransitionTime": prev["lastTransitionTime"] if same and prev else now,
            }
        ]
        requested = (ks["metadata"].get("annotations") or {}).get(REQUESTED_AT)
        if requested:
            status["lastHandledReconcileAt"] = requested
        if status != old:
            ks["status"] = status
            self.store.update(ks, status_only=True)

    def helmrelease(self, hr: Obj, source: Source, errors: list[str], suspended: bool) -> None:
        """helm-controller's status for a release of an Istio chart."""
        old = hr.get("status") or {}
        now = now_rfc3339()
        generation = hr["metadata"].get("generation", 1)
        release = source.release
        status = deep_copy(old)
        prev = {c.get("type"): c for c in old.get("conditions") or []}
        history = list(old.get("history") or [])
        conditions: list[tuple[str, str, str, str]] = []
        if errors or release is None:
            message = "; ".join(errors) or "not a release of an Istio chart"
            held = bool(errors) and all(e.startswith("unable to get '") for e in errors)
            conditions.append(
                ("Ready", "False", "DependencyNotReady" if held else "InitFailed", message)
            )
        elif suspended:
            ready = prev.get("Ready") or {}
            conditions.append(
                (
                    "Ready",
                    str(ready.get("status", "Unknown")),
                    "Suspended",
                    "Reconciliation is suspended",
                )
            )
        else:
            digest = (
                "sha256:"
                + hashlib.sha256(json.dumps(release.values, sort_keys=True).encode()).hexdigest()
            )
            top = history[0] if history else None
            if top is None or (top.get("chartVersion"), top.get("configDigest")) != (
                release.version,
                digest,
            ):
                number = int(top.get("version", 0)) + 1 if top else 1
                action = "install" if top is None else "upgrade"
                history.insert(
                    0,
                    {
                        "name": release.release,
                        "namespace": release.namespace,
                        "chartName": release.chart,
                        "chartVersion": release.version,
                        "appVersion": release.version,
                        "configDigest": digest,
                        "firstDeployed": (top or {}).get("firstDeployed", now),
                        "lastDeployed": now,
                        "status": "deployed",
                        "version": number,
                    },
                )
                for entry in history[1:]:
                    if entry.get("status") == "deployed":
                        entry["status"] = "superseded"
                status["lastAttemptedReleaseAction"] = action
            top = history[0]
            verb = "install" if top["version"] == 1 else "upgrade"
            done = (
                f"Helm {verb} succeeded for release {release.namespace}/{release.release}"
                f".v{top['version']} with chart {release.chart}@{release.version}"
            )
            healthy = all(
                resource_health(
                    self.store.get(
                        store_key(o), o["metadata"].get("namespace"), str(o["metadata"]["name"])
                    )
                )
                in ("Healthy", None)
                for o in source.desired
            )
            reason = "InstallSucceeded" if verb == "install" else "UpgradeSucceeded"
            conditions.append(("Released", "True", reason, done))
            if healthy:
                conditions.append(("Ready", "True", reason, done))
            else:
                conditions.append(
                    (
                        "Ready",
                        "Unknown",
                        "Progressing",
                        f"Running '{verb}' action with timeout of 5m0s",
                    )
                )
            status["history"] = history[:5]
            status["lastAttemptedRevision"] = release.version
            status["lastAttemptedGeneration"] = generation
        status["conditions"] = [
            {
                "type": ctype,
                "status": cstatus,
                "reason": reason,
                "message": message,
                "observedGeneration": generation,
                "lastTransitionTime": prev[ctype]["lastTransitionTime"]
                if ctype in prev and prev[ctype].get("status") == cstatus
                else now,
            }
            for ctype, cstatus, reason, message in conditions
        ]
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        if ready["status"] != "Unknown":
            status["observedGeneration"] = generation  # kstatus: only once an attempt ended
        requested = (hr["metadata"].get("annotations") or {}).get(REQUESTED_AT)
        if requested:
            status["lastHandledReconcileAt"] = requested
        if status != old:
            hr["status"] = status
            self.store.update(hr, status_only=True)


def resource_health(obj: Obj | None) -> str | None:
    """Argo CD's built-in health checks for the kinds a mesh repo holds (None: no check)."""
    if obj is None:
        return "Missing"
    kind = obj.get("kind")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    generation = obj["metadata"].get("generation", 1)
    if kind == "Deployment":
        if spec.get("paused"):
            return "Suspended"
        if status.get("observedGeneration", 0) < generation:
            return "Progressing"
        for cond in status.get("conditions") or []:
            if (
                cond.get("type") == "Progressing"
                and cond.get("reason") == "ProgressDeadlineExceeded"
            ):
                return "Degraded"
        want = int(spec.get("replicas", 1))
        if status.get("updatedReplicas", 0) < want or status.get("replicas", 0) > status.get(
            "updatedReplicas", 0
        ):
            return "Progressing"
        if status.get("availableReplicas", 0) < status.get("updatedReplicas", 0):
            return "Progressing"
        return "Healthy"
    if kind in ("StatefulSet", "DaemonSet"):
        if status.get("observedGeneration", 0) < generation:
            return "Progressing"
        if kind == "StatefulSet":
            want = int(spec.get("replicas", 1))
            ok = status.get("readyReplicas", 0) >= want and status.get("updatedReplicas", 0) >= want
        else:
            ok = status.get("numberReady", 0) >= status.get("desiredNumberScheduled", 0)
        return "Healthy" if ok else "Progressing"
    if kind == "Pod":
        phase = status.get("phase")
        if phase == "Failed":
            return "Degraded"
        return "Healthy" if phase == "Succeeded" or pod_ready(obj) else "Progressing"
    if kind == "Service" and spec.get("type") == "LoadBalancer":
        return "Healthy" if (status.get("loadBalancer") or {}).get("ingress") else "Progressing"
    if kind in ("Application",):
        return None
    if kind in ("Namespace", "Service", "ConfigMap", "Secret", "ServiceAccount"):
        return "Healthy"
    return None
