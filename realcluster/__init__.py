"""A real Kubernetes control plane on loopback, for rehearsals and tests.

``realcluster/go/`` builds one multi-call binary (``realcp``) from the upstream Go modules:
etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok. This package starts it
as processes on free loopback ports with a throwaway PKI, waits for readiness, creates kwok
fake nodes, and tears everything down:

    with ControlPlane(workdir=tmp) as cp:
        subprocess.run(["kubectl", "--kubeconfig", cp.kubeconfig, "get", "nodes"])

It is the real authorizer, admission chain, garbage collector and namespace lifecycle that
simcluster only approximates. See docs/realcluster.md.
"""

from realcluster.binary import BinaryMissing, find_binary
from realcluster.controlplane import ControlPlane, ControlPlaneError

__all__ = ["BinaryMissing", "ControlPlane", "ControlPlaneError", "find_binary"]
