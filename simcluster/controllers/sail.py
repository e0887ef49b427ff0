"""The Sail operator (``sailoperator.io/v1``): Istio -> IstioRevisions -> istiod, tags, CNI.

What it does, as istio-ecosystem/sail-operator's controllers do (see ``simcluster/sail/``):

- **Istio** (cluster-scoped): resolves ``spec.version`` with the operator release's version
  table, creates or updates the active IstioRevision (named by ``updateStrategy.type``; a new
  version under ``RevisionBased`` makes a new one beside the old), owned by the Istio; copies
  the active revision's ``Reconciled``/``Ready``/``DependenciesHealthy`` into its status with
  ``state``, ``activeRevisionName`` and the ``revisions`` counts; deletes every other owned
  revision once its ``InUse`` has been False for ``inactiveRevisionDeletionGracePeriodSeconds``
  (default 30), waking itself when the next one falls due.
- **IstioRevision**: renders Istio's ``istiod`` chart (``simcluster/charts/istio.py``) with
  ``revision`` = its name (``""`` for ``default``) into its namespace, every object owned by the
  revision, so deleting the revision takes its istiod, Service and webhooks with it; status
  ``Reconciled``, ``Ready`` (the istiod Deployment), ``DependenciesHealthy`` (an IstioCNI when
  the values enable CNI), ``InUse`` (tags, namespace labels, pods).
- **IstioRevisionTag**: the tag webhook ``istio-revision-tag-<tag>`` (and, from 1.28, the
  Service ``istiod-revision-tag-<tag>``) pointing at the target's revision: an Istio's active
  revision (followed as it changes) or the named IstioRevision. ``Reconciled`` fails with
  ``RefNotFound`` or ``NameAlreadyExists``; ``InUse`` from namespace and pod labels.
- **IstioCNI**: the DaemonSet ``istio-cni-node`` in ``spec.namespace`` (default ``istio-cni``),
  its image following ``spec.version`` (an in-place rolling update).

The operator runs only while it is installed: an Argo CD Application or Flux HelmRelease of the
``sail-operator`` chart (its version picks the version table), or a Deployment named
``sail-operator`` (OLM, or plain manifests; the image tag picks the table).

Faults: ``revision-stuck`` (an IstioRevision created while it is on never gets Ready: its istiod
pods never pass readiness until the fault is switched off) and ``in-use-forever`` (for every
revision that injected a pod, a bare pod ``forgotten-<revision>`` carrying its ``istio.io/rev``
annotation is left behind, so the revision stays in use and is never deleted; switching the
fault off deletes those pods).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simcluster.apiobject import deep_copy
from simcluster.charts.istio import render_istiod
from simcluster.controllers.kubelet import NEVER_READY
from simcluster.controllers.objects import apply_object, delete_quietly, owner_ref
from simcluster.kinds import SAIL_ISTIO
from simcluster.sail import status as st
from simcluster.sail.versions import VersionError, chart_version, revision_name, table_for

if TYPE_CHECKING:
    from simcluster.controllers import Controllers

__all__ = [
    "CNI_DAEMONSET",
    "DEFAULT_GRACE_SECONDS",
    "FORGOTTEN_LABEL",
    "OPERATOR_CHART",
    "Sail",
    "defaults",
    "istiod_name",
]

Obj = dict[str, Any]
API = "sailoperator.io/v1"
OPERATOR_CHART = "sail-operator"
CNI_DAEMONSET = "istio-cni-node"
DEFAULT_GRACE_SECONDS = 30
FORGOTTEN_LABEL = "simcluster.istio-canary.dev/forgotten"
SAIL_KINDS = ("Istio", "IstioRevision", "IstioRevisionTag", "IstioCNI")


def _is_sail(obj: Obj) -> bool:
    return obj.get("apiVersion") == API and obj.get("kind") in SAIL_KINDS


def defaults(obj: Obj) -> None:
    """The CRDs' structural defaults, filled in as the API server stores the object."""
    spec = obj.setdefault("spec", {})
    if obj.get("kind") == "Istio":
        spec.setdefault("namespace", "istio-system")
        spec.setdefault("updateStrategy", {"type": "InPlace"})
        spec["updateStrategy"].setdefault("type", "InPlace")
    elif obj.get("kind") == "IstioCNI":
        spec.setdefault("namespace", "istio-cni")


