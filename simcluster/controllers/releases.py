"""Operator chart releases: Argo CD Applications / Flux HelmReleases of ``istio-operator``.

No real Helm: a release is rendered into the chart's StatefulSet ``<release>`` (pod
``<release>-0``, 2/2: kube-rbac-proxy + manager), its ServiceAccount and Service, marked with the
release they belong to; deleting the release (or its resources finalizer) deletes them, which
stops that operator. The Application / HelmRelease status is written as Argo CD /
helm-controller do for a Helm source (the revision is the chart version).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from simcluster.apiobject import deep_copy, now_rfc3339
from simcluster.controllers.objects import apply_object, delete_quietly
from simcluster.controllers.operator_chart import manager_flags, mark_crash

if TYPE_CHECKING:
    from collections.abc import Callable

    from simcluster.controllers import Controllers

__all__ = ["CHART", "Releases", "is_operator_chart", "release_values", "render_release"]

Obj = dict[str, Any]
CHART = "istio-operator"
INSTANCE = "app.kubernetes.io/instance"


def is_operator_chart(obj: Obj) -> bool:
    """Is this Application / HelmRelease a release of the istio-operator chart?"""
    if obj.get("kind") == "Application":
        source = (obj.get("spec") or {}).get("source") or {}
        return source.get("chart") == CHART or str(source.get("path", "")).rstrip("/").endswith(
            f"charts/{CHART}"
        )
    if obj.get("kind") == "HelmRelease":
        chart = (((obj.get("spec") or {}).get("chart") or {}).get("spec") or {}).get("chart", "")
        return str(chart).rstrip("/").endswith(CHART)
    return False


def _set_path(values: Obj, dotted: str, value: Any) -> None:
    node = values
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def release_values(obj: Obj) -> tuple[str, str, Obj]:
    """(release name, namespace, values) of an operator chart release."""
    spec = obj.get("spec") or {}
    meta = obj["metadata"]
    values: Obj = {}
    if obj.get("kind") == "Application":
        helm = (spec.get("source") or {}).get("helm") or {}
        if helm.get("values"):
            loaded = yaml.safe_load(str(helm["values"])) or {}
            if isinstance(loaded, dict):
                values.update(loaded)
        values.update(deep_copy(helm.get("valuesObject") or {}))
        for param in helm.get("parameters") or []:
            _set_path(values, str(param.get("name")), str(param.get("value", "")))
        release = str(helm.get("releaseName") or meta["name"])
        namespace = str((spec.get("destination") or {}).get("namespace") or "default")
    else:
        values.update(deep_copy(spec.get("values") or {}))
        target = spec.get("targetNamespace")
        release = str(
            spec.get("releaseName") or (f"{target}-{meta['name']}" if target else meta["name"])
        )
        namespace = str(target or meta.get("namespace", "default"))
    return release, namespace, values


def chart_version(obj: Obj) -> str:
    """The chart version a release pins (an Application's targetRevision of a Helm repository)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Application":
        source = spec.get("source") or {}
        return str(source.get("targetRevision") or "") if source.get("chart") else ""
    return str((((spec.get("chart") or {}).get("spec") or {}).get("version")) or "")


def render_release(release: str, namespace: str, values: Obj, chart: str = "") -> list[Obj]:
    """The istio-operator chart's workload objects for one release (what `helm template` gives)."""
    op = values.get("operator") or {}
    image = op.get("image") or {}
    istio_version = str(values.get("istioVersion", "1.7"))
    repo = image.get("repository") or (
        "banzaicloud/istio-operator"
        if istio_version == "1.6"
        else "ghcr.io/banzaicloud/istio-operator"
    )
    tag = str(image.get("tag") or ("0.6.22" if istio_version == "1.6" else "0.7.14"))
    labels = {
        "app.kubernetes.io/name": CHART,
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": "operator",
        "control-plane": "controller-manager",
        "controller-tools.k8s.io": "1.0",
    }
    args = [
        "--leader-election-namespace", namespace,
        "--leader-election-name", f"{release}-leader",
        "--webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs",
    ]  # fmt: skip
    args += manager_flags(chart, values, release, namespace)
    selector = {k: labels[k] for k in ("control-plane", "controller-tools.k8s.io", INSTANCE)}
    statefulset: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": release, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "replicas": 1,
            "serviceName": f"{release}-authproxy",
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {"sidecar.istio.io/inject": "false"},
                },
                "spec": {
                    "serviceAccountName": release,
                    "terminationGracePeriodSeconds": 60,
                    "containers": [
                        {
                            "name": "kube-rbac-proxy",
                            "image": "gcr.io/kubebuilder/kube-rbac-proxy:v0.5.0",
                            "args": [
                                "--secure-listen-address=0.0.0.0:8443",
                                "--upstream=http://127.0.0.1:8080/",
                                "--logtostderr=true",
                                "--v=10",
                            ],
                            "ports": [{"containerPort": 8443, "name": "https"}],
                        },
                        {
                            "name": "manager",
                            "image": f"{repo}:{tag}",
                            "command": ["/manager"],
                            "args": args,
                            "ports": [
                                {"containerPort": 443, "name": "webhook-server"},
                                {"containerPort": 8080, "name": "metrics"},
                            ],
                            "env": [{"name": "POD_NAMESPACE", "value": namespace}],
                        },
                    ],
                },
            },
        },
    }
    mark_crash(statefulset["spec"]["template"], args, tag)
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": release, "namespace": namespace, "labels": dict(labels)},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{release}-authproxy",
            "namespace": namespace,
            "labels": dict(labels),
        },
        "spec": {
            "selector": selector,
            "ports": [{"name": "https", "port": 8443, "targetPort": "https"}],
        },
    }
    return [account, service, statefulset]


