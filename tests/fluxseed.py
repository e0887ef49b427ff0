"""The seed's Istio 1.6 mesh as a Flux fleet repo (the Flux flavour of example-repo/).

Built from example-repo's own files so both flavours describe the same mesh: the Istio CR and the
two echo apps are copied byte for byte; only the GitOps wiring differs (the usual Flux fleet
layout): `clusters/demo/` holds the Flux Kustomizations, `infrastructure/istio/` the operator as a
HelmRelease of the istio-operator chart (the seed's `helm install` values) and the Istio CR, and
`apps/` is applied after the infrastructure (`dependsOn`).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from generator.resources import example_repo_dir

FLUX_FILES = {
    "clusters/demo/infrastructure.yaml": """
        # Istio operators and control planes: applied before the apps (see apps.yaml dependsOn).
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: infrastructure
          namespace: flux-system
        spec:
          interval: 10m
          path: ./infrastructure/istio
          prune: true
          wait: true
          sourceRef:
            kind: GitRepository
            name: flux-system
        """,
    "clusters/demo/apps.yaml": """
        # The demo applications and their namespaces.
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: apps
          namespace: flux-system
        spec:
          interval: 10m
          dependsOn:
            - name: infrastructure
          path: ./apps
          prune: true
          sourceRef:
            kind: GitRepository
            name: flux-system
        """,
    "infrastructure/istio/kustomization.yaml": """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources:
          - istio-operator-v16x.yaml
          - istio.yaml
        """,
    "infrastructure/istio/istio-operator-v16x.yaml": """
        # The Banzai Cloud istio-operator that reconciles Istio 1.6 control planes
        # (the seed's `helm install istio-operator-v16x ... --set operator.image.tag=0.6.12`).
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata:
          name: istio-operator-v16x
          namespace: istio-system
        spec:
          interval: 10m
          releaseName: istio-operator-v16x
          chart:
            spec:
              chart: istio-operator
              version: 0.0.88
              sourceRef:
                kind: HelmRepository
                name: banzaicloud-stable
                namespace: flux-system
          values:
            operator:
              image:
                tag: "0.6.12"
            istioVersion: "1.6"
        """,
}


def flux_seed_repo(root: Path) -> Path:
    """Write the Flux flavour of the seed repo into `root` (not committed); returns `root`."""
    example = example_repo_dir()
    shutil.copytree(example / "apps", root / "apps")
    (root / "infrastructure/istio").mkdir(parents=True)
    shutil.copy2(example / "istio-system/istio.yaml", root / "infrastructure/istio/istio.yaml")
    for rel, text in FLUX_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root
