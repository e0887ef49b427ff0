"""kwok's pod stages with one addition: pods carrying an annotation run but never get Ready.

kwok has no kubelet and no readiness probes: its default ``pod-ready`` stage makes every
scheduled pod Running and Ready at once (and sets every readiness gate True, so a readiness
gate cannot hold a pod back). A rollout that never completes (a new version whose readiness
probe never passes) therefore needs a stage of our own. kwok plays its defaults only when its
configuration names no pod stage, so this module starts from kwok's own default pod stages,
printed by the linked kwok (``realcp kwok-stages``; nothing copied, nothing to drift), and:

- narrows ``pod-ready`` to pods without the annotation;
- adds ``pod-held``: a pod with the annotation becomes Running with its containers started but
  not ready, conditions ``Ready``/``ContainersReady`` False, as a kubelet reports a container
  whose readiness probe fails. It gets no pod IP, so removing the annotation lets ``pod-ready``
  (which plays once, on pods without an IP) make it Ready, as a probe that starts passing does.

Pass ``ControlPlane(held_annotation=...)``; whoever sets and removes the annotation (an admission
webhook, a controller) decides which pods are held. This package imports nothing of ours.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

__all__ = ["held_pod_stages"]

Obj = dict[str, Any]

# Our own template (kwok's Go template language, fields of the Pod status): started, not ready.
HELD_STATUS = """{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  status: "False"
  reason: ContainersNotReady
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  status: "False"
  reason: ContainersNotReady
  type: ContainersReady
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
phase: Running
startTime: {{ $now | Quote }}
"""


def _annotation_key(annotation: str) -> str:
    return f'.metadata.annotations["{annotation}"]'


def default_pod_stages(binary: Path) -> list[Obj]:
    """kwok's default pod stages, as the kwok linked into ``binary`` has them."""
    out = subprocess.run(
        [str(binary), "kwok-stages"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def held_pod_stages(binary: Path, annotation: str) -> list[Obj]:
    """kwok's default pod stages, with pods carrying ``annotation`` held Running, not Ready."""
    stages = default_pod_stages(binary)
    ready = next((s for s in stages if s["metadata"]["name"] == "pod-ready"), None)
    if ready is None:
        raise RuntimeError("kwok's default pod stages have no pod-ready stage")
    ready["spec"]["selector"]["matchExpressions"].append(
        {"key": _annotation_key(annotation), "operator": "DoesNotExist"}
    )
    held = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": "pod-held"},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
            "selector": {
                "matchExpressions": [
                    {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
                    {"key": _annotation_key(annotation), "operator": "Exists"},
                    {"key": ".spec.nodeName", "operator": "Exists"},
                    # played once: the pod is Running afterwards
                    {"key": ".status.phase", "operator": "NotIn", "values": ["Running"]},
                ]
            },
            "next": {"statusTemplate": HELD_STATUS},
        },
    }
    return [*stages, held]
