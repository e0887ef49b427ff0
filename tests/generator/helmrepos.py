"""Small GitOps repos that install Istio from its Helm charts, for the Helm flavour's tests.

Three starting points (the ones users have): `plain` (release `istiod`, no revision, namespaces
labelled `istio-injection=enabled`), `revisioned` (`revision: 1-26-4`, namespaces labelled
`istio.io/rev=1-26-4`) and `tagged` (`revisionTags: [prod-stable]`, namespaces labelled with the
tag). Each as Argo CD Applications (values as `helm.values` text, `valuesObject` or `parameters`)
or Flux HelmReleases (`values`, or `valuesFrom` a ConfigMap). Two apps, a `gateway` chart release
and a gateway Deployment injected with the gateway template.
"""

from __future__ import annotations

from pathlib import Path

from tests.generator.helpers import build_tree

OLD_REPO = "https://istio-release.storage.googleapis.com/charts"


def _labels(start: str) -> str:
    return {
        "plain": "istio-injection: enabled",
        "revisioned": "istio.io/rev: 1-26-4",
        "tagged": "istio.io/rev: prod-stable",
        "tag-manifests": "istio.io/rev: prod-stable",
    }[start]


def _istiod_values(start: str) -> str:
    """The istiod values as YAML lines at column 0 (with a comment to keep)."""
    lines = [
        "# mesh-wide settings reviewed by the platform team",
        "meshConfig:",
        "  accessLogFile: /dev/stdout   # keep access logs",
        "pilot:",
        "  resources:",
        "    requests:",
        "      cpu: 200m",
    ]
    if start != "plain":
        lines.append("revision: 1-26-4")
    if start == "tagged":
        lines += ["revisionTags:", "  - prod-stable"]
    return "\n".join(lines) + "\n"


def _indent(text: str, n: int) -> str:
    return "".join(" " * n + line + "\n" if line else "\n" for line in text.splitlines())


def _apps(start: str) -> dict[str, str]:
    ns = "\n".join(
        f"""---
apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels:
    team: {name}  # owner
    {_labels(start)}
"""
        for name in ("demo-a", "demo-b")
    )
    files = {
        "apps/namespaces.yaml": ns
        + """---
apiVersion: v1
kind: Namespace
metadata:
  name: edge
  labels:
    """
        + _labels(start)
        + "\n",
        "apps/kustomization.yaml": "resources:\n  - namespaces.yaml\n  - demo-a.yaml\n  - demo-b.yaml\n"
        "  - edge.yaml\n",
    }
    for app, ns_name in (("app-a", "demo-a"), ("app-b", "demo-b")):
        files[f"apps/{ns_name}.yaml"] = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: {ns_name}
spec:
  selector:
    matchLabels: {{app: {app}}}
  template:
    metadata:
      labels: {{app: {app}}}
    spec:
      containers:
        - name: echo
          image: ealen/echo-server:0.9.2  # pinned on purpose
          ports: [{{containerPort: 80}}]
---
apiVersion: v1
kind: Service
metadata:
  name: {app}
  namespace: {ns_name}
spec:
  selector: {{app: {app}}}
  ports: [{{port: 80}}]
"""
    files["apps/edge.yaml"] = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: edge-gateway
  namespace: edge
spec:
  selector:
    matchLabels: {istio: edge-gateway}
  template:
    metadata:
      annotations:
        inject.istio.io/templates: gateway
      labels:
        istio: edge-gateway
        sidecar.istio.io/inject: "true"
    spec:
      containers:
        - name: istio-proxy
          image: auto
---
apiVersion: v1
kind: Service
metadata:
  name: edge-gateway
  namespace: edge
spec:
  type: LoadBalancer
  selector: {istio: edge-gateway}
  ports: [{port: 80}]
"""
    return files


def _argo_app(
    name: str, chart: str, version: str, helm: str, namespace: str = "istio-system"
) -> str:
    return f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {OLD_REPO}
    chart: {chart}
    targetRevision: {version}
    helm:
{helm}  destination:
    server: https://kubernetes.default.svc
    namespace: {namespace}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
"""


def argocd_files(start: str, form: str = "values", version: str = "1.26.4") -> dict[str, str]:
    """An Argo CD repo; `form` is how istiod's values are written (values|valuesObject|parameters)."""
    istiod_name = "istiod" if start == "plain" else "istiod-1-26-4"
    values = _istiod_values(start)
    if form == "values":
        helm = "      releaseName: " + istiod_name + "\n      values: |\n" + _indent(values, 8)
    elif form == "valuesObject":
        helm = "      releaseName: " + istiod_name + "\n      valuesObject:\n" + _indent(values, 8)
    else:
        params = ["pilot.resources.requests.cpu=200m"]
        if start != "plain":
            params.append("revision=1-26-4")
        if start == "tagged":
            params.append("revisionTags[0]=prod-stable")
        helm = "      parameters:\n" + "".join(
            f"        - name: {p.split('=')[0]}\n          value: {p.split('=')[1]}\n"
            for p in params
        )
        helm = "      releaseName: " + istiod_name + "\n" + helm
    gw_rev = (
        ""
        if start == "plain"
        else (
            "        revision: 1-26-4\n"
            if start in ("revisioned", "tag-manifests")
            else "        revision: prod-stable\n"
        )
    )
    files = {
        "argocd/istio-base.yaml": _argo_app(
            "istio-base",
            "base",
            version,
            "      valuesObject:\n        defaultRevision: "
            + ("default" if start == "plain" else "1-26-4")
            + "\n",
        ),
        f"argocd/{istiod_name}.yaml": _argo_app(istiod_name, "istiod", version, helm),
        "argocd/istio-ingressgateway.yaml": _argo_app(
            "istio-ingressgateway",
            "gateway",
            version,
            "      valuesObject:\n        service:\n          type: LoadBalancer\n" + gw_rev,
            "istio-ingress",
        ),
        "argocd/apps.yaml": """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: apps
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://git.example.com/fleet.git
    path: apps
  destination:
    server: https://kubernetes.default.svc
""",
    }
    return {**files, **_apps(start)}


