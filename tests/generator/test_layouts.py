"""Other repo layouts: a Flux fleet with a HelmRelease operator, and plain operator manifests."""

from __future__ import annotations

from pathlib import Path

import yaml

from core.plan import load_plan
from tests.generator.helpers import build_tree, changed_files, git, run

FLUX = {
    "clusters/prod/infrastructure.yaml": """
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: infrastructure
          namespace: flux-system
        spec:
          path: ./infrastructure/istio
          prune: true
        """,
    "infrastructure/istio/kustomization.yaml": """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources:
          - operator.yaml
          - mesh.yaml   # the control plane
          - gateway.yaml
        """,
    "infrastructure/istio/operator.yaml": """
        # istio-operator for Istio 1.6
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata:
          name: istio-operator-v16x
          namespace: istio-system
        spec:
          chart:
            spec:
              chart: istio-operator
              version: 0.0.88
          values:
            operator:
              image:
                tag: "0.6.14"
            istioVersion: "1.6"
        """,
    "infrastructure/istio/mesh.yaml": """
        apiVersion: istio.banzaicloud.io/v1beta1
        kind: Istio
        metadata:
          name: mesh-v16x
          namespace: istio-system
        spec:
          version: '1.6.14'
          controlPlaneSecurityEnabled: true
          gateways:
            ingress: {enabled: false}
          proxy:
            image: my.registry:5000/istio/proxyv2:1.6.14
        """,
    "infrastructure/istio/gateway.yaml": """
        # The public gateway; binds to the oldest Istio CR (no istioControlPlane).
        apiVersion: istio.banzaicloud.io/v1beta1
        kind: MeshGateway
        metadata:
          name: public
          namespace: istio-system
        spec:
          type: ingress
          ports: [{name: http2, port: 80, targetPort: 8080}]
        """,
    "apps/namespaces.yaml": """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
          labels: {istio-injection: enabled, team: web}
        ---
        apiVersion: v1
        kind: Namespace
        metadata:
          name: legacy
          labels:
            istio-injection: disabled   # never meshed
        """,
    "apps/shop/kustomization.yaml": """
        namespace: shop
        resources: [deploy.yaml]
        """,
    "apps/shop/deploy.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          template:
            metadata:
              labels: {app: web}
            spec:
              containers: [{name: web, image: nginx}]
        """,
    "apps/legacy/deploy.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: old
          namespace: legacy
        spec:
          template:
            spec:
              containers: [{name: old, image: busybox}]
        """,
}


def test_flux_fleet_through_every_stage(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, FLUX)
    legacy = {p: (repo / p).read_bytes() for p in ("apps/legacy/deploy.yaml",)}
    assert run("init", "--repo", str(repo), "--to-version", "1.7.7").exit_code == 0
    plan = load_plan((repo / ".istio-canary/plan.yaml").read_text())
    assert plan.gitops_engine == "flux"
    assert plan.source.operator.form == "helmrelease" and plan.target.name == "mesh-v17x"
    assert [ns.name for ns in plan.namespaces] == ["shop"]
    assert plan.namespaces[0].workloads[0].name == "web"  # namespace from the kustomization
    assert [s.name for s in plan.stages] == ["control-plane", "gateways", "namespaces-1", "cleanup"]

    assert run("next", "--repo", str(repo)).exit_code == 0
    hr = yaml.safe_load((repo / "infrastructure/istio/istio-operator-v17x.yaml").read_text())
    assert hr["kind"] == "HelmRelease" and hr["metadata"]["name"] == "istio-operator-v17x"
    # The chart that shipped 0.7.14, with istioVersion pinned (0.0.88's default, 1.10, crashes it).
    assert hr["spec"]["values"] == {"operator": {"image": {"tag": "0.7.14"}}, "istioVersion": "1.7"}
    assert hr["spec"]["chart"]["spec"]["version"] == "0.0.69"
    cr = yaml.safe_load((repo / "infrastructure/istio/mesh-v17x.yaml").read_text())
    assert cr["spec"]["controlPlaneAuthPolicy"] == "MUTUAL_TLS"
    assert cr["spec"]["proxy"]["image"] == "my.registry:5000/istio/proxyv2:1.7.7"
    kust = (repo / "infrastructure/istio/kustomization.yaml").read_text()
    assert kust.endswith(
        "  - mesh.yaml   # the control plane\n  - gateway.yaml\n"
        "  - mesh-v17x.yaml\n  - istio-operator-v17x.yaml\n"
    )

    assert run("next", "--repo", str(repo)).exit_code == 0
    gw = (repo / "infrastructure/istio/gateway.yaml").read_text()
    assert gw.startswith("# The public gateway; binds to the oldest Istio CR")
    assert yaml.safe_load(gw)["spec"]["istioControlPlane"] == {
        "name": "mesh-v17x",
        "namespace": "istio-system",
    }

    assert run("next", "--repo", str(repo)).exit_code == 0
    ns_text = (repo / "apps/namespaces.yaml").read_text()
    assert "labels: {istio.io/rev: mesh-v17x.istio-system, team: web}" in ns_text
    assert "istio-injection: disabled   # never meshed" in ns_text
    dep = yaml.safe_load((repo / "apps/shop/deploy.yaml").read_text())
    assert dep["spec"]["template"]["metadata"]["annotations"] == {
        "istio-canary.io/revision": "mesh-v17x.istio-system"
    }

    assert run("next", "--repo", str(repo)).exit_code == 0
    assert changed_files(repo) == {
        ".istio-canary/plan.yaml": "M",
        "infrastructure/istio/kustomization.yaml": "M",
        "infrastructure/istio/mesh.yaml": "D",
        "infrastructure/istio/operator.yaml": "D",
    }
    assert (repo / "infrastructure/istio/kustomization.yaml").read_text() == (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
        "  - gateway.yaml\n  - mesh-v17x.yaml\n  - istio-operator-v17x.yaml\n"
    )
    assert {p: (repo / p).read_bytes() for p in legacy} == legacy
    assert git(repo, "status", "--porcelain") == ""


