"""Service addresses (ClusterIPs and nodePorts), handed out per cluster.

A real apiserver allocates ClusterIPs from the service CIDR and nodePorts from 30000-32767.
Each ``Store`` owns one ``ServiceAllocator``, so two simulated clusters in one process keep
separate sequences, and what a cluster hands out depends only on what was created in it, in
order: the same run gives the same addresses. (A real apiserver picks nodePorts at random;
repeatable runs matter more to a rehearsal than that randomness. See docs/simcluster.md.)
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterator

from simcluster.apiobject import Obj, deep_copy

SERVICE_CIDR = "10.96.0.0/12"
NODE_PORTS = range(30000, 32768)


class ServiceAllocator:
    """Next free ClusterIP and nodePort of one cluster, in ascending order."""

    def __init__(self) -> None:
        self._hosts: Iterator[ipaddress.IPv4Address] = ipaddress.IPv4Network(SERVICE_CIDR).hosts()
        next(self._hosts)  # the first address belongs to the `kubernetes` Service
        # Wraps around when the range is used up: a real apiserver would refuse the Service, but
        # no scenario here creates thousands of NodePort Services.
        self._node_ports = itertools.cycle(NODE_PORTS)

    def cluster_ip(self) -> str:
        return str(next(self._hosts))

    def node_port(self) -> int:
        return next(self._node_ports)


def keep_allocations(new: Obj, old: Obj) -> None:
    """A Service update that leaves out clusterIP or a port's nodePort keeps the allocated one."""
    new_spec, old_spec = new.setdefault("spec", {}), old.get("spec", {})
    for key in ("clusterIP", "clusterIPs"):
        if not new_spec.get(key) and old_spec.get(key):
            new_spec[key] = deep_copy(old_spec[key])
    old_ports = {(p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or []}
    for port in new_spec.get("ports") or []:
        prev = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
        if prev and "nodePort" in prev and "nodePort" not in port:
            port["nodePort"] = prev["nodePort"]
