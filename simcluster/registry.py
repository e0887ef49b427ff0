"""The image registry the simulated node pulls from: which image tags were really released.

A kubelet cannot start a container whose image does not exist; a plan that targets a made-up
Istio patch (1.7.99) must show up as ``ErrImagePull`` -> ``ImagePullBackOff``, as on a real node.
Only the repositories listed here are judged; an image from any other repository (a private
mirror, nginx, busybox) is assumed to exist, so tests and demos may use whatever they like.

Released tags (as published on Docker Hub / k8s.gcr.io):

==========================================  ==============================================
repository                                  tags
==========================================  ==============================================
docker.io/istio/proxyv2, docker.io/istio/pilot  1.6.0 - 1.6.14, 1.7.0 - 1.7.8,
                                            1.18.0 - 1.18.7, 1.19.0 - 1.19.10,
                                            1.20.0 - 1.20.8, 1.21.0 - 1.21.6,
                                            1.22.0 - 1.22.8, 1.23.0 - 1.23.6, 1.24.0 - 1.24.6,
                                            1.25.0 - 1.25.5, 1.26.0 - 1.26.8, 1.27.0 - 1.27.9,
                                            1.28.0 - 1.28.10, 1.29.0 - 1.29.8, 1.30.0 - 1.30.5,
                                            1.31.0 - 1.31.1
k8s.gcr.io/echoserver                       1.4, 1.10
ghcr.io/banzaicloud/istio-operator          0.6.0 - 0.6.22, 0.7.0 - 0.7.14
==========================================  ==============================================

(The operator table is wider than the upstream release list on purpose: it names the minors the
simulated operators support, and the tags the seed and the generator's defaults use.)

The 1.18 - 1.28 patch lists are istio/istio's release tags; 1.18 - 1.21 are below what the Helm
flavour upgrades from (1.22) but real repos still run them, and 1.28 ended in 2026-07 with
1.28.10. 1.29, 1.30 and 1.31 are the releases published by 2026-09-21 (1.29.8, 1.30.5, 1.31.1). Istio's charts carry the same version as the images, so a chart version that names no
image here ends as ``ImagePullBackOff`` of ``pilot`` too.
"""

from __future__ import annotations

__all__ = ["RELEASED", "pull_error"]


def _patches(minor: str, last: int) -> set[str]:
    return {f"{minor}.{n}" for n in range(last + 1)}


# simcluster's own catalog, kept apart from the generator's release table on purpose: it stands
# in for the registry, so a generator table that drifts from what was really published shows up
# as an ImagePullBackOff in the rehearsal instead of agreeing with itself.
_ISTIO = (
    _patches("1.6", 14)
    | _patches("1.7", 8)
    | _patches("1.18", 7)
    | _patches("1.19", 10)
    | _patches("1.20", 8)
    | _patches("1.21", 6)
    | _patches("1.22", 8)
    | _patches("1.23", 6)
    | _patches("1.24", 6)
    | _patches("1.25", 5)
    | _patches("1.26", 8)
    | _patches("1.27", 9)
    | _patches("1.28", 10)
    | _patches("1.29", 8)
    | _patches("1.30", 5)
    | _patches("1.31", 1)
)
RELEASED: dict[str, frozenset[str]] = {
    "docker.io/istio/proxyv2": frozenset(_ISTIO),
    "docker.io/istio/pilot": frozenset(_ISTIO),
    "k8s.gcr.io/echoserver": frozenset({"1.4", "1.10"}),
    "ghcr.io/banzaicloud/istio-operator": frozenset(_patches("0.6", 22) | _patches("0.7", 14)),
    # `image: auto` is a placeholder the gateway injection template fills in; a gateway pod no
    # injector matched keeps it, and the node cannot pull it
    "docker.io/library/auto": frozenset(),
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