PLAIN = {
    "istio.yaml": """
        apiVersion: istio.banzaicloud.io/v1beta1
        kind: Istio
        metadata: {name: istio, namespace: istio-system}
        spec:
          version: "1.6.14"
          autoInjectionNamespaces: [a]
          gateways: {enabled: false}
        """,
    "operator.yaml": """
        # plain manifests of the operator release istio-operator
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: istio-operator, namespace: istio-system}
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: istio-operator, namespace: istio-system}
        spec:
          template:
            spec:
              serviceAccountName: istio-operator
              containers:
              - name: manager
                image: ghcr.io/banzaicloud/istio-operator:0.6.12
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: unrelated, namespace: istio-system}
        """,
    "ns.yaml": """
        apiVersion: v1
        kind: Namespace
        metadata: {name: a}
        """,
}


def test_plain_operator_release_is_cloned_and_removed_by_document(tmp_path: Path) -> None:
    repo = build_tree(tmp_path, PLAIN)
    r = run("init", "--repo", str(repo), "--to-version", "1.7.7")
    assert r.exit_code == 0, r.stderr
    plan = load_plan((repo / ".istio-canary/plan.yaml").read_text())
    assert (
        plan.source.operator.form == "plain" and plan.target.operator.name == "istio-operator-v17x"
    )
    assert [s.kind for s in plan.stages] == ["control-plane", "namespaces", "cleanup"]
    assert plan.namespaces[0].meshed_by == ("autoInjectionNamespaces",)
    assert run("next", "--repo", str(repo)).exit_code == 0
    sa, sts = yaml.safe_load_all((repo / "istio-operator-v17x.yaml").read_text())
    assert sa["metadata"]["name"] == sts["metadata"]["name"] == "istio-operator-v17x"
    assert sts["spec"]["template"]["spec"]["serviceAccountName"] == "istio-operator-v17x"
    image = sts["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/banzaicloud/istio-operator:0.7.14"
    assert run("next", "--repo", str(repo)).exit_code == 0
    ns = yaml.safe_load((repo / "ns.yaml").read_text())
    assert ns["metadata"]["labels"] == {"istio.io/rev": "istio-v17x.istio-system"}
    assert (
        yaml.safe_load((repo / "istio.yaml").read_text())["spec"]["autoInjectionNamespaces"] == []
    )
    assert run("next", "--repo", str(repo)).exit_code == 0
    # The release's documents go with the comments inside their segments; the rest stays.
    assert (repo / "operator.yaml").read_text() == (
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: unrelated, namespace: istio-system}\n"
    )
    assert not (repo / "istio.yaml").exists()
