"""The image registry the simulated node pulls from: which image tags were really released.

A kubelet cannot start a container whose image does not exist; a plan that targets a made-up
Istio patch (1.7.99) must show up as ``ErrImagePull`` -> ``ImagePullBackOff``, as on a real node.
Only the repositories listed here are judged; an image from any other repository (a private
mirror, nginx, busybox) is assumed to exist, so tests and demos may use whatever they like.

Released tags (as published on Docker Hub / k8s.gcr.io):

==========================================  ==============================================
repository                                  tags
==========================================  ==============================================
docker.io/istio/proxyv2, docker.io/istio/pilot  1.6.0 - 1.6.14, 1.7.0 - 1.7.8
k8s.gcr.io/echoserver                       1.4, 1.10
ghcr.io/banzaicloud/istio-operator          0.6.0 - 0.6.22, 0.7.0 - 0.7.14
==========================================  ==============================================

(The operator table is wider than the upstream release list on purpose: it names the minors the
simulated operators support, and the tags the seed and the generator's defaults use.)
"""

from __future__ import annotations

__all__ = ["RELEASED", "pull_error"]


def _patches(minor: str, last: int) -> set[str]:
    return {f"{minor}.{n}" for n in range(last + 1)}


# simcluster's own catalog, kept apart from the generator's release table on purpose: it stands
# in for the registry, so a generator table that drifts from what was really published shows up
# as an ImagePullBackOff in the rehearsal instead of agreeing with itself.
_ISTIO = _patches("1.6", 14) | _patches("1.7", 8)
RELEASED: dict[str, frozenset[str]] = {
    "docker.io/istio/proxyv2": frozenset(_ISTIO),
    "docker.io/istio/pilot": frozenset(_ISTIO),
    "k8s.gcr.io/echoserver": frozenset({"1.4", "1.10"}),
    "ghcr.io/banzaicloud/istio-operator": frozenset(_patches("0.6", 22) | _patches("0.7", 14)),
}


def _split(ref: str) -> tuple[str, str]:
    """(repository, tag) of a fully qualified reference such as the kubelet reports."""
    if "@" in ref:
        return ref.split("@", 1)[0], ""
    repo, _, tag = ref.rpartition(":")
    return (repo, tag) if "/" not in tag else (ref, "latest")


def pull_error(ref: str) -> str:
    """containerd's error for an image that does not exist, or "" when the pull succeeds."""
    repo, tag = _split(ref)
    known = RELEASED.get(repo)
    if known is None or not tag or tag in known:
        return ""
    return (
        f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
        f"{ref}: not found"
    )
