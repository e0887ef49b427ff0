"""The resource kinds simcluster serves, and the server-side defaults a real API server fills in.

One table drives discovery, URL routing, the store's scope checks and the Table printer, so a
kind added here is served everywhere at once. ``Kind.name`` (e.g. ``"Deployment"``) is the key
the store and the controllers use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simcluster.allocation import ServiceAllocator

Obj = dict[str, Any]

STANDARD_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


@dataclass(frozen=True)
class Kind:
    """One served resource: where it lives on the wire and how the store treats it."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    # Whether metadata.generation is kept (workloads and CRs; not pods, services, namespaces).
    generation: bool = False
    # Custom resources reject strategic merge patch with 415, as a real server does.
    custom: bool = False
    # Stored at all? (SelfSubjectAccessReview is create-only and never persisted.)
    persisted: bool = True
    printer_columns: tuple[tuple[str, str, str, int], ...] = field(
        default=()
    )  # (name, type, jsonPath, priority)
    # The store key when two served kinds share a kind name (Banzai's and Sail's ``Istio``).
    key: str = ""

    @property
    def name(self) -> str:
        """The store key: the kind name, e.g. ``"Deployment"`` (``key`` when one is set)."""
        return self.key or self.kind

    @property
    def api_version(self) -> str:
        """``"apps/v1"`` for named groups, ``"v1"`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """``deployments.apps`` / ``pods``: how Status messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


_WORKLOAD_SUBS = ("status", "scale")


def _istio_config(
    group: str, kind: str, short: tuple[str, ...], columns: tuple[tuple[str, str, str, int], ...]
) -> Kind:
    """One of Istio's config CRDs, as its v1 version is served."""
    return Kind(
        group,
        "v1",
        kind,
        f"{kind[:-1].lower()}ies"
        if kind.endswith("y") and kind[-2] not in "aeiou"
        else f"{kind.lower()}s",
        kind.lower(),
        True,
        short,
        (),
        ("istio-io", group.replace(".", "-")),
        generation=True,
        custom=True,
        printer_columns=(*columns, ("Age", "date", ".metadata.creationTimestamp", 0)),
    )


_ALL = ("all",)
SAIL_ISTIO = "Istio.sailoperator.io"  # the store key of Sail's Istio (Banzai's is "Istio")

KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",), ("status", "finalize")),
    Kind(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        True,
        ("po",),
        ("status", "exec", "log", "attach", "portforward", "eviction", "binding"),
        _ALL,
    ),
    Kind("", "v1", "Service", "services", "service", True, ("svc",), ("status", "proxy"), _ALL),
    Kind("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",)),
    Kind("", "v1", "Event", "events", "event", True, ("ev",)),
    Kind("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",)),
    Kind("", "v1", "Secret", "secrets", "secret", True),
    Kind("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",)),
    Kind(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        True,
        ("deploy",),
        _WORKLOAD_SUBS,
        _ALL,
        generation=True,
    ),
    Kind(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        True,
        ("rs",),
        _WORKLOAD_SUBS,
        _ALL,
        generation=True,
    ),
    Kind(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        True,
        ("sts",),
        _WORKLOAD_SUBS,
        _ALL,
        generation=True,
    ),
    Kind(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        "daemonset",
        True,
        ("ds",),
        ("status",),
        _ALL,
        generation=True,
    ),
    Kind("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", True),
    Kind("batch", "v1", "Job", "jobs", "job", True, (), ("status",), _ALL, generation=True),
    Kind(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        False,
        generation=True,
    ),
    Kind(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        False,
        generation=True,
    ),
    Kind(
        "istio.banzaicloud.io",
        "v1beta1",
        "Istio",
        "istios",
        "istio",
        True,
        (),
        ("status",),
        generation=True,
        custom=True,
        printer_columns=(
            ("Status", "string", ".status.Status", 0),
            ("Error", "string", ".status.ErrorMessage", 0),
            ("Ingress IPs", "string", ".status.GatewayAddress", 0),
            ("Age", "date", ".metadata.creationTimestamp", 0),
        ),
    ),
    Kind(
        "istio.banzaicloud.io",
        "v1beta1",
        "MeshGateway",
        "meshgateways",
        "meshgateway",
        True,
        ("mgw",),
        ("status",),
        generation=True,
        custom=True,
        printer_columns=(
            ("Type", "string", ".spec.type", 0),
            ("Service Type", "string", ".spec.serviceType", 0),
            ("Status", "string", ".status.Status", 0),
            ("Ingress IPs", "string", ".status.GatewayAddress", 0),
            ("Error", "string", ".status.ErrorMessage", 0),
            ("Age", "date", ".metadata.creationTimestamp", 0),
            ("Control Plane", "string", ".spec.istioControlPlane", 0),
        ),
    ),
    # The Sail operator's CRDs (sailoperator.io/v1, cluster-scoped), with the printer columns
    # of the released CRDs. Sail's Istio is stored under its own key, beside Banzai's.
    Kind(
        "sailoperator.io",
        "v1",
        "Istio",
        "istios",
        "istio",
        False,
        (),
        ("status",),
        ("istio-io",),
        generation=True,
        custom=True,
        printer_columns=(
            ("Namespace", "string", ".spec.namespace", 0),
            ("Profile", "string", ".spec.profile", 0),
            ("Revisions", "string", ".status.revisions.total", 0),
            ("Ready", "string", ".status.revisions.ready", 0),
            ("In use", "string", ".status.revisions.inUse", 0),
            ("Active Revision", "string", ".status.activeRevisionName", 0),
            ("Status", "string", ".status.state", 0),
            ("Version", "string", ".spec.version", 0),
            ("Age", "date", ".metadata.creationTimestamp", 0),
        ),
        key=SAIL_ISTIO,
    ),
    Kind(
        "sailoperator.io",
        "v1",
        "IstioRevision",
        "istiorevisions",
        "istiorevision",
        False,
        ("istiorev",),
        ("status",),
        ("istio-io",),
        generation=True,
        custom=True,
        printer_columns=(
            ("Namespace", "string", ".spec.namespace", 0),
            ("Profile", "string", ".spec.values.profile", 0),
            ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
            ("Status", "string", ".status.state", 0),
            ("In use", "string", '.status.conditions[?(@.type=="InUse")].status', 0),
            ("Version", "string", ".spec.version", 0),
            ("Age", "date", ".metadata.creationTimestamp", 0),
        ),
    ),
    Kind(
        "sailoperator.io",
        "v1",
        "IstioRevisionTag",
        "istiorevisiontags",
        "istiorevisiontag",
        False,
        ("istiorevtag",),
        ("status",),
        ("istio-io",),
        generation=True,
        custom=True,
        printer_columns=(
            ("Status", "string", ".status.state", 0),
            ("In use", "string", '.status.conditions[?(@.type=="InUse")].status', 0),
            ("Revision", "string", ".status.istioRevision", 0),
            ("Age", "date", ".metadata.creationTimestamp", 0),
        ),
    ),
    Kind(
        "sailoperator.io",
        "v1",
        "IstioCNI",
        "istiocnis",
        "istiocni",
        False,
        (),
        ("status",),
        ("istio-io",),
        generation=True,
        custom=True,
        printer_columns=(
            ("Namespace", "string", ".spec.namespace", 0),
            ("Profile", "string", ".spec.profile", 0),
            ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
            ("Status", "string", ".status.state", 0),
            ("Version", "string", ".spec.version", 0),
            ("Age", "date", ".metadata.creationTimestamp", 0),
        ),
    ),
    # Istio config, so that creating it goes through Istio's validating webhooks (v1 is served
    # from Istio 1.22 on; a GitOps sync stores the older versions a repo may use as v1).
    *(
        _istio_config(group, kind, short, columns)
        for group, kind, short, columns in (
            (
                "networking.istio.io",
                "VirtualService",
                ("vs",),
                (
                    ("Gateways", "string", ".spec.gateways", 0),
                    ("Hosts", "string", ".spec.hosts", 0),
                ),
            ),
            (
                "networking.istio.io",
                "DestinationRule",
                ("dr",),
                (("Host", "string", ".spec.host", 0),),
            ),
            ("networking.istio.io", "Gateway", ("gw",), ()),
            (
                "networking.istio.io",
                "ServiceEntry",
                ("se",),
                (("Hosts", "string", ".spec.hosts", 0),),
            ),
            ("networking.istio.io", "Sidecar", (), ()),
            (
                "security.istio.io",
                "AuthorizationPolicy",
                ("ap",),
                (("Action", "string", ".spec.action", 0),),
            ),
            (
                "security.istio.io",
                "PeerAuthentication",
                ("pa",),
                (("Mode", "string", ".spec.mtls.mode", 0),),
            ),
            ("security.istio.io", "RequestAuthentication", ("ra",), ()),
        )
    ),
    Kind(
        "argoproj.io",
        "v1alpha1",
        "Application",
        "applications",
        "application",
        True,
        ("app", "apps"),
        (),
        generation=True,
        custom=True,
        printer_columns=(
            ("Sync Status", "string", ".status.sync.status", 0),
            ("Health Status", "string", ".status.health.status", 0),
            ("Revision", "string", ".status.sync.revision", 10),
            ("Project", "string", ".spec.project", 10),
        ),
    ),
    Kind(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
        "kustomizations",
        "kustomization",
        True,
        ("ks",),
        ("status",),
        generation=True,
        custom=True,
        printer_columns=(
            ("Age", "date", ".metadata.creationTimestamp", 0),
            ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
            ("Status", "string", '.status.conditions[?(@.type=="Ready")].message', 0),
        ),
    ),
    Kind(
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
        "helmreleases",
        "helmrelease",
        True,
        ("hr",),
        ("status",),
        generation=True,
        custom=True,
        printer_columns=(
            ("Age", "date", ".metadata.creationTimestamp", 0),
            ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
            ("Status", "string", '.status.conditions[?(@.type=="Ready")].message', 0),
        ),
    ),
    Kind(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        False,
        verbs=("create",),
        persisted=False,
    ),
)

