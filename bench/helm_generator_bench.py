"""Generator speed on a 2,500-namespace Helm-flavour repo, against the libyaml parse floor.

A separate module from `generator_bench` (which times the Banzai flavour) because the repo and
the stage sequence differ: here `istiod` is a tagged Helm release (Argo CD Application or Flux
HelmRelease), the namespaces are on the stable tag, and the upgrade runs control-plane, ten
waves, gateways, tags-drop, tags-take, tags-return, default-revision and cleanup. The floor and
the subprocess timing are `generator_bench`'s, so both benches measure the same thing.

    python -m bench.helm_generator_bench [--engine argocd|flux|both] [--case large|small|both]

Each timed command runs `--repeat` times cold (no parse cache: a fresh clone, as in CI) and as
often warm (the cache the previous command left); waves 2..10 run once, untimed, only to reach
the later stages. Figures are CPU time (the command and its git children) as multiples of the
floor; target: each <= 2x, peak RSS < 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.generator_bench import APP, CACHE, CASES, ENV, _children_cpu, floor, git

VERSION = "1.26.4"
TARGET = "1.28.2"
CHARTS = "https://istio-release.storage.googleapis.com/charts"

NAMESPACE = """\
# Namespace {ns}: owned by team {team}; injected through the prod-stable revision tag.
# Changes go through the platform repo review (CODEOWNERS: @platform/{team}).
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
  labels:
    istio.io/rev: prod-stable   # the tag, never the revision: tags move, namespaces stay
    team: "{team}"
    cost-center: "{cc}"
  annotations:
    owner: "{team}@example.com"
"""

ISTIOD_VALUES = """\
# mesh-wide settings reviewed by the platform team
revision: 1-26-4
revisionTags:
  - prod-stable
meshConfig:
  accessLogFile: /dev/stdout   # keep access logs
pilot:
  resources:
    requests:
      cpu: 200m
"""


def _indent(text: str, n: int) -> str:
    return "".join(" " * n + line + "\n" for line in text.splitlines())


def _argo(name: str, chart: str, helm: str, namespace: str = "istio-system") -> str:
    return f"""\
# {name}: Istio {chart} chart, applied by Argo CD.
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {CHARTS}
    chart: {chart}
    targetRevision: {VERSION}
    helm:
{helm}  destination:
    server: https://kubernetes.default.svc
    namespace: {namespace}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
"""


def _flux(name: str, chart: str, spec: str, namespace: str = "istio-system") -> str:
    return f"""\
