"""The Sail gate on a variant of examples/sail-argocd, stage PR by stage PR on simcluster.

The example as a RevisionBased Istio (no strategy switch, so no via revision) whose tag is
pinned to the running IstioRevision instead of following the Istio: the tag stays on the old
revision through every wave, and the cleanup commit itself points it at the new one. So the
cleanup gate must accept the tag that names the old revision (the commit under review moves
it) and nothing else, and after cleanup the operator must have deleted the old revision.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from generator.resources import data_dir
from rehearsal.commands import generate
from rehearsal.pipeline import Pipeline, simulated_cluster
from rehearsal.repos import make_repos
from tests.generator.sail.sailrepo import DEFAULT_TAG
from tests.generator.sail.test_flow import FLUX_KUSTOMIZATIONS, FLUX_OPERATOR
from tests.verifier.helmsim import HelmFlow

pytestmark = pytest.mark.slow

OLD, NEW = "default-v1-27-9", "default-v1-28-6"
# (file, text, replacement): the example written for RevisionBased, its tag pinned
VARIANT = [
    ("mesh/istio.yaml", "type: InPlace", "type: RevisionBased"),
    ("apps/ingress.yaml", "istio.io/rev: default ", f"istio.io/rev: {OLD} "),
    ("apps/namespaces.yaml", "istio-injection: enabled", f"istio.io/rev: {OLD}"),
    ("mesh/tag.yaml", "    kind: Istio\n    name: default", f"    kind: IstioRevision\n    name: {OLD}"),
]  # fmt: skip


# The example as a Flux repo: the operator a HelmRelease, mesh and apps two Kustomizations.
FLUX = {
    "argocd/sail-operator.yaml": None,
    "argocd/control-plane.yaml": None,
    "argocd/apps.yaml": None,
    "clusters/demo/sail-operator.yaml": FLUX_OPERATOR,
    "clusters/demo/mesh.yaml": FLUX_KUSTOMIZATIONS,
}


@contextmanager
def sail_flow(
    tmp_path: Path,
    edits: Sequence[tuple[str, str, str]] = (),
    files: dict[str, str | None] | None = None,
) -> Iterator[HelmFlow]:
    """The example with `edits` (file, text, replacement) and `files` (written or deleted),
    planned and synced into a fresh simcluster."""

    def populate(root: Path) -> None:
        shutil.copytree(data_dir("examples") / "sail-argocd", root)
        for rel, text, new in edits:
            path = root / rel
            before = path.read_text(encoding="utf-8")
            assert text in before, (rel, text)
            path.write_text(before.replace(text, new), encoding="utf-8")
        for rel, content in (files or {}).items():
            path = root / rel
            if content is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")

    repos = make_repos(tmp_path / "origin", tmp_path / "ci", populate=populate, message="mesh")
    generate("init", "--repo", str(repos.work), "--to-version", "1.28.6")
    repos.push_main()
    with simulated_cluster(repos.origin, tmp_path / "sim") as sim:
        yield HelmFlow(Pipeline(repos, sim, reports=tmp_path / "reports"))


def test_a_tag_pinned_to_the_old_revision_moves_at_cleanup_and_the_gates_follow(
    tmp_path: Path,
) -> None:
    with sail_flow(tmp_path, VARIANT) as flow:
        plan = flow.pipeline.plan()
        assert [s.name for s in plan.stages] == [
            "control-plane", "namespaces-1", "namespaces-2", "gateways", "cleanup", "cni"]  # fmt: skip
        start = flow.verify("stage", "0")
        assert start.exit_code == 0, start.reason
        assert start.check("revision-tags")["message"] == f"tags: prod -> {OLD}"
        gate = flow.promote_to("gateways")
        assert gate.check("revision-tags")["message"] == f"tags: prod -> {OLD}"
        # every workload moved; the pinned tag alone still names the old revision
        flow.open_pr()
        cleanup_gate = flow.verify("gate")
        assert cleanup_gate.exit_code == 0, cleanup_gate.reason
        safety = cleanup_gate.check("cleanup-safety")
        assert safety["message"] == (
            f"no other tag, namespace label or pod names {OLD}; tag(s) prod move off it with "
            "the cleanup commit"
        )
        flow.merge()
        after = flow.verify("stage", "5")
        assert after.exit_code == 0, after.reason
        assert after.check("revision-tags")["message"] == f"tags: prod -> {NEW}"
        assert after.check("cleanup-safety")["message"].endswith(f"{OLD} deleted")
        assert after.check("control-planes")["message"] == (
            f"Istio default Ready on {NEW}; Ready: {NEW} (1.28.6); removed: {OLD}"
        )


def test_the_flux_form_of_the_example_passes_every_gate(tmp_path: Path) -> None:
    with sail_flow(tmp_path, files=FLUX) as flow:
        plan = flow.pipeline.plan()
        assert plan.gitops_engine == "flux"
        names = [s.name for s in plan.stages]
        last = flow.promote_to(names[-1])
        assert last.exit_code == 0
        done = flow.verify("stage", str(plan.total))
        assert done.exit_code == 0, done.reason
        sync = done.check("gitops-sync")
        objects = sorted(e["object"] for e in sync["evidence"])
        assert objects == [
            "HelmRelease sail-operator/sail-operator",
            "Kustomization flux-system/apps",
            "Kustomization flux-system/mesh",
        ]
        assert done.check("istio-cni")["message"].endswith("rolled out on 1.28.6")


def test_a_rolled_back_namespace_keeps_the_old_revision_needed_and_gates_on_it(
    tmp_path: Path,
) -> None:
    with sail_flow(tmp_path) as flow:
        flow.promote_to("namespaces-1")  # demo-a moved to the new revision
        work = flow.work
        flow.pipeline.repos.git("switch", "-q", "main")
        flow.pipeline.repos.git("pull", "-q", "--ff-only", "origin", "main")
        generate("rollback", "--namespace", "demo-a", "--branch", "rollback-demo-a",
                 "--repo", str(work))  # fmt: skip
        gate = flow.verify("gate")
        assert gate.exit_code == 0, gate.reason
        flow.merge()
        back = flow.verify("stage", "3")
        assert back.exit_code == 0, back.reason
        # the old revision "default" is needed again: demo-a runs on it
        assert back.check("control-planes")["message"] == (
            f"Istio default Ready on {NEW}; Ready: {NEW} (1.28.6), default (1.27.9)"
        )
        rows = [
            line.split()
            for line in flow.kubectl("get", "pods", "-n", "demo-a", "-o", "custom-columns="
                                     "REV:.metadata.annotations.istio\\.io/rev").splitlines()[1:]
        ]  # fmt: skip
        assert rows and all(r == ["default"] for r in rows), rows
        # the next wave still gates, with demo-a accepted on the old revision
        nxt = flow.promote()
        assert nxt.exit_code == 0


def test_the_setup_the_sail_docs_suggest_passes_every_gate(tmp_path: Path) -> None:
    """RevisionBased, a tag `default` following the Istio, namespaces on istio-injection=enabled:
    the tag moves with the version at once, so the waves are restarts and nothing is relabelled."""
    edits = [(rel, old, new) for rel, (old, new) in DEFAULT_TAG.items()]
    with sail_flow(tmp_path, edits) as flow:
        plan = flow.pipeline.plan()
        names = [s.name for s in plan.stages]
        assert "strategy" not in names
        flow.promote_to(names[-1])
        done = flow.verify("stage", str(plan.total))
        assert done.exit_code == 0, done.reason
        assert done.check("revision-tags")["message"] == f"tags: default -> {NEW}"
        assert done.check("namespace-labels")["status"] == "passed"
        in_use = done.check("revision-in-use")["message"]
        assert in_use == (
            f"InUse agrees with the tags, namespaces and pods: {NEW}: InUse=True, "
            "default: InUse=True"
        )


def test_a_forgotten_copy_of_the_gateway_fails_the_gateway_stage_naming_the_pod(
    tmp_path: Path,
) -> None:
    with sail_flow(tmp_path) as flow:
        flow.promote_to("namespaces-2")
        # every app pod moved: the gateway's pod is the last one the old revision injected, so
        # the in-use-forever fault leaves a bare copy of it beside the gateway
        flow.sim.set_fault("in-use-forever", True)
        flow.promote_to("gateways")
        moved = flow.verify("stage", "5", timeout=5)
        assert moved.exit_code == 1, moved.reason
        message = moved.message("gateways")
        assert message.startswith(
            "pod istio-ingress/forgotten-default runs revision default's proxy, expected "
            f"{NEW}, and no controller owns it"
        ), message
        assert "delete it (kubectl delete pod -n istio-ingress forgotten-default)" in message
