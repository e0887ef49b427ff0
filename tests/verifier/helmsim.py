"""The generator's Helm test repos, made runnable on simcluster, and the Helm upgrade driven on it.

`tests/generator/helmrepos.py` writes repos the way users write them; three things a real Argo CD
needs besides the repo (and the generator leaves alone) are added here: `CreateNamespace=true` on
the chart Applications (Argo CD's way of creating `istio-system`), an automated sync policy on the
`apps` Application, and the `ignoreDifferences` for istiod's webhook rewrites (a repo without them
is OutOfSync from the start, which the control-plane stage repairs; the tests start synced). The
Flux repos get the namespaces their releases install into. The flow then runs through
`rehearsal.Pipeline`, the one stage loop the demo also uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rehearsal.commands import GatePacing, Verdict, generate
from rehearsal.pipeline import Pipeline, simulated_cluster
from rehearsal.repos import make_repos
from simcluster.harness import SimCluster
from tests.generator.helmrepos import TAG_MANIFEST, argocd_files, flux_files

__all__ = ["HelmFlow", "helm_cluster", "sim_ready_files"]

_IGNORES = """  ignoreDifferences:
    - group: admissionregistration.k8s.io
      kind: MutatingWebhookConfiguration
      jqPathExpressions: [".webhooks[]?.clientConfig.caBundle"]
    - group: admissionregistration.k8s.io
      kind: ValidatingWebhookConfiguration
      jqPathExpressions: [".webhooks[]?.clientConfig.caBundle", ".webhooks[]?.failurePolicy"]
"""
_AUTOMATED = "    automated: {prune: true, selfHeal: true}\n"


def _argo_ready(path: str, text: str, finalizer: bool) -> str:
    if "kind: Application" not in text:
        return text
    if "chart:" in text:
        if finalizer:  # Argo CD deletes what a deleted Application applied only with it
            text = text.replace(
                "  namespace: argocd\n",
                "  namespace: argocd\n  finalizers: [resources-finalizer.argocd.argoproj.io]\n",
                1,
            )
        text = text.replace(_AUTOMATED, _AUTOMATED + "    syncOptions: [CreateNamespace=true]\n")
        if "chart: istiod" in text or "chart: base" in text:
            text = text.replace("  syncPolicy:\n", _IGNORES + "  syncPolicy:\n")
        return text
    # the apps Application: follow main, sync automatically
    text = text.replace("    path: apps\n", "    path: apps\n    targetRevision: main\n")
    return text + "  syncPolicy:\n" + _AUTOMATED


def sim_ready_files(engine: str, start: str, *, finalizer: bool = True) -> dict[str, str]:
    """The generator's test repo of `engine` at `start`, with what a cluster needs besides."""
    files = (argocd_files if engine == "argocd" else flux_files)(start)
    if start == "tag-manifests":
        folder = "argocd" if engine == "argocd" else "infra/istio"
        files[f"{folder}/tag-prod-stable.yaml"] = TAG_MANIFEST
        if engine == "flux":
            files["infra/istio/kustomization.yaml"] += "  - tag-prod-stable.yaml\n"
    if engine == "argocd":
        return {p: _argo_ready(p, t, finalizer) for p, t in files.items()}
    files["infra/istio/namespaces.yaml"] = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n---\n"
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-ingress\n"
    )
    files["infra/istio/kustomization.yaml"] += "  - namespaces.yaml\n"
    return files


@dataclass
class HelmFlow:
    """The Helm upgrade of one repo on simcluster, stage PR by stage PR."""

    pipeline: Pipeline

    @property
    def sim(self) -> SimCluster:
        return self.pipeline.sim

    @property
    def work(self) -> Path:
        return self.pipeline.repos.work

    def verify(
        self,
        *args: str,
        timeout: float = 20,
        successes: int = 2,
        fmt: str = "json",
        interval: float = 0.2,
    ) -> Verdict:
        pacing = GatePacing(
            timeout=timeout, interval=interval, successes=successes, probe_timeout=2
        )
        report = self.work.parent / "report.json"
        return self.pipeline.verify(*args, report=report, pacing=pacing, output=fmt)

    def kubectl(self, *args: str) -> str:
        return self.pipeline.kubectl(*args)

    def open_pr(self) -> str:
        """Commit the next stage on its PR branch; its name."""
        return self.pipeline.open_pr().name

    def merge(self) -> None:
        """Merge the PR into origin's main and let the engine apply it now."""
        self.pipeline.merge(fast_forward=True)
        self.pipeline.sync()

    def promote(self) -> Verdict:
        """Open the next stage's PR, gate it (it must pass), merge and sync it."""
        self.open_pr()
        gate = self.verify("gate")
        assert gate.exit_code == 0, gate.reason
        self.merge()
        return gate

    def promote_to(self, name: str) -> Verdict:
        """Promote stages up to and including stage `name`; the last gate."""
        while True:
            stage = self.pipeline.plan().next_stage
            assert stage is not None, f"no stage {name} left to promote"
            gate = self.promote()
            if stage.name == name:
                return gate


@contextmanager
def helm_cluster(
    tmp_path: Path,
    engine: str = "argocd",
    start: str = "plain",
    *,
    to_version: str = "1.28.2",
    faults: tuple[str, ...] = (),
    finalizer: bool = True,
) -> Iterator[HelmFlow]:
    """A generator test repo with its plan, synced into a fresh simcluster."""
    files = sim_ready_files(engine, start, finalizer=finalizer)

    def populate(root: Path) -> None:
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")

    repos = make_repos(
        tmp_path / "origin", tmp_path / "ci", populate=populate, message=f"Istio {start} mesh"
    )
    generate("init", "--repo", str(repos.work), "--to-version", to_version)
    repos.push_main()
    with simulated_cluster(repos.origin, tmp_path / "sim", faults) as sim:
        yield HelmFlow(Pipeline(repos, sim, reports=tmp_path / "reports"))
