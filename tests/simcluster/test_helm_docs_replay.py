"""The checks istio.io's upgrade pages tell users to run, replayed at every stage of both Helm
example repos with the real kubectl against `simcluster serve` (the console script, over HTTP).

Sources (istio/istio.io): `content/en/docs/setup/upgrade/helm/index.md` ("Upgrade with Helm":
`kubectl get pods -l app=istiod -L istio.io/rev -n istio-system` with NAME READY STATUS RESTARTS
AGE REV, `default` for the non-revisioned istiod; `kubectl get pods -L istio.io/rev -n
istio-ingress`, `default` for a gateway of the non-revisioned istiod) and
`content/en/docs/setup/upgrade/canary/index.md` ("Canary Upgrades": `kubectl get pods -n
istio-system -l app=istiod`, `kubectl get svc -n istio-system -l app=istiod` with NAME TYPE
CLUSTER-IP EXTERNAL-IP PORT(S) AGE, `kubectl get mutatingwebhookconfigurations` with NAME WEBHOOKS
AGE, and `istioctl proxy-status`, whose ISTIOD column names the revision each proxy is on: read
here from the pods' `istio.io/rev` annotation, which the injector writes). The revision tags
(`istioctl tag list`: TAG REVISION) are read with `kubectl get mutatingwebhookconfigurations -l
istio.io/tag -L istio.io/tag,istio.io/rev`. What each command must show at each stage is written
out below per example, from the upgrade's steps, not computed from the plan.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from rehearsal.demo import EXAMPLES
from rehearsal.repos import Repos, make_repos
from tests.polling import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.kubectl,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

BIN = Path(sys.executable).parent
POD_NAME = r"{}-[a-z0-9]{{10}}-[a-z0-9]{{5}}"  # Deployment, ReplicaSet hash, pod suffix
AGE = r"[0-9]+[smhd][0-9smh]*"
ISTIOD_PORTS = "15010/TCP,15012/TCP,443/TCP,15014/TCP"


@dataclass(frozen=True)
class Expected:
    """What the docs' commands show after one stage."""

    istiods: frozenset[str]  # REV of each istiod pod
    tags: dict[str, str]  # tag webhook TAG -> REV
    gateways: dict[str, tuple[str, str]]  # namespace -> (REV label, revision annotation)
    apps: dict[str, str]  # namespace -> the revision its pods' proxies were injected by


OLD_A, NEW = "default", "1-28-2"
OLD_F = "1-26-4"


def _argocd(stage: int) -> Expected:
    """examples/helm-argocd: 1 control-plane, 2-4 namespaces demo-a, demo-b, edge, 5 gateways,
    6 default-revision, 7 cleanup (the new release takes the `default` tag)."""
    gateway = NEW if stage >= 5 else OLD_A
    return Expected(
        istiods=frozenset(({OLD_A} if stage < 7 else set()) | ({NEW} if stage >= 1 else set())),
        tags={"default": NEW} if stage >= 7 else {},
        gateways={"istio-ingress": (gateway, gateway), "edge": (gateway, gateway)},
        apps={"demo-a": NEW if stage >= 2 else OLD_A, "demo-b": NEW if stage >= 3 else OLD_A},
    )


def _flux_tags(stage: int) -> Expected:
    """examples/helm-flux-tags: 1 control-plane (prod-canary), 2-3 namespaces, 4 gateways,
    5 tags-drop, 6 tags-take, 7 tags-return, 8 default-revision, 9 cleanup."""
    tags = {"prod-stable": OLD_F, "default": OLD_F} if stage < 5 else {}
    if stage >= 1:
        tags["prod-canary"] = NEW
    if stage >= 6:
        tags["prod-stable"] = NEW
    if stage >= 8:
        tags["default"] = NEW
    gateway = (NEW, NEW) if stage >= 4 else ("prod-stable", OLD_F)
    return Expected(
        istiods=frozenset(({OLD_F} if stage < 9 else set()) | ({NEW} if stage >= 1 else set())),
        tags=tags,
        gateways={"istio-ingress": gateway},
        apps={"demo-a": NEW if stage >= 2 else OLD_F, "demo-b": NEW if stage >= 3 else OLD_F},
    )


CASES = {"helm-argocd": (7, _argocd), "helm-flux-tags": (9, _flux_tags)}