_BY_NAME = {k.name: k for k in KINDS}
_BY_PLURAL = {(k.group, k.version, k.plural): k for k in KINDS}
_BY_API = {(k.api_version, k.kind): k for k in KINDS}


def kind_by_name(name: str) -> Kind:
    """The Kind for a kind name (``"Deployment"``); KeyError names it when unknown."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"simcluster serves no kind {name!r}") from None


def kind_of(obj: Obj) -> Kind:
    """The Kind of a manifest, by ``apiVersion`` and ``kind`` (by kind name alone without one).

    Two groups serve a kind named ``Istio``; the apiVersion tells them apart.
    """
    found = _BY_API.get((str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")))
    return found if found is not None else kind_by_name(str(obj.get("kind") or ""))


def store_key(obj: Obj) -> str:
    """The store key of a manifest's kind (its kind name when simcluster does not serve it)."""
    try:
        return kind_of(obj).name
    except KeyError:
        return str(obj.get("kind") or "")


def kind_by_plural(group: str, version: str, plural: str) -> Kind | None:
    """The Kind served at ``/apis/<group>/<version>/<plural>`` (group "" for ``/api/v1``)."""
    return _BY_PLURAL.get((group, version, plural))


# ---------------------------------------------------------------------------------------------
# Server-side defaulting: what `kubectl get -o yaml` shows on a real cluster beyond what was sent.


def _default_container(c: Obj) -> None:
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    image = str(c.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
    c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for probe in (c.get(k) for k in ("livenessProbe", "readinessProbe", "startupProbe")):
        if isinstance(probe, dict):  # SetDefaults_Probe, SetDefaults_HTTPGetAction
            for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10)):
                probe.setdefault(key, value)
            for key, value in (("successThreshold", 1), ("failureThreshold", 3)):
                probe.setdefault(key, value)
            if isinstance(probe.get("httpGet"), dict):
                probe["httpGet"].setdefault("path", "/")
                probe["httpGet"].setdefault("scheme", "HTTP")


_VOLUME_MODE = 420  # 0644: SetDefaults_{ConfigMap,Secret,DownwardAPI,Projected}VolumeSource


