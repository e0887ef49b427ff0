"""Banzai Cloud istio-operator 0.6.x / 0.7.x, simulated (docs/banzai-operator.md has the facts).

Releases of the chart live in releases.py, MeshGateways in gateways.py. Here:
- operators: every StatefulSet whose ``manager`` image is ``.../istio-operator:<tag>`` and whose
  pod is Ready is a running operator of that tag. It reconciles only Istio CRs whose
  ``spec.version`` minor matches (0.6.x: 1.6, 0.7.x: 1.7), and MeshGateways whose control plane's
  version matches. An operator that goes away marks every Istio CR ``Unmanaged``.
- per-version quirks: ingress gateway on by default in 0.6.x only; ``createOnly`` honoured from
  0.6.17 / 0.7.2; ``autoInjectionNamespaces`` re-adds ``istio-injection`` to rev-labelled
  namespaces before 0.6.15 / 0.7.4; 0.7.6+ strips it from namespaces on its own revision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simcluster.apierrors import StoreError
from simcluster.apiobject import deep_copy
from simcluster.controllers.kubelet import pod_ready
from simcluster.controllers.objects import apply_object, controlled_by, owner_ref
from simcluster.controllers.releases import CHART
from simcluster.mesh import ROOT_CA_ANNOTATION

if TYPE_CHECKING:
    from collections.abc import Callable

    from simcluster.controllers import Controllers

__all__ = ["FINALIZER", "OperatorVersion", "Operators", "cr_names"]

Obj = dict[str, Any]
FINALIZER = "istio-operator.finializer.banzaicloud.io"  # sic, as the operator spells it
MANAGED_INJECTION = "istio-operator-managed-injection"
GATEWAY_LABELS = {"app": "istio-ingressgateway", "istio": "ingressgateway"}


# -- versions ----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class OperatorVersion:
    """An operator image tag like 0.6.12, with the behaviour that changed between releases."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, tag: str) -> OperatorVersion | None:
        parts = tag.lstrip("v").split("-", 1)[0].split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return None
        return cls(int(parts[0]), int(parts[1]), int(parts[2]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def istio_minor(self) -> str:
        """The Istio minor this operator reconciles: 0.6.x -> "1.6", 0.7.x -> "1.7"."""
        return f"1.{self.minor}"

    def _since(self, six: int, seven: int) -> bool:
        if self.minor == 6:
            return self.patch >= six
        return self.minor > 6 and (self.minor > 7 or self.patch >= seven)

    @property
    def honours_create_only(self) -> bool:
        return self._since(17, 2)

    @property
    def skips_rev_labelled(self) -> bool:
        return self._since(15, 4)

    @property
    def strips_legacy_label(self) -> bool:
        return self.minor > 7 or (self.minor == 7 and self.patch >= 6)

    @property
    def ingress_default(self) -> bool:
        return self.minor == 6


def cr_names(cr: Obj) -> dict[str, str]:
    """Object names the operator renders for a CR (revisioned CRs get the revision suffix)."""
    name = str(cr["metadata"]["name"])
    ns = str(cr["metadata"].get("namespace", "istio-system"))
    rev = name.replace(".", "-")
    if (cr.get("spec") or {}).get("global") is False:
        return {
            "revision": f"{name}.{ns}",
            "istiod": f"istiod-{rev}",
            "injector": f"istio-sidecar-injector-{rev}-{ns}",
            "ingress": f"istio-ingressgateway-{rev}",
        }
    return {
        "revision": f"{name}.{ns}",
        "istiod": "istiod",
        "injector": "istio-sidecar-injector",
        "ingress": "istio-ingressgateway",
    }


def _version_minor(version: str) -> str:
    parts = str(version).split(".")
    return ".".join(parts[:2])


class Operators:
    """Which operators run, and their reconciliation of Istio CRs (gateways: gateways.py)."""

    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.store = ctl.store
        self._running: dict[tuple[str, str], OperatorVersion] = {}
        self._seen: dict[str, int] = {}  # CR uid -> generation last reconciled
        self._labelling = False  # True while the operator itself writes a Namespace

    def handlers(self) -> dict[str, Callable[[str, str], None]]:
        return {
            "operators": self.sync_operators,
            "istio": self.sync_istio,
        }

    # -- routing ---------------------------------------------------------------------------------

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        kind = obj.get("kind")
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        if kind == "StatefulSet" or (
            kind == "Pod" and (meta.get("labels") or {}).get("app.kubernetes.io/name") == CHART
        ):
            self.ctl.enqueue("operators", "", "")
        elif kind == "Istio":
            self.ctl.enqueue("istio", ns, name)
        elif kind == "MeshGateway":
            for owner in meta.get("ownerReferences") or []:
                if owner.get("kind") == "Istio":
                    self.ctl.enqueue("istio", ns, str(owner["name"]))
            cp = (obj.get("spec") or {}).get("istioControlPlane") or {}
            if cp.get("name"):
                self.ctl.enqueue("istio", str(cp.get("namespace") or ns), str(cp["name"]))
        elif kind == "Namespace":
            if not self._labelling:  # our own labelling must not start a reconcile storm
                self._enqueue_crs()
        elif kind in ("Deployment", "Service", "Endpoints"):
            for ref in meta.get("ownerReferences") or []:
                if ref.get("kind") == "Istio":
                    self.ctl.enqueue("istio", ns, str(ref["name"]))

    def _enqueue_crs(self, *, revisioned_only: bool = False) -> None:
        """Reconcile CRs, global ones first so a revisioned CP's label clean-up runs last."""
        crs = sorted(
            self.store.list("Istio", shared=True)[0],
            key=lambda c: ((c.get("spec") or {}).get("global") is False, c["metadata"]["name"]),
        )
        for cr in crs:
            if revisioned_only and (cr.get("spec") or {}).get("global") is not False:
                continue
            self.ctl.enqueue("istio", cr["metadata"]["namespace"], cr["metadata"]["name"])

    def _label_namespace(self, ns: Obj) -> None:
        self._labelling = True
        try:
            self.store.update(ns)
        finally:
            self._labelling = False

    def _enqueue_gateways(self) -> None:
        for mgw in self.store.list("MeshGateway", shared=True)[0]:
            self.ctl.enqueue("meshgateway", mgw["metadata"]["namespace"], mgw["metadata"]["name"])

    def resync_all(self) -> None:
        for cr in self.store.list("Istio", shared=True)[0]:
            self.ctl.enqueue("istio", cr["metadata"]["namespace"], cr["metadata"]["name"])
        self._enqueue_gateways()

    # -- which operators run -------------------------------------------------------------------------

    def _scan_operators(self) -> dict[tuple[str, str], OperatorVersion]:
        running: dict[tuple[str, str], OperatorVersion] = {}
        for ss in self.store.list("StatefulSet", shared=True)[0]:
            containers = ((ss.get("spec") or {}).get("template") or {}).get("spec", {}).get(
                "containers"
            ) or []
            tag = next(
                (
                    str(c.get("image", "")).rsplit(":", 1)[-1]
                    for c in containers
                    if str(c.get("image", "")).rsplit(":", 1)[0].endswith("/istio-operator")
                    or str(c.get("image", "")).rsplit(":", 1)[0] == "istio-operator"
                ),
                None,
            )
            version = OperatorVersion.parse(tag) if tag else None
            if version is None:
                continue
            meta = ss["metadata"]
            pods = [
                p
                for p in self.store.list("Pod", meta["namespace"], shared=True)[0]
                if controlled_by(p, meta["uid"]) and pod_ready(p)
            ]
            if pods:
                running[(meta["namespace"], meta["name"])] = version
        return running

    def sync_operators(self, _ns: str, _name: str) -> None:
        """Notice operators starting and stopping; a stopping one marks every CR Unmanaged."""
        running = self._scan_operators()
        stopped = set(self._running) - set(running)
        started = set(running) - set(self._running)
        self._running = running
        if stopped:
            for cr in self.store.list("Istio")[0]:
                if cr["metadata"].get("finalizers"):
                    cr["metadata"]["finalizers"] = [
                        f for f in cr["metadata"]["finalizers"] if f != FINALIZER
                    ]
                    cr = self.store.update(cr)
                    if cr["metadata"].get("deletionTimestamp") and not cr["metadata"].get(
                        "finalizers"
                    ):
                        continue
                if (
                    self.store.get("Istio", cr["metadata"]["namespace"], cr["metadata"]["name"])
                    is None
                ):
                    continue
                cr["status"] = {
                    **(cr.get("status") or {}),
                    "Status": "Unmanaged",
                    "ErrorMessage": "",
                }
                self.store.update(cr, status_only=True)
        if stopped or started:
            self.resync_all()

    def validate_istio(self, operation: str, obj: Obj, old: Obj | None) -> None:
        """The operator's validating webhook: one global (unrevisioned) CP per namespace.

        Served by the operator pods, so it only answers while an operator runs; failurePolicy
        Ignore means nothing is checked otherwise.
        """
        if operation != "CREATE" or obj.get("kind") != "Istio" or not self._running:
            return
        if (obj.get("spec") or {}).get("global") is False:
            return
        ns = obj["metadata"].get("namespace", "")
        for cr in self.store.list("Istio", ns, shared=True)[0]:
            if (cr.get("spec") or {}).get("global") is not False:
                raise StoreError(
                    403,
                    "Forbidden",
                    'admission webhook "istio.validation.banzaicloud.io" denied the request: '
                    "'global' property must be set to false. "
                    "A global Istio control plane already exists.",
                )

    def operator_for(self, version: str) -> OperatorVersion | None:
        """The running operator that reconciles an Istio ``spec.version`` (newest of that minor)."""
        minor = _version_minor(version)
        candidates = [v for v in self._running.values() if v.istio_minor == minor]
        return max(candidates) if candidates else None

    # -- Istio CRs -------------------------------------------------------------------------------

    def sync_istio(self, ns: str, name: str) -> None:
        cr = self.store.get("Istio", ns, name)
        if cr is None:
            return
        spec = cr.get("spec") or {}
        operator = self.operator_for(str(spec.get("version", "")))
        if operator is None:
            return  # no operator of that minor: nobody touches the CR
        meta = cr["metadata"]
        if meta.get("deletionTimestamp"):
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
            self.store.update(cr)
            return
        if not (cr.get("status") or {}).get("Status"):  # first sight: Created, then finalizer
            cr["status"] = {**(cr.get("status") or {}), "Status": "Created"}
            cr = self.store.update(cr, status_only=True)
        if FINALIZER not in (cr["metadata"].get("finalizers") or []):
            cr["metadata"]["finalizers"] = [*(cr["metadata"].get("finalizers") or []), FINALIZER]
            cr = self.store.update(cr)
        meta = cr["metadata"]
        status = cr.get("status") or {}
        generation = int(meta.get("generation", 1))
        if status.get("Status") not in ("Reconciling", "Available", "ReconcileFailed") or (
            status.get("Status") != "Reconciling" and self._seen.get(meta["uid"]) != generation
        ):
            cr["status"] = {**status, "Status": "Reconciling", "ErrorMessage": ""}
            self.store.update(cr, status_only=True)
            self.ctl.after(0.02, "istio", ns, name)
            return
        error = self._reconcile_components(cr, operator)
        self._auto_injection(cr, operator)
        self._seen[meta["uid"]] = generation
        cr = self.store.get("Istio", ns, name) or cr
        new_status = dict(cr.get("status") or {})
        gateway = (
            self.store.get("MeshGateway", ns, cr_names(cr)["ingress"])
            if self._ingress_enabled(cr, operator)
            else None
        )
        if error:
            new_status.update({"Status": "ReconcileFailed", "ErrorMessage": error})
        elif gateway is not None and (gateway.get("status") or {}).get("Status") != "Available":
            new_status.update({"Status": "ReconcileFailed", "ErrorMessage": "gateway is pending"})
        else:
            new_status.update({"Status": "Available", "ErrorMessage": ""})
            if gateway is not None:
                new_status["GatewayAddress"] = list(
                    (gateway.get("status") or {}).get("GatewayAddress") or []
                )
            else:
                new_status.pop("GatewayAddress", None)
        if new_status != cr.get("status"):
            cr["status"] = new_status
            self.store.update(cr, status_only=True)

    def _ingress_enabled(self, cr: Obj, operator: OperatorVersion) -> bool:
        gateways = (cr.get("spec") or {}).get("gateways") or {}
        if gateways.get("enabled") is False:
            return False
        ingress = gateways.get("ingress") or {}
        enabled = ingress.get("enabled")
        return operator.ingress_default if enabled is None else bool(enabled)

    def _root_ca(self, cr: Obj) -> str:
        """Shared ``istio-ca-secret`` unless split-trust gives a newer CP its own root."""
        if not self.ctl.faults.enabled("split-trust"):
            return "istio-ca-secret"
        crs = sorted(
            self.store.list("Istio", cr["metadata"]["namespace"], shared=True)[0],
            key=lambda c: (c["metadata"]["creationTimestamp"], c["metadata"]["name"]),
        )
        if crs and crs[0]["metadata"]["uid"] == cr["metadata"]["uid"]:
            return "istio-ca-secret"
        return f"cacerts-{cr_names(cr)['revision']}"

    def _reconcile_components(self, cr: Obj, operator: OperatorVersion) -> str:
        meta, spec = cr["metadata"], cr.get("spec") or {}
        ns = meta["namespace"]
        names = cr_names(cr)
        rev = names["revision"]
        revisioned = spec.get("global") is False
        if not revisioned:
            others = [
                c for c in self.store.list("Istio", shared=True)[0]
                if c["metadata"]["uid"] != meta["uid"]
                and c["metadata"]["namespace"] == ns
                and (c.get("spec") or {}).get("global") is not False
                and c["metadata"]["creationTimestamp"] < meta["creationTimestamp"]
            ]  # fmt: skip
            if others and spec.get("global") is True:
                return "there is already an another unrevisioned control plane"
        owner = [owner_ref(cr)]
        labels = {"app": "istiod", "istio": "pilot", "istio.io/rev": rev}
        pilot = spec.get("pilot") or {}
        image = str(pilot.get("image") or f"docker.io/istio/pilot:{spec.get('version')}")
        env = [
            {"name": "REVISION", "value": rev},
            {"name": "PILOT_CERT_PROVIDER", "value": str(pilot.get("certProvider") or "istiod")},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
            *[e for e in pilot.get("additionalEnvVars") or [] if isinstance(e, dict)],
        ]  # fmt: skip
        apply_object(self.store,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": names["istiod"],
                    "namespace": ns,
                    "labels": dict(labels),
                    "annotations": {ROOT_CA_ANNOTATION: self._root_ca(cr)},
                    "ownerReferences": owner,
                },
                "spec": {
                    "replicas": int(pilot.get("replicaCount") or 1),
                    "selector": {"matchLabels": dict(labels)},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "25%"}},
                    "template": {
                        "metadata": {"labels": dict(labels), "annotations": {"sidecar.istio.io/inject": "false"}},
                        "spec": {
                            "serviceAccountName": f"istiod-service-account{'-' + names['revision'].split('.')[0] if revisioned else ''}",
                            "containers": [
                                {
                                    "name": "discovery",
                                    "image": image,
                                    "args": ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info", "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m"],
                                    "ports": [
                                        {"containerPort": 8080, "protocol": "TCP"},
                                        {"containerPort": 15010, "protocol": "TCP"},
                                        {"containerPort": 15017, "protocol": "TCP"},
                                    ],
                                    "env": env,
                                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "initialDelaySeconds": 1, "periodSeconds": 3},
                                }
                            ],
                        },
                    },
                },
            }
        )  # fmt: skip
        apply_object(self.store,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": names["istiod"], "namespace": ns, "labels": dict(labels), "ownerReferences": owner},
                "spec": {
                    "selector": dict(labels),
                    "ports": [
                        {"name": "grpc-xds", "port": 15010, "targetPort": 15010, "protocol": "TCP"},
                        {"name": "https-dns", "port": 15012, "targetPort": 15012, "protocol": "TCP"},
                        {"name": "https-webhook", "port": 443, "targetPort": 15017, "protocol": "TCP"},
                        {"name": "http-monitoring", "port": 15014, "targetPort": 15014, "protocol": "TCP"},
                    ],
                },
            }
        )  # fmt: skip
        apply_object(self.store, self._webhook_config(cr, names, owner))
        for obj in _control_plane_config(cr, names, owner):
            apply_object(self.store, obj)
        if self._ingress_enabled(cr, operator):
            self._ensure_ingress(cr, names, operator)
        return ""

    def _webhook_config(self, cr: Obj, names: dict[str, str], owner: list[Obj]) -> Obj:
        ns = cr["metadata"]["namespace"]
        rev = names["revision"]

        def hook(name: str, selector: list[Obj]) -> Obj:
            return {
                "name": name,
                "admissionReviewVersions": ["v1beta1", "v1"],
                "clientConfig": {"service": {"name": names["istiod"], "namespace": ns, "path": "/inject", "port": 443}},
                "failurePolicy": "Fail",
                "matchPolicy": "Equivalent",
                "namespaceSelector": {"matchExpressions": selector},
                "objectSelector": {},
                "reinvocationPolicy": "Never",
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"], "scope": "*"}],
                "sideEffects": "None",
                "timeoutSeconds": 10,
            }  # fmt: skip

        rev_selector: list[Obj] = [
            {"key": "istio-injection", "operator": "DoesNotExist"},
            {"key": "istio.io/rev", "operator": "In", "values": [rev]},
        ]
        if (cr.get("spec") or {}).get("global") is False:
            hooks = [hook("sidecar-injector.istio.io", rev_selector)]
        else:
            hooks = [
                hook("sidecar-injector.istio.io", [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]),
                hook("secondary.sidecar-injector.istio.io", rev_selector),
            ]  # fmt: skip
        return {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": names["injector"], "labels": {"app": "istio-sidecar-injector", "istio.io/rev": rev}, "ownerReferences": owner},
            "webhooks": hooks,
        }  # fmt: skip

    def _ensure_ingress(self, cr: Obj, names: dict[str, str], operator: OperatorVersion) -> None:
        """The operator-made ingress MeshGateway (owned by the CR unless createOnly works)."""
        meta, spec = cr["metadata"], cr.get("spec") or {}
        ingress = (spec.get("gateways") or {}).get("ingress") or {}
        create_only = bool(ingress.get("createOnly")) and operator.honours_create_only
        desired_spec: Obj = {
            "type": "ingress",
            "istioControlPlane": {"name": meta["name"], "namespace": meta["namespace"]},
            "ports": deep_copy(ingress.get("ports") or [
                {"name": "status-port", "port": 15021, "targetPort": 15021},
                {"name": "http2", "port": 80, "targetPort": 8080},
                {"name": "https", "port": 443, "targetPort": 8443},
            ]),
            "serviceType": ingress.get("serviceType") or "LoadBalancer",
            "replicaCount": ingress.get("replicaCount", 1),
            "minReplicas": ingress.get("minReplicas", 1),
            "maxReplicas": ingress.get("maxReplicas", 5),
            "runAsRoot": bool(ingress.get("runAsRoot", False)),
            "labels": {**GATEWAY_LABELS, **(ingress.get("labels") or {})},
        }  # fmt: skip
        for key in (
            "loadBalancerIP",
            "serviceAnnotations",
            "serviceLabels",
            "resources",
            "serviceExternalTrafficPolicy",
        ):
            if ingress.get(key):
                desired_spec[key] = deep_copy(ingress[key])
        mgw_meta: Obj = {
            "name": names["ingress"],
            "namespace": meta["namespace"],
            "labels": dict(GATEWAY_LABELS),
        }
        if not create_only:
            mgw_meta["ownerReferences"] = [owner_ref(cr)]
        live = self.store.get("MeshGateway", meta["namespace"], names["ingress"])
        if live is None:
            self.store.create(
                {
                    "apiVersion": "istio.banzaicloud.io/v1beta1",
                    "kind": "MeshGateway",
                    "metadata": mgw_meta,
                    "spec": desired_spec,
                }
            )
            return
        if create_only:
            return
        cp = (live.get("spec") or {}).get("istioControlPlane") or {}
        if cp and (cp.get("name"), cp.get("namespace", meta["namespace"])) != (
            meta["name"],
            meta["namespace"],
        ):
            return  # handed over to another control plane: this operator leaves it alone
        merged = deep_copy(live)
        merged["spec"] = {**(live.get("spec") or {}), **desired_spec}
        merged["metadata"]["ownerReferences"] = mgw_meta["ownerReferences"]
        if merged != live:
            self.store.update(merged)

    def _auto_injection(self, cr: Obj, operator: OperatorVersion) -> None:
        spec = cr.get("spec") or {}
        rev = cr_names(cr)["revision"]
        namespaces = self.store.list("Namespace")[0]
        if spec.get("global") is False:
            if not operator.strips_legacy_label:
                return
            for ns in namespaces:
                labels = ns["metadata"].get("labels") or {}
                if labels.get("istio.io/rev") == rev and "istio-injection" in labels:
                    del labels["istio-injection"]
                    self._label_namespace(ns)
            return
        listed = set(spec.get("autoInjectionNamespaces") or [])
        for ns in namespaces:
            labels = ns["metadata"].setdefault("labels", {})
            name = ns["metadata"]["name"]
            before = dict(labels)
            if name in listed:
                if operator.skips_rev_labelled and "istio.io/rev" in labels:
                    continue
                labels["istio-injection"] = "enabled"
                labels[MANAGED_INJECTION] = "enabled"
            elif labels.get(MANAGED_INJECTION) == "enabled":
                labels.pop("istio-injection", None)
                labels.pop(MANAGED_INJECTION, None)
            if labels != before:
                self._label_namespace(ns)
                if "istio.io/rev" in labels:
                    self._enqueue_crs(revisioned_only=True)  # they strip on their next pass

    # -- MeshGateways ------------------------------------------------------------------------------