# ----- the cluster: `simcluster serve` syncing the example's origin --------------------------


@dataclass
class Served:
    url: str
    kubeconfig: Path

    def kubectl(self, *args: str) -> str:
        done = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def post_sync(self) -> None:
        request = urllib.request.Request(f"{self.url}/simcluster/v1/sync", method="POST")
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert answer.status == 200

    def settled(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/simcluster/v1/settled", timeout=10) as answer:
            return bool(json.load(answer)["settled"])


@contextmanager
def serve(origin: Path, workdir: Path) -> Iterator[Served]:
    workdir.mkdir()
    kubeconfig, log = workdir / "kubeconfig", workdir / "serve.log"
    command = [str(BIN / "simcluster"), "serve", "--repo", str(origin)]
    command += ["--kubeconfig", str(kubeconfig), "--sync-interval", "0.2"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        line = wait_for(
            lambda: re.search(r"simcluster: serving (\S+) \(kubeconfig", log.read_text()),
            what="simcluster serve to print its serving line",
            timeout=60,
        )
        assert line is not None
        yield Served(line.group(1), kubeconfig)
    finally:
        process.terminate()
        process.wait(timeout=30)


# ----- reading the docs' outputs ----------------------------------------------------------------


def table(text: str) -> list[list[str]]:
    """kubectl's columns (two or more spaces apart; a cell is never empty in these tables but
    a label column may be, which leaves the row one cell short)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def problems(sim: Served, want: Expected) -> list[str]:
    """Every way the docs' commands differ from `want`; empty when they all match."""
    found: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            found.append(what)

    # Upgrade with Helm: the istiods by revision
    pods = table(
        sim.kubectl("get", "pods", "-l", "app=istiod", "-L", "istio.io/rev", "-n", "istio-system")
    )
    check(
        pods[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "REV"], f"istiod header {pods[0]}"
    )
    revs = {row[-1] for row in pods[1:]}
    check(
        revs == set(want.istiods) and len(pods) - 1 == len(want.istiods), f"istiod REVs {pods[1:]}"
    )
    for row in pods[1:]:
        name = "istiod" if row[-1] == "default" else f"istiod-{row[-1]}"
        check(bool(re.fullmatch(POD_NAME.format(name), row[0])), f"istiod pod name {row[0]}")
        check(
            row[1:4] == ["1/1", "Running", "0"] and bool(re.fullmatch(AGE, row[4])),
            f"istiod row {row}",
        )
    # Canary Upgrades: the same pods without the label column
    plain = table(sim.kubectl("get", "pods", "-n", "istio-system", "-l", "app=istiod"))
    check(plain[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], f"plain header {plain[0]}")
    check(sorted(r[0] for r in plain[1:]) == sorted(r[0] for r in pods[1:]), "plain istiod pods")
    # Canary Upgrades: one istiod Service per revision
    svcs = table(sim.kubectl("get", "svc", "-n", "istio-system", "-l", "app=istiod"))
    check(
        svcs[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        f"svc header {svcs[0]}",
    )
    names = {r[0] for r in svcs[1:]}
    for rev in want.istiods:
        check(("istiod" if rev == "default" else f"istiod-{rev}") in names, f"no Service for {rev}")
    for row in svcs[1:]:
        revision_service = row[0] == "istiod" or row[0] in {f"istiod-{r}" for r in want.istiods}
        tag_service = row[0].removeprefix("istiod-revision-tag-") in want.tags
        check(revision_service or tag_service, f"unexpected Service {row[0]}")
        check(row[1] == "ClusterIP" and row[3] == "<none>", f"svc row {row}")
        check(bool(re.fullmatch(r"[0-9.]+", row[2])), f"svc cluster IP {row}")
        check(row[4].startswith(ISTIOD_PORTS), f"svc ports {row}")
    # Canary Upgrades: an injector per revision
    hooks = table(sim.kubectl("get", "mutatingwebhookconfigurations"))
    check(hooks[0] == ["NAME", "WEBHOOKS", "AGE"], f"mwc header {hooks[0]}")
    injectors = {
        r[0] for r in hooks[1:] if r[0].startswith("istio-sidecar-injector") and r[1].isdigit()
    }
    check(
        injectors
        == {"istio-sidecar-injector" + ("" if r == "default" else f"-{r}") for r in want.istiods},
        f"injectors {sorted(injectors)}",
    )
    # the revision tags, as istioctl tag list shows them
    tags = table(sim.kubectl(
        "get", "mutatingwebhookconfigurations", "-l", "istio.io/tag", "-L", "istio.io/tag,istio.io/rev"
    ) or "NAME  WEBHOOKS  AGE  TAG  REV")  # fmt: skip
    check(tags[0] == ["NAME", "WEBHOOKS", "AGE", "TAG", "REV"], f"tag header {tags[0]}")
    check(
        {r[3]: r[4] for r in tags[1:]} == want.tags
        # the chart's revision-tags-mwc.yaml: rev.namespace. and rev.object., and for the tag
        # `default` also namespace. and object. (istio-injection=enabled, unlabelled namespaces)
        and all(
            r[0] == f"istio-revision-tag-{r[3]}" and r[1] == ("4" if r[3] == "default" else "2")
            for r in tags[1:]
        ),
        f"tags {tags[1:]}",
    )
    # Upgrade with Helm: the gateway pods' REV; proxy-status's ISTIOD, from the annotation
    for ns, (label, _) in want.gateways.items():
        rows = table(sim.kubectl("get", "pods", "-L", "istio.io/rev", "-n", ns))
        check(rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "REV"], f"{ns} header")
        check(
            len(rows) > 1
            and all(r[1:3] == ["1/1", "Running"] and r[-1] == label for r in rows[1:]),
            f"{ns} gateway pods {rows[1:]}",
        )
    for ns, revision in [*((n, r) for n, (_, r) in want.gateways.items()), *want.apps.items()]:
        by = _injected_by(sim, ns)
        check(by == {revision}, f"{ns} injected by {sorted(by)}")
    return found


def _injected_by(sim: Served, namespace: str) -> set[str]:
    """The revisions that injected the namespace's pods: the `istio.io/rev` annotation and the
    revision in `sidecar.istio.io/status` (both, or the pod counts as `?`)."""
    out = sim.kubectl(
        "get", "pods", "-n", namespace, "-o",
        r"jsonpath={range .items[*]}{.metadata.annotations.istio\.io/rev}{'\t'}"
        r"{.metadata.annotations.sidecar\.istio\.io/status}{'\n'}{end}",
    )  # fmt: skip
    found = set()
    for line in out.strip().splitlines():
        annotation, _, status = line.partition("\t")
        agreed = status and json.loads(status).get("revision") == annotation
        found.add(annotation if agreed else "?")
    return found


def _shows(sim: Served, want: Expected, where: str) -> None:
    """Wait (bounded) until the cluster has settled and every command shows `want`."""
    wait_for(
        lambda: sim.settled() and not problems(sim, want),
        what=lambda: f"{where} to show {want}: {problems(sim, want)}",
        timeout=60,
        interval=0.3,
    )


def _stage(repos: Repos, sim: Served) -> None:
    """The next stage committed in the CI clone, published to main, applied by the cluster."""
    done = subprocess.run(
        [str(BIN / "istio-canary"), "next", "--repo", str(repos.work)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    repos.push_main()
    sim.post_sync()


@pytest.mark.parametrize("example", sorted(CASES))
def test_the_docs_checks_show_each_stage_of_the_helm_example(example: str, tmp_path: Path) -> None:
    stages, expected = CASES[example]
    flavour, scenario = EXAMPLES[example]
    assert flavour == "helm"
    repos = make_repos(tmp_path / "origin", tmp_path / "work", populate=scenario.populate)
    init = [str(BIN / "istio-canary"), "init", "--repo", str(repos.work)]
    subprocess.run([*init, "--to-version", scenario.target], check=True, capture_output=True)
    repos.push_main()
    with serve(repos.origin, tmp_path / "sim") as sim:
        for stage in range(stages + 1):
            if stage:
                _stage(repos, sim)
            _shows(sim, expected(stage), f"stage {stage} of {example}")
        done = subprocess.run(
            [str(BIN / "istio-canary"), "next", "--repo", str(repos.work)],
            capture_output=True,
            text=True,
        )
        assert "nothing to do" in done.stderr  # every stage was replayed