def istiod_name(revision: str) -> str:
    """The istiod Deployment and Service of a revision (plain ``istiod`` for ``default``)."""
    return "istiod" if revision in ("", st.DEFAULT_REVISION) else f"istiod-{revision}"


def _chart_revision(name: str) -> str:
    return "" if name == st.DEFAULT_REVISION else name


def _now(clock: Callable[[], dt.datetime]) -> str:
    return clock().strftime("%Y-%m-%dT%H:%M:%SZ")


def _grace(istio: Obj) -> float:
    strategy = (istio.get("spec") or {}).get("updateStrategy") or {}
    value = strategy.get("inactiveRevisionDeletionGracePeriodSeconds")
    return max(0.0, float(DEFAULT_GRACE_SECONDS if value is None else value))


def _needs_cni(rev: Obj) -> bool:
    values = (rev.get("spec") or {}).get("values") or {}
    cni = ((values.get("pilot") or {}).get("cni") or {}).get("enabled")
    return cni is True or values.get("profile") == "ambient"


def _operator_release_version(obj: Obj) -> str | None:
    """The operator version an install object names ("" unknown), None if it is not one.

    An Argo CD Application or Flux HelmRelease of the ``sail-operator`` chart, or the operator's
    Deployment ``sail-operator`` (its image tag).
    """
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Application":
        for source in [spec.get("source") or {}, *(spec.get("sources") or [])]:
            if source.get("chart") == OPERATOR_CHART:
                return str(source.get("targetRevision") or "")
    elif kind == "HelmRelease":
        chart = ((spec.get("chart") or {}).get("spec")) or {}
        if chart.get("chart") == OPERATOR_CHART:
            return str(chart.get("version") or "")
    elif kind == "Deployment" and obj["metadata"]["name"] == OPERATOR_CHART:
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
        image = str(containers[0].get("image") or "")
        return image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    return None