# {name}: Istio {chart} chart, applied by Flux.
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: {namespace}
spec:
  interval: 10m
  chart:
    spec:
      chart: {chart}
      version: {VERSION}  # renovate: datasource=helm
      sourceRef:
        kind: HelmRepository
        name: istio
        namespace: flux-system
{spec}"""


def argocd_mesh() -> dict[str, str]:
    """The Istio releases as Argo CD Applications (istiod's values as `helm.values` text)."""
    return {
        "argocd/istio-base.yaml": _argo(
            "istio-base", "base", "      valuesObject:\n        defaultRevision: 1-26-4\n"
        ),
        "argocd/istiod-1-26-4.yaml": _argo(
            "istiod-1-26-4",
            "istiod",
            "      releaseName: istiod-1-26-4\n      values: |\n" + _indent(ISTIOD_VALUES, 8),
        ),
        "argocd/istio-ingressgateway.yaml": _argo(
            "istio-ingressgateway",
            "gateway",
            "      valuesObject:\n        service:\n          type: LoadBalancer\n"
            "        revision: prod-stable\n",
            "istio-ingress",
        ),
        "argocd/apps.yaml": """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: apps
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://git.example.com/fleet.git
    path: apps
    targetRevision: main
  destination:
    server: https://kubernetes.default.svc
""",
    }


def flux_mesh() -> dict[str, str]:
    """The Istio releases as Flux HelmReleases, with the Kustomizations that apply the repo."""
    files = {
        "infra/istio/repository.yaml": f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: istio
  namespace: flux-system
spec:
  interval: 1h
  url: {CHARTS}
""",
        "infra/istio/base.yaml": _flux(
            "istio-base", "base", "  values:\n    defaultRevision: 1-26-4\n"
        ),
        "infra/istio/istiod-1-26-4.yaml": _flux(
            "istiod-1-26-4",
            "istiod",
            "  dependsOn:\n    - name: istio-base\n  values:\n" + _indent(ISTIOD_VALUES, 4),
        ),
        "infra/istio/gateway.yaml": _flux(
            "istio-ingressgateway",
            "gateway",
            "  values:\n    service:\n      type: LoadBalancer\n    revision: prod-stable\n",
            "istio-ingress",
        ),
    }
    listed = sorted(p.rsplit("/", 1)[1] for p in files)
    files["infra/istio/kustomization.yaml"] = "resources:\n" + "".join(f"  - {p}\n" for p in listed)
    for name, path, after in (("infra", "infra/istio", ""), ("apps", "apps", "infra")):
        depends = f"  dependsOn: [{{name: {after}}}]\n" if after else ""
        files[f"clusters/prod/{name}.yaml"] = f"""\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 10m
  path: ./{path}
  prune: true
{depends}  sourceRef: {{kind: GitRepository, name: fleet}}
"""
    return files


def build_repo(root: Path, engine: str, namespaces: int, env_vars: int) -> int:
    """Write the synthetic repo; returns its size in bytes."""
    mesh = argocd_mesh() if engine == "argocd" else flux_mesh()
    size = 0
    for path, text in mesh.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
        size += len(text)
    for i in range(namespaces):
        ns = f"team-{i:04d}"
        team = f"t{i % 97:02d}"
        d = root / "apps" / ns
        d.mkdir(parents=True)
        text_ns = NAMESPACE.format(ns=ns, team=team, cc=f"{1000 + i % 50}")
        env = "".join(ENV.format(i=k, ns=ns) for k in range(env_vars))
        text_app = APP.format(ns=ns, env=env)
        (d / "namespace.yaml").write_text(text_ns)
        (d / "app.yaml").write_text(text_app)
        size += len(text_ns) + len(text_app)
    return size


def cli(root: Path, *args: str) -> tuple[float, float]:
    """(wall, CPU incl. git) of one run of the real CLI, as a subprocess outside the checkout."""
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(
        [sys.executable, "-m", "generator", *args, "--repo", str(root)],
        cwd=root.parent,
        capture_output=True,
        text=True,
    )
    wall, used = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"istio-canary {' '.join(args)} failed: {done.stderr.strip()}")
    return wall, used


def samples(root: Path, repeat: int, warm: bool, *args: str) -> list[tuple[float, float]]:
    """Every (wall, CPU) of `repeat` runs; the commit of the last is kept.

    Cold runs start without a parse cache; warm runs with the one the previous command left.
    """
    cache = root / CACHE
    left = cache.read_bytes() if cache.exists() else None
    out = []
    for attempt in range(repeat):
        if warm and left is not None:
            cache.write_bytes(left)
        else:
            cache.unlink(missing_ok=True)
        out.append(cli(root, *args))
        if attempt < repeat - 1:
            git(root, "reset", "-q", "--hard", "HEAD~1")
    return out


def stage_names(root: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "generator", "status", "--output", "json", "--repo", str(root)],
        cwd=root.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    return [s["name"] for s in json.loads(done.stdout)["stages"]]


TIMED = {"control-plane", "namespaces-1", "gateways", "tags-drop", "tags-take", "tags-return"}
TIMED |= {"default-revision", "cleanup"}


def run_case(
    work: Path, engine: str, case: str, namespaces: int, wave_size: int, repeat: int
) -> dict[str, Any]:
    """Build one synthetic repo, walk the whole upgrade, time the stages of TIMED."""
    root = work / f"{engine}-{case}"
    size = build_repo(root, engine, namespaces, CASES[case])
    files = sum(1 for _ in root.rglob("*.yaml"))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "synthetic fleet")
    floors = [floor(root)[1] for _ in range(repeat)]
    init = ["init", "--to-version", TARGET, "--wave-size", str(wave_size)]
    results: dict[str, list[float]] = {
        "init (cold)": [c for _, c in samples(root, repeat, False, *init)]
    }
    for name in stage_names(root):
        if name not in TIMED:
            cli(root, "next")
            continue
        label = f"{name} ({wave_size} ns)" if name.startswith("namespaces") else name
        results[f"{label} (cold)"] = [c for _, c in samples(root, repeat, False, "next")]
        git(root, "reset", "-q", "--hard", "HEAD~1")
        results[f"{label} (warm)"] = [c for _, c in samples(root, repeat, True, "next")]
    # The machine is shared: the floor's best of runs before and after the commands.
    floors.extend(floor(root)[1] for _ in range(repeat))
    shutil.rmtree(root, ignore_errors=True)
    best_floor = min(floors)
    return {
        "case": f"{engine}-{case}",
        "namespaces": namespaces,
        "files": files,
        "megabytes": round(size / 1e6, 1),
        "floor_cpu": {"best": round(best_floor, 3), "worst": round(max(floors), 3)},
        "commands": {
            k: {
                "cpu_seconds": round(min(v), 3),
                "cpu_x_floor": round(min(v) / best_floor, 2),
                "worst_x_floor": round(max(v) / best_floor, 2),
            }
            for k, v in results.items()
        },
    }


def _print(report: dict[str, Any], repeat: int) -> None:
    f = report["floor_cpu"]
    print(
        f"{report['case']}: {report['namespaces']} namespaces, {report['files']} files, "
        f"{report['megabytes']} MB; floor CPU {f['best']:.2f}s (worst {f['worst']:.2f}s of "
        f"{2 * repeat}); commands: best and worst of {repeat} as multiples of the best floor"
    )
    for k, r in report["commands"].items():
        ok = "ok" if r["cpu_x_floor"] <= 2 else "SLOW"
        print(
            f"  {k:<36} {r['cpu_seconds']:6.2f}s CPU  {r['cpu_x_floor']:5.2f}x "
            f"(worst {r['worst_x_floor']:5.2f}x)  {ok}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench.helm_generator_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--engine", choices=["argocd", "flux", "both"], default="both")
    parser.add_argument("--case", choices=[*CASES, "both"], default="both")
    parser.add_argument("--namespaces", type=int, default=2500)
    parser.add_argument("--wave-size", type=int, default=250)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--code", type=Path, default=None, help="run the CLI from DIR")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command; floor 2x this")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="helm-gen-bench-", dir=args.workdir))
    if args.code is not None:
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(args.code.resolve()), os.environ.get("PYTHONPATH", "")) if p
        )
    os.environ.update(
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@invalid",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@invalid",
    )
    engines = ["argocd", "flux"] if args.engine == "both" else [args.engine]
    cases = list(CASES) if args.case == "both" else [args.case]
    try:
        reports = []
        for engine in engines:
            for case in cases:
                report = run_case(work, engine, case, args.namespaces, args.wave_size, args.repeat)
                reports.append(report)
                if not args.json:
                    _print(report, args.repeat)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if args.json:
            print(json.dumps({"cases": reports, "peak_rss_mb": round(peak_mb, 1)}, indent=2))
        else:
            print(f"peak RSS of the commands: {peak_mb:.0f} MB (target < 500 MB)")
        worst = max(r["cpu_x_floor"] for rep in reports for r in rep["commands"].values())
        return 0 if worst <= 2 and peak_mb < 500 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