def _control_plane_config(cr: Obj, names: dict[str, str], owner: list[Obj]) -> list[Obj]:
    """The mesh and injector ConfigMaps and istiod's ValidatingWebhookConfiguration."""
    meta, spec = cr["metadata"], cr.get("spec") or {}
    ns, rev = meta["namespace"], names["revision"]
    revisioned = spec.get("global") is False
    suffix = f"-{meta['name'].replace('.', '-')}" if revisioned else ""
    labels = {"istio.io/rev": rev}
    mesh = {
        "defaultConfig": {"discoveryAddress": f"{names['istiod']}.{ns}.svc:15012"},
        "trustDomain": spec.get("trustDomain") or "cluster.local",
        "enableAutoMtls": bool(spec.get("autoMtls", True)),
        "rootNamespace": ns,
    }
    injector = {
        "policy": "enabled",
        "template": "# the banzai injection template",
        "neverInjectSelector": [],
    }
    return [
        {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"istio{suffix}", "namespace": ns, "labels": labels, "ownerReferences": owner},
            "data": {"mesh": json.dumps(mesh, indent=2), "meshNetworks": "networks: {}"},
        },
        {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"istio-sidecar-injector{suffix}", "namespace": ns, "labels": labels, "ownerReferences": owner},
            "data": {"config": json.dumps(injector, indent=2), "values": json.dumps({"revision": rev})},
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": f"istiod-{meta['name'].replace('.', '-')}-{ns}" if revisioned else "istiod", "labels": labels, "ownerReferences": owner},
            "webhooks": [{
                "name": "validation.istio.io",
                "admissionReviewVersions": ["v1beta1", "v1"],
                "clientConfig": {"service": {"name": names["istiod"], "namespace": ns, "path": "/validate", "port": 443}},
                "failurePolicy": "Ignore",
                "sideEffects": "None",
                "rules": [{"apiGroups": ["networking.istio.io", "security.istio.io"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"], "resources": ["*"], "scope": "*"}],
            }],
        },
    ]  # fmt: skip