class Sail:
    """The Sail operator's four controllers."""

    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.store = ctl.store
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self._stuck: set[str] = set()  # revisions created while revision-stuck was on

    def handlers(self) -> dict[str, Callable[[str, str], None]]:
        return {
            "sail-istio": self.sync_istio,
            "sail-revision": self.sync_revision,
            "sail-tag": self.sync_tag,
            "sail-cni": self.sync_cni,
            "sail-forgotten": self.sync_forgotten,
            "sail-operator-release": self.sync_operator_release,
        }

    # -- events ----------------------------------------------------------------------------------

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        kind = obj.get("kind")
        meta = obj["metadata"]
        name = str(meta["name"])
        if _is_sail(obj):
            if kind == "Istio":
                self.ctl.enqueue("sail-istio", "", name)
                self._enqueue_all("IstioRevisionTag", "sail-tag")
            elif kind == "IstioRevision":
                if event == "ADDED" and self.ctl.faults.enabled("revision-stuck"):
                    self._stuck.add(name)
                self.ctl.enqueue("sail-revision", "", name)
                for ref in meta.get("ownerReferences") or []:
                    if ref.get("kind") == "Istio" and ref.get("apiVersion") == API:
                        self.ctl.enqueue("sail-istio", "", str(ref["name"]))
                self._enqueue_all("IstioRevisionTag", "sail-tag")
                if self.ctl.faults.enabled("in-use-forever"):
                    self.ctl.enqueue("sail-forgotten", "", "")
            elif kind == "IstioRevisionTag":
                self.ctl.enqueue("sail-tag", "", name)
                self._enqueue_all("IstioRevision", "sail-revision")
            else:
                self.ctl.enqueue("sail-cni", "", name)
                self._enqueue_all("IstioRevision", "sail-revision")  # DependenciesHealthy
            return
        for ref in meta.get("ownerReferences") or []:
            if ref.get("apiVersion") != API:
                continue
            if ref.get("kind") == "IstioRevision" and kind == "Deployment":
                self.ctl.enqueue("sail-revision", "", str(ref["name"]))
            elif ref.get("kind") == "IstioCNI" and kind == "DaemonSet":
                self.ctl.enqueue("sail-cni", "", str(ref["name"]))
        if kind in ("Namespace", "Pod"):
            self._enqueue_all("IstioRevision", "sail-revision")
            self._enqueue_all("IstioRevisionTag", "sail-tag")
            if kind == "Pod" and self.ctl.faults.enabled("in-use-forever"):
                self.ctl.enqueue("sail-forgotten", "", "")
        elif any(_operator_release_version(o) is not None for o in (obj, old) if o):
            self.resync_all()  # the operator was installed, upgraded or removed
            if (
                kind in ("Application", "HelmRelease")
                and _operator_release_version(obj) is not None
            ):
                self.ctl.enqueue(
                    "sail-operator-release", f"{kind}/{meta.get('namespace', '')}", name
                )

    def _enqueue_all(self, kind: str, controller: str) -> None:
        for obj in self.store.list(kind, shared=True)[0]:
            self.ctl.enqueue(controller, "", str(obj["metadata"]["name"]))

    def resync_all(self) -> None:
        self._enqueue_all(SAIL_ISTIO, "sail-istio")
        self._enqueue_all("IstioRevision", "sail-revision")
        self._enqueue_all("IstioRevisionTag", "sail-tag")
        self._enqueue_all("IstioCNI", "sail-cni")

    def admit(self, operation: str, obj: Obj, old: Obj | None) -> None:
        """The CRDs' defaults, on create and update of Sail's objects."""
        if operation in ("CREATE", "UPDATE") and _is_sail(obj):
            defaults(obj)

    def fault_changed(self, name: str, on: bool) -> None:
        if name == "revision-stuck" and not on:
            self._stuck.clear()
            self._enqueue_all("IstioRevision", "sail-revision")
        if name == "in-use-forever":
            self.ctl.enqueue("sail-forgotten", "", "")

    # -- the operator's installation ---------------------------------------------------------------

    def operator_version(self) -> str | None:
        """The installed operator's version ("" when unknown), or None when none is installed."""
        for kind in ("Application", "HelmRelease", "Deployment"):
            for obj in self.store.list(kind, shared=True)[0]:
                version = _operator_release_version(obj)
                if version is not None:
                    return version
        return None

    def sync_operator_release(self, kind_ns: str, name: str) -> None:
        """Report the operator's chart release as installed, as Argo CD or Flux would once it ran.

        The chart is not rendered (its presence is the operator), so there is nothing to wait
        for: the release is synced and healthy at its chart version, and a gate reading the
        GitOps objects sees it applied like any other."""
        kind, _, ns = kind_ns.partition("/")
        rel = self.store.get(kind, ns or None, name)
        version = _operator_release_version(rel) if rel is not None else None
        if rel is None or version is None or rel["metadata"].get("deletionTimestamp"):
            return
        old = rel.get("status") or {}
        if kind == "Application":
            op = old.get("operationState") or {}
            if (op.get("syncResult") or {}).get("revision") == version:
                return
            now = _now(self.clock)
            rel["status"] = {
                "sync": {"status": "Synced", "revision": version},
                "health": {"status": "Healthy"},
                "sourceType": "Helm",
                "reconciledAt": now,
                "operationState": {
                    "phase": "Succeeded",
                    "message": "successfully synced (all tasks run)",
                    "startedAt": now,
                    "finishedAt": now,
                    "syncResult": {"revision": version},
                },
            }
        else:
            generation = rel["metadata"].get("generation", 1)
            if old.get("observedGeneration") == generation:
                return
            now = _now(self.clock)
            rel["status"] = {
                "observedGeneration": generation,
                "conditions": [
                    st.condition(c, True, "InstallSucceeded", "Helm install succeeded")
                    | {"observedGeneration": generation, "lastTransitionTime": now}
                    for c in ("Ready", "Released")
                ],
                "history": [{"chartName": OPERATOR_CHART, "chartVersion": version,
                             "name": name, "namespace": ns, "status": "deployed", "version": 1}],
            }  # fmt: skip
        self.store.update(rel, status_only=True)

    # -- Istio -------------------------------------------------------------------------------------

    def sync_istio(self, _ns: str, name: str) -> None:
        istio = self.store.get(SAIL_ISTIO, None, name)
        operator = self.operator_version()
        if istio is None or operator is None:
            return
        spec = istio.get("spec") or {}
        version = str(spec.get("version") or "")
        active = revision_name(name, (spec.get("updateStrategy") or {}).get("type"), version)
        error = ""
        if not version:
            error = "spec.version not set"
        elif not spec.get("namespace"):
            error = "spec.namespace not set"
        else:
            try:
                resolved = table_for(operator).resolve(version)
            except VersionError as err:
                error = str(err)
                if "end-of-life" not in error:
                    error = f"failed to resolve Istio version for {name!r}: {err}"
            else:
                error = self._apply_revision(istio, active, resolved)
        owned = self._owned_revisions(istio)
        if not error:
            self._prune(istio, active, owned)
            owned = self._owned_revisions(istio)
        self._istio_status(istio, active, owned, error)

    def _apply_revision(self, istio: Obj, name: str, resolved: str) -> str:
        spec = istio["spec"]
        values = deep_copy(spec.get("values") or {})
        if spec.get("profile"):
            values.setdefault("profile", spec["profile"])
        values["revision"] = _chart_revision(name)
        values.setdefault("global", {})["istioNamespace"] = spec["namespace"]
        existing = self.store.get("IstioRevision", None, name)
        if existing is not None and not any(
            r.get("uid") == istio["metadata"]["uid"]
            for r in existing["metadata"].get("ownerReferences") or []
        ):
            return f"IstioRevision {name} exists and is not owned by this Istio"
        apply_object(
            self.store,
            {
                "apiVersion": API,
                "kind": "IstioRevision",
                "metadata": {
                    "name": name,
                    "labels": {"sailoperator.io/istio": istio["metadata"]["name"]},
                    "ownerReferences": [owner_ref(istio)],
                },
                "spec": {"version": resolved, "namespace": spec["namespace"], "values": values},
            },
        )
        return ""

    def _owned_revisions(self, istio: Obj) -> list[Obj]:
        uid = istio["metadata"]["uid"]
        return [
            r
            for r in self.store.list("IstioRevision")[0]
            if any(o.get("uid") == uid for o in r["metadata"].get("ownerReferences") or [])
        ]

    def _prune(self, istio: Obj, active: str, owned: list[Obj]) -> None:
        doomed, wait = st.prune_due(owned, active, _grace(istio), self.clock())
        for name in doomed:
            delete_quietly(self.store, {"kind": "IstioRevision", "metadata": {"name": name}})
        if wait is not None:
            # a deadline, not pending work: wait_settled must not wait out a grace period
            self.ctl.later(wait + 1.0, "sail-istio", "", istio["metadata"]["name"])

    def _istio_status(self, istio: Obj, active: str, owned: list[Obj], error: str) -> None:
        old = istio.get("status") or {}
        conditions = list(old.get("conditions") or [])
        now = _now(self.clock)
        status: Obj = {**old, "observedGeneration": istio["metadata"].get("generation", 1)}
        if error:
            new = [
                st.condition("Reconciled", False, "ReconcileError", error),
                st.condition(
                    "Ready",
                    None,
                    "ReconcileError",
                    "cannot determine readiness due to reconciliation error",
                ),
            ]
            status["state"] = "ReconcileError"
        else:
            status["activeRevisionName"] = active
            rev = next((r for r in owned if r["metadata"]["name"] == active), None)
            if rev is None:
                missing = "active IstioRevision not found"
                new = [
                    st.condition("Reconciled", False, "ActiveRevisionNotFound", missing),
                    st.condition("Ready", False, "ActiveRevisionNotFound", missing),
                ]
                status["state"] = "ActiveRevisionNotFound"
            else:
                new = [
                    {
                        k: v
                        for k, v in st.get_condition(rev, ctype).items()
                        if k != "lastTransitionTime"
                    }
                    for ctype in ("Reconciled", "Ready", "DependenciesHealthy")
                ]
                status["state"] = str((rev.get("status") or {}).get("state") or "")
        for cond in new:
            if cond.get("reason"):
                conditions = st.set_condition(conditions, cond, now)
        status["conditions"] = conditions
        status["revisions"] = {
            "total": len(owned),
            "ready": sum(st.get_condition(r, "Ready")["status"] == "True" for r in owned),
            "inUse": sum(st.get_condition(r, "InUse")["status"] == "True" for r in owned),
        }
        if status != old:
            istio["status"] = status
            self.store.update(istio, status_only=True)

    # -- IstioRevision -----------------------------------------------------------------------------

    def sync_revision(self, _ns: str, name: str) -> None:
        rev = self.store.get("IstioRevision", None, name)
        if rev is None or self.operator_version() is None:
            return
        spec = rev.get("spec") or {}
        namespace = str(spec.get("namespace") or "")
        error = ""
        if self.store.get("Namespace", None, namespace) is None:
            error = f'namespace "{namespace}" not found'
        else:
            for obj in self._render_istiod(rev):
                apply_object(self.store, obj)
        deployment = self.store.get("Deployment", namespace, istiod_name(name))
        reconciled = (
            st.condition(
                "Reconciled", False, "ReconcileError", f"error reconciling resource: {error}"
            )
            if error
            else st.condition("Reconciled", True, "Reconciled")
        )
        ready = st.istiod_ready(deployment)
        deps = self._dependencies(rev)
        why = st.revision_in_use(
            name,
            self.store.list("IstioRevisionTag", shared=True)[0],
            self.store.list("Namespace", shared=True)[0],
            self.store.list("Pod", shared=True)[0],
        )
        in_use = (
            st.condition("InUse", True, "ReferencedByWorkloads", "Referenced by at least one pod or namespace")
            if why
            else st.condition("InUse", False, "NotReferencedByAnything", "Not referenced by any pod or namespace")
        )  # fmt: skip
        self._write_status(rev, [reconciled, ready, deps, in_use], [reconciled, ready, deps])

    def _render_istiod(self, rev: Obj) -> list[Obj]:
        spec = rev["spec"]
        name = rev["metadata"]["name"]
        values = deep_copy(spec.get("values") or {})
        values["revision"] = _chart_revision(name)
        values.setdefault("global", {})["istioNamespace"] = spec["namespace"]
        values.pop("revisionTags", None)
        if name in self._stuck:
            annotations = values.setdefault("podAnnotations", {})
            annotations[NEVER_READY] = "revision-stuck"
        objs = render_istiod(name, spec["namespace"], chart_version(str(spec["version"])), values)
        for obj in objs:
            obj["metadata"]["ownerReferences"] = [owner_ref(rev)]
        return objs

    def _dependencies(self, rev: Obj) -> Obj:
        if not _needs_cni(rev):
            return st.condition("DependenciesHealthy", True, "DependenciesHealthy")
        cnis = self.store.list("IstioCNI", shared=True)[0]
        cni = next((c for c in cnis if c["metadata"]["name"] == "default"), None)
        if cni is None:
            return st.condition(
                "DependenciesHealthy", False, "IstioCNINotFound", "IstioCNI resource does not exist"
            )
        if (cni.get("status") or {}).get("state") != "Healthy":
            return st.condition(
                "DependenciesHealthy",
                False,
                "IstioCNINotHealthy",
                "IstioCNI resource status indicates that the component is not healthy",
            )
        return st.condition("DependenciesHealthy", True, "DependenciesHealthy")

    def _write_status(
        self, obj: Obj, conditions: list[Obj], state_of: list[Obj], fields: Obj | None = None
    ) -> Obj:
        """Write conditions (keeping transition times), ``state`` and ``fields`` if they changed."""
        old = obj.get("status") or {}
        kept = list(old.get("conditions") or [])
        now = _now(self.clock)
        for cond in conditions:
            kept = st.set_condition(kept, cond, now)
        status = {
            **old,
            "observedGeneration": obj["metadata"].get("generation", 1),
            "conditions": kept,
            "state": st.derive_state(state_of),
            **(fields or {}),
        }
        if status != old:
            obj["status"] = status
            return self.store.update(obj, status_only=True)
        return obj

    # -- IstioRevisionTag --------------------------------------------------------------------------

    def sync_tag(self, _ns: str, name: str) -> None:
        tag = self.store.get("IstioRevisionTag", None, name)
        if tag is None or self.operator_version() is None:
            return
        target, reason, error = self._resolve_ref(tag)
        clash = self.store.get("IstioRevision", None, name)
        if clash is not None and not (reason == "ReconcileError" and "targetRef" in error):
            reason, error = "NameAlreadyExists", "an IstioRevision exists with this name"
        rev = None if error else target
        fields: Obj = {}
        if rev is not None:
            fields = {
                "istioRevision": rev["metadata"]["name"],
                "istiodNamespace": rev["spec"]["namespace"],
            }
            for obj in self._render_tag(tag, rev):
                apply_object(self.store, obj)
        reconciled = (
            st.condition("Reconciled", False, reason, error)
            if error
            else st.condition("Reconciled", True, "Reconciled")
        )
        # as the real controller: referenced by a namespace or pod first, else the target must
        # resolve for the answer to be "not in use"
        if st.tag_in_use(
            name,
            self.store.list("Namespace", shared=True)[0],
            self.store.list("Pod", shared=True)[0],
        ):
            in_use = st.condition(
                "InUse",
                True,
                "ReferencedByWorkloads",
                "Referenced by at least one pod or namespace",
            )
        elif target is None:
            in_use = st.condition(
                "InUse",
                None,
                "UsageCheckFailed",
                f"failed to determine if revision tag is in use: {error}",
            )
        else:
            in_use = st.condition(
                "InUse", False, "NotReferencedByAnything", "Not referenced by any pod or namespace"
            )
        self._write_status(tag, [reconciled, in_use], [reconciled, in_use], fields)

    def _resolve_ref(self, tag: Obj) -> tuple[Obj | None, str, str]:
        """(target revision, reason, error) of a tag's ``targetRef``."""
        ref = (tag.get("spec") or {}).get("targetRef") or {}
        if not ref.get("kind") or not ref.get("name"):
            return None, "ReconcileError", "error reconciling resource: spec.targetRef not set"
        if ref["kind"] == "Istio":
            istio = self.store.get(SAIL_ISTIO, None, str(ref["name"]))
            if istio is None:
                return None, "RefNotFound", "referenced Istio resource does not exist"
            active = str((istio.get("status") or {}).get("activeRevisionName") or "")
            if not active:
                return (
                    None,
                    "ReconcileError",
                    "error reconciling resource: referenced Istio has no active revision",
                )
            rev = self.store.get("IstioRevision", None, active)
            if rev is None:
                return (
                    None,
                    "ReconcileError",
                    (
                        f'error reconciling resource: istiorevisions.sailoperator.io "{active}" not found'
                    ),
                )
            return rev, "", ""
        rev = self.store.get("IstioRevision", None, str(ref["name"]))
        if rev is None:
            return None, "RefNotFound", "referenced IstioRevision resource does not exist"
        return rev, "", ""

    def _render_tag(self, tag: Obj, rev: Obj) -> list[Obj]:
        spec = rev["spec"]
        values = deep_copy(spec.get("values") or {})
        values["revision"] = _chart_revision(rev["metadata"]["name"])
        values.setdefault("global", {})["istioNamespace"] = spec["namespace"]
        name = tag["metadata"]["name"]
        values["revisionTags"] = [name]
        wanted = {
            ("MutatingWebhookConfiguration", f"istio-revision-tag-{name}"),
            ("Service", f"istiod-revision-tag-{name}"),
        }
        objs = [
            o
            for o in render_istiod(
                f"{name}-revisiontags",
                spec["namespace"],
                chart_version(str(spec["version"])),
                values,
            )
            if (o["kind"], o["metadata"]["name"]) in wanted
        ]
        for obj in objs:
            obj["metadata"]["ownerReferences"] = [owner_ref(tag)]
        return objs

    # -- IstioCNI ----------------------------------------------------------------------------------

    def sync_cni(self, _ns: str, name: str) -> None:
        cni = self.store.get("IstioCNI", None, name)
        operator = self.operator_version()
        if cni is None or operator is None:
            return
        spec = cni.get("spec") or {}
        namespace = str(spec.get("namespace") or "istio-cni")
        error = ""
        try:
            resolved = table_for(operator).resolve(str(spec.get("version") or ""))
        except VersionError as err:
            error = f"error reconciling resource: {err}"
        else:
            if self.store.get("Namespace", None, namespace) is None:
                error = f'error reconciling resource: namespace "{namespace}" not found'
            else:
                apply_object(self.store, self._cni_daemonset(cni, namespace, resolved))
        reconciled = (
            st.condition("Reconciled", False, "ReconcileError", error)
            if error
            else st.condition("Reconciled", True, "Reconciled")
        )
        ready = st.daemonset_ready(self.store.get("DaemonSet", namespace, CNI_DAEMONSET))
        self._write_status(cni, [reconciled, ready], [reconciled, ready])

    def _cni_daemonset(self, cni: Obj, namespace: str, resolved: str) -> Obj:
        version = chart_version(resolved)
        hub = str(
            (((cni.get("spec") or {}).get("values") or {}).get("global") or {}).get("hub")
            or "docker.io/istio"
        )
        labels = {"k8s-app": CNI_DAEMONSET, "sidecar.istio.io/inject": "false"}
        return {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {
                "name": CNI_DAEMONSET,
                "namespace": namespace,
                "labels": {"k8s-app": CNI_DAEMONSET, "app.kubernetes.io/version": version},
                "ownerReferences": [owner_ref(cni)],
            },
            "spec": {
                "selector": {"matchLabels": {"k8s-app": CNI_DAEMONSET}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "istio-cni",
                        "containers": [
                            {"name": "install-cni", "image": f"{hub}/install-cni:{version}"}
                        ],
                    },
                },
            },
        }

    # -- fault in-use-forever ----------------------------------------------------------------------

    def sync_forgotten(self, _ns: str, _name: str) -> None:
        """Leave (or, with the fault off, remove) one bare pod per revision that injected one."""
        pods = self.store.list("Pod", shared=True)[0]
        forgotten = [p for p in pods if (p["metadata"].get("labels") or {}).get(FORGOTTEN_LABEL)]
        if not self.ctl.faults.enabled("in-use-forever"):
            for pod in forgotten:
                delete_quietly(self.store, pod)
            return
        pinned = {(p["metadata"].get("labels") or {}).get(FORGOTTEN_LABEL) for p in forgotten}
        revisions = {
            r["metadata"]["name"] for r in self.store.list("IstioRevision", shared=True)[0]
        }
        for pod in pods:
            meta = pod["metadata"]
            rev = (meta.get("annotations") or {}).get("istio.io/rev")
            if not rev or rev not in revisions or rev in pinned or meta.get("deletionTimestamp"):
                continue
            pinned.add(rev)
            self.store.create(self._forgotten_pod(pod, str(rev)))

    @staticmethod
    def _forgotten_pod(pod: Obj, revision: str) -> Obj:
        meta = pod["metadata"]
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
        labels.update({FORGOTTEN_LABEL: revision, "sidecar.istio.io/inject": "false"})
        spec = deep_copy(pod["spec"])
        spec.pop("nodeName", None)
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"forgotten-{revision}",
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": dict(meta.get("annotations") or {}),
            },
            "spec": spec,
        }
