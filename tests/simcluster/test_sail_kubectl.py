"""``kubectl get`` of Sail's objects prints the columns the released CRDs' printer columns define.

simcluster serves Banzai's ``istios.istio.banzaicloud.io`` and Sail's ``istios.sailoperator.io``
at once, so the short ``istio`` means Banzai's (as on a real cluster with both CRDs, where
kubectl takes the first group discovery lists); the Sail one is asked for by its full name.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster.sailhelp import Cluster, istio_spec

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")

ISTIO_COLUMNS = ["NAME", "NAMESPACE", "PROFILE", "REVISIONS", "READY", "IN USE", "ACTIVE REVISION", "STATUS", "VERSION", "AGE"]  # fmt: skip
REVISION_COLUMNS = ["NAME", "NAMESPACE", "PROFILE", "READY", "STATUS", "IN USE", "VERSION", "AGE"]
TAG_COLUMNS = ["NAME", "STATUS", "IN USE", "REVISION", "AGE"]
CNI_COLUMNS = ["NAME", "NAMESPACE", "PROFILE", "READY", "STATUS", "VERSION", "AGE"]


def kubectl(sim: SimCluster, *args: str) -> str:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(sim.kubeconfig), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def tables(text: str) -> list[list[list[str]]]:
    """Each table of a multi-kind ``kubectl get`` as rows of cells (no age, which moves)."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.strip().splitlines()
        header = re.split(r"\s{2,}", lines[0].strip())
        starts = [lines[0].index(h) for h in header]
        rows = [header]
        for line in lines[1:]:
            cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
            rows.append(cells)
        out.append([r[:-1] for r in rows])
    return out


def test_kubectl_get_prints_the_sail_printer_columns_at_each_step(tmp_path: pathlib.Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.namespace("istio-cni")
        c.create("Istio", "default", istio_spec("v1.27.9", grace=600))
        c.create("IstioRevisionTag", "default", {"targetRef": {"kind": "Istio", "name": "default"}})
        c.create("IstioCNI", "default", {"version": "v1.27.9"})
        c.namespace("demo", **{"istio-injection": "enabled"})
        c.deployment("demo", "app")
        wait_for(
            lambda: c.pod_revisions("demo"), lambda r: r == ["default-v1-27-9"] * 2, what="pods"
        )
        c.wait_condition("IstioCNI", "default", "Ready", "True")
        sim.wait_settled()
        what = "istios.sailoperator.io,istiorevision,istiorevisiontag"
        istio, revs, tags = tables(kubectl(sim, "get", what))
        assert istio == [ISTIO_COLUMNS[:-1], ["istio.sailoperator.io/default", "istio-system", "", "1", "1", "1", "default-v1-27-9", "Healthy", "v1.27.9"]]  # fmt: skip
        assert revs == [REVISION_COLUMNS[:-1], ["istiorevision.sailoperator.io/default-v1-27-9", "istio-system", "", "True", "Healthy", "True", "v1.27.9"]]  # fmt: skip
        assert tags == [TAG_COLUMNS[:-1], ["istiorevisiontag.sailoperator.io/default", "Healthy", "True", "default-v1-27-9"]]  # fmt: skip
        (cni,) = tables(kubectl(sim, "get", "istiocni"))
        assert cni == [CNI_COLUMNS[:-1], ["default", "istio-cni", "", "True", "Healthy", "v1.27.9"]]

        c.patch("Istio", "default", {"version": "v1.28.6"})
        c.wait_condition("IstioRevision", "default-v1-28-6", "Ready", "True")
        wait_for(
            lambda: c.get("IstioRevisionTag", "default"),
            lambda t: (t or {}).get("status", {}).get("istioRevision") == "default-v1-28-6",
            what="tag moved",
        )
        sim.wait_settled()
        istio, revs, tags = tables(kubectl(sim, "get", what))
        assert istio[1][3:] == ["2", "2", "2", "default-v1-28-6", "Healthy", "v1.28.6"]
        assert [r[0] for r in revs[1:]] == [
            "istiorevision.sailoperator.io/default-v1-27-9",
            "istiorevision.sailoperator.io/default-v1-28-6",
        ]
        assert [r[5] for r in revs[1:]] == ["True", "True"]  # old: the pods; new: the tag
        assert tags[1][3] == "default-v1-28-6"
        short = tables(kubectl(sim, "get", "istiorev", "-o", "wide"))[0]
        assert short[0] == REVISION_COLUMNS[:-1]
        assert kubectl(sim, "get", "istiorevtag", "-o", "name").split() == [
            "istiorevisiontag.sailoperator.io/default"
        ]
