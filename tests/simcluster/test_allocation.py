"""Service addresses belong to one cluster and repeat from run to run.

Driven over real HTTP with the ``kubernetes`` client: two bare clusters in this process, and
the same scenario in two fresh interpreters with different hash seeds (string hashing is the
usual source of per-process randomness, so the seeds must not change what is allocated).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubernetes import client, config

from simcluster.harness import SimCluster

ROOT = Path(__file__).resolve().parents[2]

SERVICE = {
    "metadata": {"name": "gateway", "namespace": "default"},
    "spec": {
        "type": "NodePort",
        "selector": {"app": "gateway"},
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
    },
}


def _create_service(sim: SimCluster) -> Any:
    api = config.new_client_from_config(config_file=str(sim.kubeconfig))
    try:
        return client.CoreV1Api(api).create_namespaced_service("default", SERVICE).spec
    finally:
        api.close()


def test_two_clusters_in_one_process_allocate_cluster_ips_independently(tmp_path: Path) -> None:
    with (
        SimCluster(workdir=tmp_path / "one", controllers=False) as one,
        SimCluster(workdir=tmp_path / "two", controllers=False) as two,
    ):
        first = _create_service(one)
        second = _create_service(two)
    assert first.cluster_ip == second.cluster_ip == "10.96.0.2"
    assert first.cluster_ips == second.cluster_ips == ["10.96.0.2"]


_RUN = """
import json, sys
from kubernetes import client, config
from simcluster.harness import SimCluster
service = json.loads(sys.argv[1])
with SimCluster(workdir=sys.argv[2], controllers=False) as sim:
    api = config.new_client_from_config(config_file=str(sim.kubeconfig))
    spec = client.CoreV1Api(api).create_namespaced_service("default", service).spec
    api.close()
print(json.dumps([p.node_port for p in spec.ports]))
"""


def _node_ports_of_a_fresh_run(workdir: Path, hash_seed: str) -> list[int]:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(SERVICE), str(workdir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ports: list[int] = json.loads(done.stdout.strip().splitlines()[-1])
    return ports


def test_node_ports_are_the_same_in_two_identical_runs(tmp_path: Path) -> None:
    first = _node_ports_of_a_fresh_run(tmp_path / "first", "1")
    second = _node_ports_of_a_fresh_run(tmp_path / "second", "2")
    assert first == second == [30000, 30001]


def test_a_replace_that_omits_the_addresses_keeps_them(tmp_path: Path) -> None:
    with SimCluster(workdir=tmp_path, controllers=False) as sim:
        api = config.new_client_from_config(config_file=str(sim.kubeconfig))
        core = client.CoreV1Api(api)
        try:
            created = core.create_namespaced_service("default", SERVICE)
            sent = json.loads(json.dumps(SERVICE))
            sent["metadata"]["labels"] = {"edited": "yes"}
            replaced = core.replace_namespaced_service("gateway", "default", sent)
        finally:
            api.close()
    assert replaced.metadata.labels == {"edited": "yes"}
    assert replaced.spec.cluster_ip == created.spec.cluster_ip
    assert [p.node_port for p in replaced.spec.ports] == [p.node_port for p in created.spec.ports]
