"""examples/helm-argocd in a tmp dir with `cni` and `ztunnel` Applications added: the node
agents of an ambient-capable install, as a team that runs them would write them."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.generator.helpers import git

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "helm-argocd"
OLD_REPO = "https://istio-release.storage.googleapis.com/charts"

CNI_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: istio-cni
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {repo}
    chart: cni
    targetRevision: {version}  # the node agent
    helm:
      valuesObject:
        profile: ambient
  destination:
    server: https://kubernetes.default.svc
    namespace: istio-system
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
"""

ZTUNNEL_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: ztunnel
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {repo}
    chart: ztunnel
    targetRevision: {version}
    helm:
      releaseName: ztunnel
{values}  destination:
    server: https://kubernetes.default.svc
    namespace: istio-system
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
"""


def write_cni_example(
    root: Path,
    version: str = "1.26.4",
    agents: str = "",
    ztunnel_values: str = "",
    repo: str = OLD_REPO,
) -> None:
    """Write examples/helm-argocd, its Istio at `version`, plus Applications of the cni and
    ztunnel charts at `agents` (default: `version`), into `root` (not committed)."""
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True)
    for path in (root / "argocd").glob("*.yaml"):
        text = path.read_text()
        path.write_text(text.replace("targetRevision: 1.26.4", f"targetRevision: {version}"))
    at = agents or version
    (root / "argocd" / "istio-cni.yaml").write_text(CNI_APP.format(repo=repo, version=at))
    (root / "argocd" / "ztunnel.yaml").write_text(
        ZTUNNEL_APP.format(repo=repo, version=at, values=ztunnel_values)
    )


def cni_example(root: Path, version: str = "1.26.4", agents: str = "", **kw: str) -> Path:
    """:func:`write_cni_example`, committed on main in a new git repo."""
    write_cni_example(root, version, agents, **kw)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "example with node agents")
    return root