class Releases:
    """Installs, upgrades and uninstalls istio-operator chart releases."""

    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.store = ctl.store

    def handlers(self) -> dict[str, Callable[[str, str], None]]:
        return {"release": self.sync_release}

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        kind = obj.get("kind")
        meta = obj["metadata"]
        if kind in ("Application", "HelmRelease") and (
            is_operator_chart(obj) or (old is not None and is_operator_chart(old))
        ):
            self.ctl.enqueue("release", f"{kind}/{meta.get('namespace', '')}", meta["name"])
        elif kind == "StatefulSet" and (meta.get("labels") or {}).get(INSTANCE):
            instance = meta["labels"][INSTANCE]
            for rel_kind in ("Application", "HelmRelease"):
                for rel in self.store.list(rel_kind, shared=True)[0]:
                    if is_operator_chart(rel) and release_values(rel)[0] == instance:
                        rel_ns = rel["metadata"].get("namespace", "")
                        self.ctl.enqueue("release", f"{rel_kind}/{rel_ns}", rel["metadata"]["name"])

    def sync_release(self, kind_ns: str, name: str) -> None:
        """Install, upgrade or uninstall one istio-operator chart release."""
        kind, _, ns = kind_ns.partition("/")
        rel = self.store.get(kind, ns or None, name)
        tracked = self._tracked(kind, ns, name)
        if rel is None or rel["metadata"].get("deletionTimestamp") or not is_operator_chart(rel):
            for obj in tracked:
                delete_quietly(self.store, obj)
            if rel is not None and rel["metadata"].get("deletionTimestamp"):
                rel["metadata"]["finalizers"] = [
                    f for f in rel["metadata"].get("finalizers") or []
                    if f != "resources-finalizer.argocd.argoproj.io"
                ]  # fmt: skip
                self.store.update(rel)
            return
        release, namespace, values = release_values(rel)
        if self.store.get("Namespace", None, namespace) is None:
            self.store.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
        desired = render_release(release, namespace, values, chart_version(rel))
        tracking = f"{kind}/{ns}/{name}"
        for obj in desired:
            obj["metadata"].setdefault("annotations", {})["simcluster.istio-canary.dev/release"] = (
                tracking
            )
            apply_object(self.store, obj)
        wanted = {(o["kind"], o["metadata"]["name"]) for o in desired}
        for obj in tracked:
            if (obj["kind"], obj["metadata"]["name"]) not in wanted:
                delete_quietly(self.store, obj)
        self._release_status(kind, rel, release, namespace)

    def _tracked(self, kind: str, ns: str, name: str) -> list[Obj]:
        tracking = f"{kind}/{ns}/{name}"
        out = []
        for k in ("StatefulSet", "Service", "ServiceAccount"):
            for obj in self.store.list(k, shared=True)[0]:
                if (obj["metadata"].get("annotations") or {}).get(
                    "simcluster.istio-canary.dev/release"
                ) == tracking:
                    out.append(obj)
        return out

    def _release_status(self, kind: str, rel: Obj, release: str, namespace: str) -> None:
        ss = self.store.get("StatefulSet", namespace, release)
        ready = bool(ss and (ss.get("status") or {}).get("readyReplicas", 0) >= 1)
        now = now_rfc3339()
        old = rel.get("status") or {}
        if kind == "Application":
            source = (rel.get("spec") or {}).get("source") or {}
            revision = str(source.get("targetRevision") or "")
            op = old.get("operationState") or {}
            fresh = (op.get("syncResult") or {}).get("revision") == revision and op.get(
                "phase"
            ) == "Succeeded"
            health = "Healthy" if ready else "Progressing"
            status = {
                "sync": {
                    "status": "Synced",
                    "revision": revision,
                    "comparedTo": {
                        "source": deep_copy(source),
                        "destination": deep_copy((rel.get("spec") or {}).get("destination") or {}),
                    },
                },
                "health": {"status": health},
                "operationState": op
                if fresh
                else {
                    "phase": "Succeeded",
                    "message": "successfully synced (all tasks run)",
                    "startedAt": now,
                    "finishedAt": now,
                    "operation": {
                        "sync": {"revision": revision},
                        "initiatedBy": {"automated": True},
                    },
                    "syncResult": {"revision": revision, "source": deep_copy(source)},
                },
                "reconciledAt": old.get("reconciledAt")
                if fresh and (old.get("health") or {}).get("status") == health
                else now,
                "sourceType": "Helm",
                "summary": {"images": sorted(_images(ss))} if ss else {},
                "resources": [
                    {
                        "group": "apps",
                        "version": "v1",
                        "kind": "StatefulSet",
                        "namespace": namespace,
                        "name": release,
                        "status": "Synced",
                        "health": {"status": health},
                    },
                ],
            }
        else:
            spec = rel.get("spec") or {}
            chart = (spec.get("chart") or {}).get("spec") or {}
            version = str(chart.get("version") or "*")
            generation = rel["metadata"].get("generation", 1)
            reason, message = (
                "InstallSucceeded",
                f"Helm install succeeded for release {namespace}/{release}.v1 with chart {CHART}@{version}",
            )
            cond_status = "True" if ready else "Unknown"
            prev = {c.get("type"): c for c in old.get("conditions") or []}
            conditions = []
            for ctype in ("Ready", "Released"):
                st = cond_status if ctype == "Ready" else "True"
                keep = prev.get(ctype)
                conditions.append({
                    "type": ctype, "status": st,
                    "reason": reason if st == "True" else "Progressing",
                    "message": message if st == "True" else "Running 'install' action with timeout of 5m0s",
                    "observedGeneration": generation,
                    "lastTransitionTime": keep["lastTransitionTime"] if keep and keep.get("status") == st else now,
                })  # fmt: skip
            status = {
                "conditions": conditions,
                "lastAttemptedRevision": version,
                "lastAttemptedReleaseAction": "install",
                "history": [{"chartName": CHART, "chartVersion": version, "name": release, "namespace": namespace, "status": "deployed", "version": 1}],
            }  # fmt: skip
            # kstatus: observedGeneration moves only once a generation ended Ready (or Stalled),
            # so a gate never mistakes an install still in progress for a finished one.
            observed = generation if ready else old.get("observedGeneration")
            if observed is not None:
                status["observedGeneration"] = observed
        if status != old:
            rel["status"] = status
            self.store.update(rel, status_only=True)


def _images(ss: Obj | None) -> set[str]:
    containers = (((ss or {}).get("spec") or {}).get("template") or {}).get("spec", {}).get(
        "containers"
    ) or []
    return {str(c.get("image")) for c in containers}
