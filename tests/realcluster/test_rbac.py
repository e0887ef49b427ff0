"""The verifier's least privilege (verifier/rbac.yaml) judged by the real API server's RBAC.

A ServiceAccount bound to the shipped ClusterRole gets a token from `kubectl create token`; with
that identity only, kubectl and the kubernetes client can do every read the verifier does and no
write at all, and the verifier's preflight names exactly what a trimmed role lacks (exit 3).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from generator.cli import main as generator_cli
from generator.resources import example_repo_dir
from realcluster import ControlPlane
from realcluster.crds import CRDS
from tests.conftest import GIT_ENV
from tests.realcluster.conftest import kubectl
from verifier import rbac
from verifier.cli import main as verifier_cli
from verifier.cluster import (
    APPLICATIONS,
    DEPLOYMENTS,
    ISTIOS,
    MESHGATEWAYS,
    NAMESPACES,
    PODS,
    SERVICES,
    Cluster,
    Resource,
)

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

RBAC_YAML = Path(rbac.__file__).with_name("rbac.yaml")
SA_NS, SA_NAME = "ci", "istio-canary-verify"
SA_USER = f"system:serviceaccount:{SA_NS}:{SA_NAME}"
RBAC_SETTLE = 20.0  # seconds for the authorizer's informer to see a changed ClusterRole


@dataclass
class Identity:
    cp: ControlPlane
    kubeconfig: Path  # bearer token of the ServiceAccount, nothing else
    seed: Path  # a GitOps repo with the seed's plan committed (Argo CD engine)

    def api(self) -> client.ApiClient:
        return config.new_client_from_config(config_file=str(self.kubeconfig))


def _multi(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def _seed_repo(path: Path) -> Path:
    """The example repo committed and planned (`istio-canary init`), as a CI checkout would be."""
    shutil.copytree(example_repo_dir(), path)
    env = {**os.environ, **GIT_ENV, "GIT_CONFIG_GLOBAL": os.devnull}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "seed"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, env=env)
    old = {k: os.environ.get(k) for k in GIT_ENV}
    os.environ.update(GIT_ENV)
    try:
        res = CliRunner().invoke(
            generator_cli, ["init", "--repo", str(path), "--to-version", "1.7.7"]
        )
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert res.exit_code == 0, res.output
    return path


@pytest.fixture(scope="module")
def identity(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Identity]:
    admin = control_plane.kubeconfig
    kubectl(admin, "apply", "-f", "-", stdin=_multi(CRDS))
    kubectl(admin, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    kubectl(admin, "apply", "-f", str(RBAC_YAML))
    kubectl(admin, "create", "namespace", SA_NS)
    kubectl(admin, "create", "serviceaccount", SA_NAME, "-n", SA_NS)
    kubectl(
        admin,
        "create",
        "clusterrolebinding",
        SA_NAME,
        f"--clusterrole={SA_NAME}",
        f"--serviceaccount={SA_NS}:{SA_NAME}",
    )
    # Something to read: a Deployment whose pod kwok runs, and a Service.
    kubectl(admin, "create", "namespace", "demo")
    kubectl(admin, "create", "deployment", "echo", "-n", "demo", "--image=echoserver:1.10")
    kubectl(admin, "create", "service", "clusterip", "echo", "-n", "demo", "--tcp=80:8080")
    kubectl(admin, "rollout", "status", "-n", "demo", "deploy/echo", "--timeout=60s")
    token = kubectl(admin, "create", "token", SA_NAME, "-n", SA_NS, "--duration=1h").stdout
    work = tmp_path_factory.mktemp("rbac")
    kc = control_plane.token_kubeconfig(work / "verifier.kubeconfig", token.strip(), SA_NAME)
    yield Identity(control_plane, kc, _seed_repo(work / "seed"))


def test_the_token_authenticates_as_the_service_account(identity: Identity) -> None:
    out = kubectl(identity.kubeconfig, "auth", "whoami", "-o", "json").stdout
    assert json.loads(out)["status"]["userInfo"]["username"] == SA_USER


def test_kubectl_reads_what_the_verifier_reads(identity: Identity) -> None:
    kc = identity.kubeconfig
    assert "echo-" in kubectl(kc, "get", "pods", "-A").stdout
    assert "demo" in kubectl(kc, "get", "namespaces").stdout
    assert "echo" in kubectl(kc, "get", "deployments", "-A").stdout
    assert "echo" in kubectl(kc, "get", "service", "echo", "-n", "demo").stdout
    for kind in ("istios", "meshgateways", "applications"):
        kubectl(kc, "get", kind, "-A")  # empty, but allowed (exit 0)


def test_the_verifier_client_reads_and_its_preflight_passes(identity: Identity) -> None:
    with Cluster(identity.kubeconfig) as cluster:
        assert any(p["metadata"]["name"].startswith("echo-") for p in cluster.list(PODS))
        assert any(n["metadata"]["name"] == "demo" for n in cluster.list(NAMESPACES))
        assert cluster.get(SERVICES, "demo", "echo")["spec"]["ports"][0]["port"] == 80
        assert cluster.get(DEPLOYMENTS, "demo", "echo")["metadata"]["name"] == "echo"
        for res in (ISTIOS, MESHGATEWAYS, APPLICATIONS):
            assert cluster.list(res) == []
        for engine in ("argocd", "flux"):
            assert rbac.preflight(cluster, rbac.required(engine, probes=True)) == []


def _echo_pod(identity: Identity) -> str:
    with Cluster(identity.kubeconfig) as cluster:
        return str(cluster.list(PODS, "demo")[0]["metadata"]["name"])


def test_the_verifier_can_exec_its_probes(identity: Identity) -> None:
    """pods/exec over the verifier's websocket client, authorised by RBAC, run by kwok here."""
    with Cluster(identity.kubeconfig) as cluster:
        res = cluster.exec("demo", _echo_pod(identity), "echoserver", ["echo", "probe"], 20)
    assert (res.exit_code, res.stdout) == (0, "probe\n"), res.status