def _flux_release(
    name: str, chart: str, version: str, values: str, ns: str = "istio-system"
) -> str:
    return f"""apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: {ns}
spec:
  interval: 10m
  chart:
    spec:
      chart: {chart}
      version: {version}  # renovate: datasource=helm
      sourceRef:
        kind: HelmRepository
        name: istio
        namespace: flux-system
{values}"""


def flux_files(start: str, form: str = "values", version: str = "1.26.4") -> dict[str, str]:
    """A Flux repo; `form` is how istiod's values are written (values|valuesFrom)."""
    istiod_name = "istiod" if start == "plain" else "istiod-1-26-4"
    values = _istiod_values(start)
    files: dict[str, str] = {
        "infra/istio/repository.yaml": f"""apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: istio
  namespace: flux-system
spec:
  interval: 1h
  url: {OLD_REPO}
""",
        "infra/istio/base.yaml": _flux_release(
            "istio-base",
            "base",
            version,
            "  values:\n    defaultRevision: "
            + ("default" if start == "plain" else "1-26-4")
            + "\n",
        ),
    }
    if form == "valuesFrom":
        files["infra/istio/istiod-values.yaml"] = (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istiod-values\n"
            "  namespace: istio-system\ndata:\n  values.yaml: |\n" + _indent(values, 4)
        )
        istiod_values = (
            "  valuesFrom:\n    - kind: ConfigMap\n      name: istiod-values\n"
            "  values:\n    pilot:\n      autoscaleEnabled: false\n"
        )
    else:
        istiod_values = "  values:\n" + _indent(values, 4)
    files[f"infra/istio/{istiod_name}.yaml"] = _flux_release(
        istiod_name, "istiod", version, "  dependsOn:\n    - name: istio-base\n" + istiod_values
    )
    gw_rev = (
        ""
        if start == "plain"
        else (
            "    revision: 1-26-4\n"
            if start in ("revisioned", "tag-manifests")
            else "    revision: prod-stable\n"
        )
    )
    files["infra/istio/gateway.yaml"] = _flux_release(
        "istio-ingressgateway",
        "gateway",
        version,
        "  values:\n    service:\n      type: LoadBalancer\n" + gw_rev,
        "istio-ingress",
    )
    listed = [p.rsplit("/", 1)[1] for p in files if p.startswith("infra/istio/")]
    files["infra/istio/kustomization.yaml"] = "resources:\n" + "".join(
        f"  - {p}\n" for p in sorted(listed)
    )
    files["clusters/prod/infra.yaml"] = """apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infra
  namespace: flux-system
spec:
  interval: 10m
  path: ./infra/istio
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
"""
    files["clusters/prod/apps.yaml"] = """apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps
  prune: true
  dependsOn: [{name: infra}]
  sourceRef: {kind: GitRepository, name: fleet}
"""
    return {**files, **_apps(start)}


TAG_MANIFEST = """# generated by `istioctl tag generate prod-stable --revision 1-26-4`
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-revision-tag-prod-stable
  labels:
    app: sidecar-injector
    istio.io/rev: 1-26-4
    istio.io/tag: prod-stable
webhooks:
  - name: rev.namespace.sidecar-injector.istio.io
    clientConfig:
      service:
        name: istiod-1-26-4
        namespace: istio-system
        path: /inject
        port: 443
    namespaceSelector:
      matchExpressions:
        - {key: istio.io/rev, operator: In, values: [prod-stable]}
        - {key: istio-injection, operator: DoesNotExist}
    rules:
      - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}
    sideEffects: None
    admissionReviewVersions: [v1]
    failurePolicy: Fail
---
apiVersion: v1
kind: Service
metadata:
  name: istiod-revision-tag-prod-stable
  namespace: istio-system
  labels:
    app: istiod
    istio.io/rev: 1-26-4
    istio.io/tag: prod-stable
spec:
  ports:
    - {port: 443, name: https-webhook, targetPort: 15017}
  selector:
    app: istiod
    istio.io/rev: 1-26-4
"""


def helm_repo(
    root: Path, engine: str, start: str, form: str = "values", version: str = "1.26.4"
) -> Path:
    """A committed repo of `engine` (argocd|flux) at starting point `start`."""
    files = (argocd_files if engine == "argocd" else flux_files)(start, form, version)
    if start == "tag-manifests":
        folder = "argocd" if engine == "argocd" else "infra/istio"
        files[f"{folder}/tag-prod-stable.yaml"] = TAG_MANIFEST
        if engine == "flux":
            files["infra/istio/kustomization.yaml"] += "  - tag-prod-stable.yaml\n"
    return build_tree(root, files)