def _default_volume(volume: Obj) -> None:
    for source in ("configMap", "secret", "downwardAPI", "projected"):
        if isinstance(volume.get(source), dict):
            volume[source].setdefault("defaultMode", _VOLUME_MODE)
    items = list((volume.get("downwardAPI") or {}).get("items") or [])
    for projected in (volume.get("projected") or {}).get("sources") or []:
        items += (projected.get("downwardAPI") or {}).get("items") or []
    for item in items:
        if isinstance(item.get("fieldRef"), dict):  # SetDefaults_ObjectFieldSelector
            item["fieldRef"].setdefault("apiVersion", "v1")


def default_pod_spec(spec: Obj) -> None:
    """Fill the pod-spec defaults the apiserver adds (also inside workload templates)."""
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        _default_container(c)
    for volume in spec.get("volumes") or []:
        _default_volume(volume)
    # The v1 conversion mirrors serviceAccountName into the deprecated serviceAccount (and
    # reads the old field when only it is set), in templates as in pods.
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if account:
        spec["serviceAccountName"] = spec["serviceAccount"] = account
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def _default_template(spec: Obj) -> None:
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    default_pod_spec(template.setdefault("spec", {}))


def _default_pod(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    default_pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    spec.setdefault(
        "tolerations",
        [
            {
                "effect": "NoExecute",
                "key": f"node.kubernetes.io/{reason}",
                "operator": "Exists",
                "tolerationSeconds": 300,
            }
            for reason in ("not-ready", "unreachable")
        ],
    )
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    # From the spec as admitted (defaults run again after the mutating hooks): an injected
    # sidecar's requests make the pod Burstable, as on a real API server.
    status["qosClass"] = qos_class(spec)


def qos_class(spec: Obj) -> str:
    """The pod's QoS class as the apiserver computes it on create (``qos.GetPodQOS``): no CPU or
    memory requests or limits anywhere is BestEffort; limits on both for every container, with
    requests equal to them, Guaranteed; anything else Burstable."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    guaranteed, any_set = True, False
    for c in containers:
        resources = c.get("resources") or {}
        limits = {k: v for k, v in (resources.get("limits") or {}).items() if k in _QOS}
        requests = {k: v for k, v in (resources.get("requests") or {}).items() if k in _QOS}
        any_set = any_set or bool(limits or requests)
        if set(limits) != set(_QOS) or any(requests.get(k, v) != v for k, v in limits.items()):
            guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


_QOS = ("cpu", "memory")


def _default_deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxSurge", "25%")
        ru.setdefault("maxUnavailable", "25%")
    _default_template(spec)


def _default_replicaset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _default_template(spec)


def _default_statefulset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"partition": 0})
    spec.setdefault(
        "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"}
    )
    _default_template(spec)


def _default_daemonset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxSurge": 0, "maxUnavailable": 1})
    _default_template(spec)


def _default_job(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    _default_template(spec)
    spec["template"]["spec"]["restartPolicy"] = spec["template"]["spec"].get(
        "restartPolicy", "Never"
    )


def _default_service(obj: Obj, addresses: ServiceAllocator) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = addresses.cluster_ip()
        spec.setdefault(
            "clusterIPs", [spec["clusterIP"]] if spec["clusterIP"] != "None" else ["None"]
        )
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("LoadBalancer", "NodePort"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if spec["type"] in ("LoadBalancer", "NodePort") and "nodePort" not in port:
            port["nodePort"] = addresses.node_port()
    obj.setdefault("status", {"loadBalancer": {}})


def _default_namespace(obj: Obj) -> None:
    obj.setdefault("spec", {"finalizers": ["kubernetes"]})
    obj.setdefault("status", {"phase": "Active"})
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


_DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "Pod": _default_pod,
    "Deployment": _default_deployment,
    "ReplicaSet": _default_replicaset,
    "StatefulSet": _default_statefulset,
    "DaemonSet": _default_daemonset,
    "Job": _default_job,
    "Namespace": _default_namespace,
}


def apply_defaults(kind: Kind, obj: Obj, addresses: ServiceAllocator) -> None:
    """Fill the server-side defaults for ``kind`` into ``obj`` in place (create and update).

    ``addresses`` is the cluster's allocator, for the ClusterIP and nodePorts of a Service.
    """
    if kind.kind == "Service":
        _default_service(obj, addresses)
        return
    defaulter = _DEFAULTERS.get(kind.kind)
    if defaulter is not None:
        defaulter(obj)
