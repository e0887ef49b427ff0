"""Facts about one pod, read from its raw JSON (as the API returns it): sidecar, version, revision.

Pure functions over dicts, so checks stay pure and a 20,000-pod list needs no model objects.
Istio facts: `istio-proxy` is a container, or a native-sidecar init container; its image tag is
the proxy version; the revision is in the injection status annotation (newer Istio), the
`istio.io/rev` annotation, or the `istio.io/rev` pod label (1.6/1.7).

Labels are claims anyone can write; what the injector put into the pod is evidence. The proxy's
own configuration names the istiod it talks to (`CA_ADDR`, or `discoveryAddress` in
`PROXY_CONFIG`), so :func:`injection` reads both, and :func:`decide_revision` takes the istiod's
revision over the label and reports where they disagree: a pod labelled for the new revision but
injected by the old control plane must not pass for a pod on the new one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.versions import image_version

__all__ = [
    "NEVER_HEALS",
    "PROXY",
    "Injection",
    "Owner",
    "bad_waiting_reason",
    "decide_revision",
    "image_version",
    "injection",
    "is_ready",
    "is_terminating",
    "labels",
    "match_selector",
    "owner",
    "proxy_container",
    "proxy_version",
    "revision",
]

PROXY = "istio-proxy"
# Container states that will not heal by waiting (a new commit or a human is needed).
_NEVER_HEALS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName")
NEVER_HEALS = _NEVER_HEALS

Pod = Mapping[str, Any]


def meta(pod: Pod) -> Mapping[str, Any]:
    return pod.get("metadata") or {}


def labels(obj: Pod) -> Mapping[str, str]:
    return meta(obj).get("labels") or {}


def annotations_of(obj: Pod) -> Mapping[str, str]:
    return meta(obj).get("annotations") or {}


def proxy_container(pod: Pod) -> Mapping[str, Any] | None:
    """The `istio-proxy` container spec, whether a classic sidecar or a native-sidecar init container."""
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            if c.get("name") == PROXY:
                return c
    return None


def proxy_version(pod: Pod) -> str:
    c = proxy_container(pod)
    return image_version(str(c.get("image", ""))) if c else ""


def revision(pod: Pod) -> str:
    """The control-plane revision that injected the pod ("" when nothing says)."""
    ann = annotations_of(pod)
    raw = ann.get("sidecar.istio.io/status")
    if raw:
        try:
            status = json.loads(raw)
        except ValueError:
            status = None
        if isinstance(status, Mapping) and status.get("revision") not in (None, "", "default"):
            return str(status["revision"])
    return str(ann.get("istio.io/rev") or labels(pod).get("istio.io/rev") or "")


@dataclass(frozen=True)
class Injection:
    """What a pod says about its sidecar: the claim, and what the injector actually put there."""

    claimed: str  # the revision label/annotation ("" when none)
    istiod: str  # `<name>.<namespace>` of the istiod the proxy is configured for ("" unknown)
    version: str  # the proxy image tag


def _istiod_host(address: str) -> str:
    """`istiod-x.istio-system.svc:15012` -> `istiod-x.istio-system`."""
    host = address.strip().split("://", 1)[-1].split(":", 1)[0]
    parts = host.split(".")
    return f"{parts[0]}.{parts[1]}" if len(parts) >= 2 and parts[0] and parts[1] else ""


def injection(pod: Pod) -> Injection:
    c = proxy_container(pod)
    istiod = ""
    if c is not None:
        env = {str(e.get("name")): e.get("value") for e in c.get("env") or () if "value" in e}
        if env.get("CA_ADDR"):
            istiod = _istiod_host(str(env["CA_ADDR"]))
        if not istiod and env.get("PROXY_CONFIG"):
            try:
                config = json.loads(str(env["PROXY_CONFIG"]))
            except ValueError:
                config = None
            if isinstance(config, Mapping) and config.get("discoveryAddress"):
                istiod = _istiod_host(str(config["discoveryAddress"]))
    return Injection(revision(pod), istiod, proxy_version(pod))


def decide_revision(pod: Pod, istiods: Mapping[str, str]) -> tuple[str, str]:
    """(the revision the pod's proxy is really on, why its label disagrees or "").

    `istiods` maps `<istiod>.<namespace>` to the revision of that control plane. The istiod the
    proxy was configured for decides; the label only decides when the proxy names no istiod the
    plan knows.
    """
    inj = injection(pod)
    actual = istiods.get(inj.istiod, "")
    if not actual:
        return inj.claimed, ""
    if inj.claimed and inj.claimed != actual:
        return actual, (
            f"labelled {inj.claimed} but its proxy {inj.version or '?'} was injected by "
            f"{actual} (istiod {inj.istiod}); restart it in a namespace labelled for the "
            "revision it should run"
        )
    return actual, ""


def is_terminating(pod: Pod) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def is_finished(pod: Pod) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_ready(pod: Pod) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or is_terminating(pod):
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def bad_waiting_reason(pod: Pod) -> str:
    """`CrashLoopBackOff` (etc.) with the container name (and the image, for a pull failure)
    when a container is stuck for good."""
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or ():
            reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason", "")
            if reason in _NEVER_HEALS:
                image = f" ({cs['image']})" if "Image" in reason and cs.get("image") else ""
                return f"{cs.get('name', '?')}: {reason}{image}"
    return ""


@dataclass(frozen=True)
class Owner:
    """The workload a pod belongs to and the template generation it was created from."""

    kind: str  # Deployment, StatefulSet, DaemonSet, Job, ... or "" for a bare pod
    name: str
    template: str  # pod-template-hash / controller-revision-hash, "" when unknown


def owner(pod: Pod) -> Owner:
    """Resolve ReplicaSet -> Deployment by name (the hash label is the ReplicaSet's suffix)."""
    refs = [r for r in meta(pod).get("ownerReferences") or () if r.get("controller", True)]
    if not refs:
        return Owner("", "", "")
    ref = refs[0]
    kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
    lab = labels(pod)
    if kind == "ReplicaSet":
        h = lab.get("pod-template-hash", "")
        if h and name.endswith("-" + h):
            return Owner("Deployment", name[: -len(h) - 1], h)
        return Owner("ReplicaSet", name, name)
    return Owner(kind, name, lab.get("controller-revision-hash", ""))


def match_selector(selector: str, lab: Mapping[str, str]) -> bool:
    """Equality-based label selectors (`a=b,c!=d,e`), the form the plan's checks use."""
    for term in (t.strip() for t in selector.split(",")):
        if not term:
            continue
        if "!=" in term:
            k, v = (s.strip() for s in term.split("!=", 1))
            if lab.get(k) == v:
                return False
        elif "=" in term:
            k, v = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if lab.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in lab:
                return False
        elif term not in lab:
            return False
    return True