def test_exec_exit_codes_do_not_survive_kwok(identity: Identity) -> None:
    """A known kwok v0.7.0 limit (docs/realcluster.md): a non-zero exit comes back as a 500
    Failure without the NonZeroExitCode cause a kubelet sends, so the verifier sees "could not
    run" (fail-closed) where a real cluster would give it the exit code."""
    with Cluster(identity.kubeconfig) as cluster:
        res = cluster.exec("demo", _echo_pod(identity), "echoserver", ["sh", "-c", "exit 7"], 20)
    assert res.exit_code is None
    assert res.status.get("code") == 500 and "exit status 7" in res.error, res.status


def _forbidden(proc: subprocess.CompletedProcess[str]) -> bool:
    return proc.returncode != 0 and "forbidden" in proc.stderr.lower()


def test_nothing_can_be_written_with_kubectl(identity: Identity) -> None:
    kc = identity.kubeconfig
    attempts = [
        ("create", "namespace", "intruder"),
        ("label", "namespace", "demo", "owned=yes"),
        ("scale", "-n", "demo", "deploy/echo", "--replicas=3"),
        ("set", "image", "-n", "demo", "deploy/echo", "echoserver=evil:1"),
        ("delete", "pod", "-n", "demo", "--all"),
        ("delete", "service", "-n", "demo", "echo"),
        ("create", "configmap", "x", "-n", "demo", "--from-literal=a=b"),
        ("create", "token", SA_NAME, "-n", SA_NS),
    ]
    for args in attempts:
        proc = kubectl(kc, *args, check=False)
        assert _forbidden(proc), f"kubectl {' '.join(args)}: {proc.returncode} {proc.stderr}"
    admin = identity.cp.kubeconfig
    assert "intruder" not in kubectl(admin, "get", "namespaces").stdout
    assert (
        kubectl(
            admin, "get", "deploy", "echo", "-n", "demo", "-o", "jsonpath={.spec.replicas}"
        ).stdout
        == "1"
    )
    assert "echo" in kubectl(admin, "get", "service", "-n", "demo").stdout


def test_nothing_can_be_written_with_the_kubernetes_client(identity: Identity) -> None:
    api = identity.api()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    writes = [
        lambda: core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name="intruder"))
        ),
        lambda: core.patch_namespace("demo", {"metadata": {"labels": {"owned": "yes"}}}),
        lambda: apps.patch_namespaced_deployment("echo", "demo", {"spec": {"replicas": 3}}),
        lambda: core.delete_namespaced_service("echo", "demo"),
        lambda: core.delete_namespace("demo"),
        lambda: core.create_namespaced_config_map(
            "demo", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))
        ),
    ]
    for write in writes:
        with pytest.raises(ApiException) as err:
            write()
        assert err.value.status == 403, err.value.body


