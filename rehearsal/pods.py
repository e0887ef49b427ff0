"""The cluster's pods as the demo's closing table shows them: readiness, revision, proxy version.

Which container is the proxy, and what version it runs, is the verifier's rule
(`verifier.pods.proxy_version`): the table must show the same proxies the gate judged. The rule
stays in the verifier rather than moving to `core` because only packages at or above the verifier
need it: the generator never looks at pods, and simcluster, which makes the pods, must not share
the reader's code or the two could never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ClusterUnreachable
from verifier.pods import proxy_version

__all__ = ["PodRow", "pod_row", "pod_table", "read_pods"]

HEADER = ("NAMESPACE", "NAME", "READY", "STATUS", "REVISION", "PROXY")


@dataclass(frozen=True)
class PodRow:
    """One line of the table."""

    namespace: str
    name: str
    ready: str
    status: str
    revision: str
    proxy: str

    def cells(self) -> tuple[str, ...]:
        return (self.namespace, self.name, self.ready, self.status, self.revision, self.proxy)


def pod_row(pod: dict[str, Any]) -> PodRow:
    """A pod's raw JSON (as the API returns it) as a row; "-" where there is no proxy or label."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    containers = spec.get("containers") or []
    ready = sum(bool(c.get("ready")) for c in status.get("containerStatuses") or [])
    return PodRow(
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
        f"{ready}/{len(containers)}",
        str(status.get("phase") or "Unknown"),
        # the label (Banzai 1.6/1.7), else what upstream's injector records: the annotation
        str(
            (meta.get("labels") or {}).get("istio.io/rev")
            or (meta.get("annotations") or {}).get("istio.io/rev", "-")
        ),
        proxy_version(pod) or "-",
    )


def read_pods(kubeconfig: Path) -> list[PodRow]:
    """Every pod, read with the kubernetes client like any other reader, by namespace and name."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        api = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        raw: Any = api.list_pod_for_all_namespaces(_request_timeout=10, _preload_content=False)
        items: list[dict[str, Any]] = json.loads(raw.data)["items"]
    except (ApiException, HTTPError, OSError, ValueError, KeyError) as e:
        raise ClusterUnreachable(f"listing pods: {e}") from e
    return sorted((pod_row(p) for p in items), key=lambda r: (r.namespace, r.name))


def pod_table(rows: Sequence[PodRow]) -> str:
    """`kubectl get pods`-like columns, padded to the widest cell."""
    cells = [HEADER, *(r.cells() for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    return "\n".join(
        "   ".join(c[i].ljust(widths[i]) for i in range(len(HEADER))).rstrip() for c in cells
    )
