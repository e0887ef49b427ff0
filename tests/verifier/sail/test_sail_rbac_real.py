"""The Sail reads under `verifier/rbac.yaml`, judged by a real kube-apiserver's RBAC.

A ServiceAccount bound to the shipped ClusterRole reads the four cluster-scoped Sail kinds (CRDs
as the operator's chart installs them: cluster-scoped, group sailoperator.io) and the CNI
DaemonSet, passes the Sail preflight, and can write none of them; without the sailoperator.io
rule the preflight names exactly those reads. Skips, saying why, without the realcp binary.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from realcluster import BinaryMissing, ControlPlane, find_binary
from realcluster.crds import schemaless_crd
from tests.polling import wait_for
from verifier import rbac, sailview
from verifier.cluster import Cluster
from verifier.errors import AccessDenied
from verifier.resources import ISTIO_CNIS, SAIL_ISTIOS

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

RBAC_YAML = Path(rbac.__file__).with_name("rbac.yaml")
SA = "istio-canary-verify"


def _sail_crds() -> list[dict[str, Any]]:
    out = []
    for kind, plural in (("Istio", "istios"), ("IstioRevision", "istiorevisions"),
                         ("IstioRevisionTag", "istiorevisiontags"), ("IstioCNI", "istiocnis")):  # fmt: skip
        crd = schemaless_crd("sailoperator.io", "v1", kind, plural, status=True)
        crd["spec"]["scope"] = "Cluster"
        out.append(crd)
    return out


def _kubectl(kc: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kc), "--cache-dir", str(kc.parent / "cache"), *args],
        input=stdin, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def _apply_role(kc: Path, drop_group: str = "") -> None:
    role = yaml.safe_load(RBAC_YAML.read_text())
    if drop_group:
        role["rules"] = [r for r in role["rules"] if drop_group not in r["apiGroups"]]
    done = _kubectl(kc, "apply", "-f", "-", stdin=yaml.safe_dump(role))
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, Path]]:
    try:
        find_binary()
    except BinaryMissing as err:
        pytest.skip(str(err))
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    work = tmp_path_factory.mktemp("sail-rbac")
    with ControlPlane(work / "cp", crds=_sail_crds(), nodes=()) as cp:
        admin = cp.kubeconfig
        _apply_role(admin)
        for args in (("create", "namespace", "ci"), ("create", "serviceaccount", SA, "-n", "ci"),
                     ("create", "clusterrolebinding", SA, f"--clusterrole={SA}",
                      f"--serviceaccount=ci:{SA}")):  # fmt: skip
            done = _kubectl(admin, *args)
            assert done.returncode == 0, done.stderr
        token = _kubectl(admin, "create", "token", SA, "-n", "ci", "--duration=1h").stdout
        yield cp, cp.token_kubeconfig(work / "verifier.kubeconfig", token.strip(), SA)


def test_the_role_reads_the_sail_kinds_and_passes_the_sail_preflight(
    identity: tuple[ControlPlane, Path],
) -> None:
    _, kc = identity
    with Cluster(kc) as cluster:
        assert rbac.preflight(cluster, rbac.required("argocd", True, flavour="sail")) == []
        view = sailview.read(cluster)
    assert (view.istios, view.revisions, view.tags, view.cnis) == ({}, {}, {}, {})
    for kind in ("istios.sailoperator.io", "istiorevisions", "istiorevisiontags", "istiocnis"):
        got = _kubectl(kc, "get", kind)
        assert got.returncode == 0, got.stderr
    denied = _kubectl(kc, "create", "-f", "-", stdin=yaml.safe_dump(
        {"apiVersion": "sailoperator.io/v1", "kind": "Istio", "metadata": {"name": "default"},
         "spec": {"version": "v1.28.6"}}))  # fmt: skip
    assert denied.returncode != 0 and "forbidden" in denied.stderr


def test_without_the_sail_rule_the_preflight_names_every_sail_read(
    identity: tuple[ControlPlane, Path],
) -> None:
    cp, kc = identity
    _apply_role(cp.kubeconfig, drop_group="sailoperator.io")
    try:
        with Cluster(kc) as cluster:
            wait_for(  # RBAC reaches the authorizer through an informer
                lambda: cluster.can_i("list", SAIL_ISTIOS),
                lambda allowed: allowed is False,
                what="the trimmed role taking effect",
                timeout=20,
            )
            with pytest.raises(AccessDenied) as caught:
                rbac.preflight(cluster, rbac.required("argocd", True, flavour="sail"))
        message = str(caught.value)
        for label in ("list istios.sailoperator.io", "list istiorevisions.sailoperator.io",
                      "list istiorevisiontags.sailoperator.io", f"list {ISTIO_CNIS.label}"):  # fmt: skip
            assert label in message, message
        assert "daemonsets" not in message and "pods" not in message
    finally:
        _apply_role(cp.kubeconfig)