def test_the_only_writes_granted_are_reviews_and_exec(identity: Identity) -> None:
    """SelfSubjectRulesReview (what `kubectl auth can-i --list` asks): every non-read verb held."""
    review = client.AuthorizationV1Api(identity.api()).create_self_subject_rules_review(
        client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace="demo"))
    )
    status = review.status
    assert status is not None and not status.incomplete, status
    writes = {
        f"{res}.{group}" if group else res
        for rule in status.resource_rules
        if set(rule.verbs) - {"get", "list", "watch"}
        for group in rule.api_groups or [""]
        for res in rule.resources or []
    }
    # pods/exec is the probes' connectivity check; the rest are the default
    # system:basic-user grants (every authenticated user may ask about itself).
    assert writes == {
        "pods/exec",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectrulesreviews.authorization.k8s.io",
        "selfsubjectreviews.authentication.k8s.io",
    }, writes


# -- one rule removed at a time ------------------------------------------------------------------


def _rules() -> list[dict[str, Any]]:
    return list(yaml.safe_load(RBAC_YAML.read_text())["rules"])


def _covers(rule: dict[str, Any], verb: str, res: Resource, sub: str) -> bool:
    name = f"{res.plural}/{sub}" if sub else res.plural
    return res.group in rule["apiGroups"] and name in rule["resources"] and verb in rule["verbs"]


def _label(verb: str, res: Resource, sub: str) -> str:
    return f"{verb} {res.label}{'/' + sub if sub else ''}"


def _apply_role(cp: ControlPlane, rules: list[dict[str, Any]]) -> None:
    role = yaml.safe_load(RBAC_YAML.read_text())
    role["rules"] = rules
    kubectl(cp.kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(role))


def _wait_allowed(identity: Identity, verb: str, res: Resource, sub: str, want: bool) -> None:
    """RBAC reaches the authorizer through an informer: poll until it answers as expected."""
    deadline = time.monotonic() + RBAC_SETTLE
    with Cluster(identity.kubeconfig) as cluster:
        while cluster.can_i(verb, res, sub) is not want:
            assert time.monotonic() < deadline, f"RBAC never turned {verb} {res.label} {want}"
            time.sleep(0.1)


def _gate(identity: Identity, report: Path) -> tuple[int, dict[str, Any]]:
    res = CliRunner().invoke(
        verifier_cli,
        [
            "stage",
            "0",
            "--repo",
            str(identity.seed),
            "--kubeconfig",
            str(identity.kubeconfig),
            "--timeout",
            "3",
            "--interval",
            "0.5",
            "--output",
            "json",
            "--report",
            str(report),
        ],
    )
    return res.exit_code, json.loads(report.read_text())


NEEDED = rbac.required("argocd", probes=True)  # the seed repo is an Argo CD repo


@pytest.mark.parametrize("index", range(len(_rules())), ids=lambda i: _rules()[i]["resources"][0])
def test_one_rule_removed_the_gate_exits_3_naming_what_is_missing(
    identity: Identity, index: int, tmp_path: Path
) -> None:
    rules = _rules()
    removed = rules.pop(index)
    missing = [p for p in NEEDED if _covers(removed, *p) and not any(_covers(r, *p) for r in rules)]
    _apply_role(identity.cp, rules)
    try:
        if missing:
            _wait_allowed(identity, *missing[0], want=False)
        code, report = _gate(identity, tmp_path / "report.json")
        if missing:
            assert code == 3, report
            labels = ", ".join(_label(*p) for p in missing)
            assert f"RBAC: the verifier may not {labels} (cluster-wide)" in report["reason"]
        else:
            # The Flux rules are not needed by an Argo CD repo (rbac.yaml says to drop them),
            # and self-access reviews are granted to every user by system:basic-user.
            # The checks ran and failed on the empty cluster (no Istio yet): exit 1, not 3.
            assert code == 1, report
            assert "RBAC" not in json.dumps(report), report
    finally:
        _apply_role(identity.cp, _rules())
        if missing:
            _wait_allowed(identity, *missing[0], want=True)
