"""Small Helm-flavoured GitOps repos (real git) for the simcluster tests of Istio's charts.

Written the way users write them: Argo CD Applications with a Helm source from Istio's chart
repository (values as ``helm.values`` text, ``valuesObject`` or ``parameters``), or Flux
HelmRepository + HelmReleases (``values``, ``valuesFrom`` a ConfigMap in the repo); two meshed
apps, and an ingress gateway from the ``gateway`` chart.
"""

from __future__ import annotations

import pathlib
import subprocess
from typing import Any

import yaml

Obj = dict[str, Any]
OLD_REPO = "https://istio-release.storage.googleapis.com/charts"
NEW_REPO = "https://blob.istio.io/istio-release/charts"
OCI_REPO = "ghcr.io/istio/release/charts"


def git(repo: pathlib.Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def write(repo: pathlib.Path, rel: str, *docs: Obj, text: str = "") -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text or yaml.safe_dump_all(list(docs), sort_keys=False))


def commit(repo: pathlib.Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def init(repo: pathlib.Path) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)


def namespace(name: str, **labels: str) -> Obj:
    meta: Obj = {"name": name}
    if labels:
        meta["labels"] = {k.replace("__", "."): v for k, v in labels.items()}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def ns_labels(name: str, labels: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def app_deployment(name: str, ns: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "echo-service",
                            "image": "k8s.gcr.io/echoserver:1.10",
                            "ports": [{"containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


def argo_chart_app(
    name: str,
    chart: str,
    version: str,
    namespace: str = "istio-system",
    *,
    repo_url: str = OLD_REPO,
    helm: Obj | None = None,
    ignore: list[Obj] | None = None,
) -> Obj:
    spec: Obj = {
        "project": "default",
        "source": {"repoURL": repo_url, "chart": chart, "targetRevision": version},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["CreateNamespace=true"]},
    }  # fmt: skip
    if helm:
        spec["source"]["helm"] = helm
    if ignore:
        spec["ignoreDifferences"] = ignore
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": spec,
    }


def argo_path_app(name: str, path: str) -> Obj:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example.com/mesh.git", "path": path, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }  # fmt: skip


WEBHOOK_IGNORES: list[Obj] = [
    {
        "group": "admissionregistration.k8s.io",
        "kind": "MutatingWebhookConfiguration",
        "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"],
    },
    {
        "group": "admissionregistration.k8s.io",
        "kind": "ValidatingWebhookConfiguration",
        "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle", ".webhooks[]?.failurePolicy"],
    },
]


def argo_revisioned(
    repo: pathlib.Path,
    *,
    version: str = "1.26.4",
    revision: str = "1-26-4",
    tags: tuple[str, ...] = (),
    ignore: bool = True,
    ns_label: dict[str, str] | None = None,
) -> None:
    """An Argo CD repo: base, a revisioned istiod (values as text), a gateway, two apps."""
    init(repo)
    values = f"# the control plane\nrevision: {revision}\n"
    if tags:
        values += "revisionTags:\n" + "".join(f"  - {t}\n" for t in tags)
    write(repo, "argocd/istio-base.yaml", argo_chart_app(
        "istio-base", "base", version, helm={"valuesObject": {"defaultRevision": revision}}))  # fmt: skip
    write(repo, "argocd/istiod.yaml", argo_chart_app(
        f"istiod-{revision}", "istiod", version, helm={"releaseName": f"istiod-{revision}", "values": values},
        ignore=WEBHOOK_IGNORES if ignore else None))  # fmt: skip
    write(repo, "argocd/gateway.yaml", argo_chart_app(
        "istio-ingress", "gateway", version, "istio-ingress",
        helm={"parameters": [{"name": "revision", "value": revision}]}))  # fmt: skip
    write(repo, "argocd/apps.yaml", argo_path_app("apps", "apps"))
    label = ns_label or {"istio.io/rev": revision}
    write(repo, "apps/namespaces.yaml", ns_labels("demo-a", label), ns_labels("demo-b", label))
    write(repo, "apps/app-a.yaml", app_deployment("app-a", "demo-a"))
    write(repo, "apps/app-b.yaml", app_deployment("app-b", "demo-b"))
    commit(repo, "mesh")


def flux_default(repo: pathlib.Path, *, version: str = "1.27.3", url: str = OLD_REPO) -> None:
    """A Flux repo: a non-revisioned istiod (values from a ConfigMap), base, gateway, two apps."""
    init(repo)
    repository = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": "istio", "namespace": "flux-system"},
        "spec": {
            "interval": "1h",
            "url": url,
            **({"type": "oci"} if url.startswith("oci://") else {}),
        },
    }

    def release(name: str, chart: str, target: str, values: Obj | None = None, **extra: Any) -> Obj:
        spec: Obj = {
            "interval": "10m",
            "targetNamespace": target,
            "releaseName": name,
            "chart": {"spec": {"chart": chart, "version": version,
                               "sourceRef": {"kind": "HelmRepository", "name": "istio", "namespace": "flux-system"}}},
        }  # fmt: skip
        if values:
            spec["values"] = values
        spec.update(extra)
        return {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": spec,
        }

    kustomization = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "infra", "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": "./infra", "prune": True,
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
    }  # fmt: skip
    apps = {**kustomization, "metadata": {"name": "apps", "namespace": "flux-system"}}
    apps["spec"] = {**kustomization["spec"], "path": "./apps"}
    write(repo, "clusters/sim/sources.yaml", repository)
    write(repo, "clusters/sim/infra.yaml", kustomization, apps)
    write(
        repo,
        "clusters/sim/istio.yaml",
        release("istio-base", "base", "istio-system"),
        release(
            "istiod", "istiod", "istio-system",
            valuesFrom=[{"kind": "ConfigMap", "name": "istiod-values"}],
        ),
        release("istio-ingress", "gateway", "istio-gateways", install={"createNamespace": True}),
    )  # fmt: skip
    write(
        repo,
        "infra/namespaces.yaml",
        namespace("istio-system"),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "istiod-values", "namespace": "flux-system"},
            "data": {"values.yaml": "pilot:\n  autoscaleEnabled: false\nmeshConfig:\n  accessLogFile: /dev/stdout\n"},
        },
    )  # fmt: skip
    label = {"istio-injection": "enabled"}
    write(repo, "apps/namespaces.yaml", ns_labels("demo-a", label), ns_labels("demo-b", label))
    write(repo, "apps/app-a.yaml", app_deployment("app-a", "demo-a"))
    write(repo, "apps/app-b.yaml", app_deployment("app-b", "demo-b"))
    commit(repo, "mesh")
