"""The Helm flavour's part of the plan: chart releases, revisions, revision tags, default revision.

Plain data, like the rest of :mod:`core.plan`, which holds one :class:`HelmMesh` under the plan
file's `helm:` key when the plan's `flavour` is `helm`. The generator writes it from what it found
in the repo; the verifier reads it to know which istiod releases, tags and default revision to
expect after each stage. Questions both sides ask (which revision a tag points at after stage N)
are answered on :class:`core.plan.Plan`, which knows the stages.

Shape in the plan file::

    helm:
      chartRepository: {from: https://istio-release.storage.googleapis.com/charts,
                        to: https://blob.istio.io/istio-release/charts}
      base: {name: istio-base, namespace: istio-system, chart: base, version: 1.26.4,
             form: helmrelease, file: istio/base.yaml, defaultRevision: default}
      istiod:
        from: {name: istiod, ..., chart: istiod, version: 1.26.4, revision: default, tags: [prod-stable]}
        to: {name: istiod-1-28-2, ..., version: 1.28.2, revision: 1-28-2, tags: [prod-canary]}
      gateways:
      - {name: istio-ingressgateway, namespace: istio-system, chart: gateway, version: 1.26.4,
         form: helmrelease, file: istio/gateway.yaml, revision: default}
      tags:                         # stable tag -> the canary tag namespaces move through
      - {name: prod-stable, canary: prod-canary}
      tagManifests:                 # tags kept as their own manifests (`istioctl tag generate`)
      - {name: prod-stable, files: [istio/tags/prod-stable.yaml]}
      defaultRevision: {from: default, to: 1-28-2}
      cni:                          # node agents, upgraded in place by the `cni` stage
      - {name: istio-cni, namespace: istio-system, chart: cni, version: 1.26.4, form: helmrelease,
         file: istio/cni.yaml}
      ztunnel:
      - {name: ztunnel, namespace: istio-system, chart: ztunnel, version: 1.26.4,
         form: helmrelease, file: istio/ztunnel.yaml, revision: default}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CHART_FORMS",
    "DEFAULT_REVISION",
    "ChartForm",
    "ChartRelease",
    "HelmMesh",
    "RevisionTag",
    "TagManifest",
    "adds_default_tag",
    "helm_from_dict",
    "helm_to_dict",
]

# The revision a non-revisioned istiod install serves (the chart's `revision: ""`).
DEFAULT_REVISION = "default"

ChartForm = Literal["argocd-application", "helmrelease", "deployment"]
CHART_FORMS = ("argocd-application", "helmrelease", "deployment")


@dataclass(frozen=True)
class ChartRelease:
    """A Helm release of an Istio chart (base, istiod, gateway) as the repo declares it.

    `form` says how: an Argo CD Application, a Flux HelmRelease, or (gateways only) a plain
    Deployment injected with the gateway template. `obj` is the GitOps object's name when it
    differs from the release name. `revision` is the release's `revision` value (`default` when
    unset); `tags` its `revisionTags`.
    """

    name: str
    namespace: str
    chart: str
    version: str
    form: ChartForm
    file: str = ""
    obj: str = ""
    revision: str = DEFAULT_REVISION
    tags: tuple[str, ...] = ()
    default_revision: str = ""

    @property
    def object_name(self) -> str:
        """The name of the Application / HelmRelease / Deployment that declares the release."""
        return self.obj or self.name


@dataclass(frozen=True)
class RevisionTag:
    """A stable revision tag namespaces are labelled with, and the canary tag they move through."""

    name: str
    canary: str


@dataclass(frozen=True)
class TagManifest:
    """A revision tag kept as its own manifests (its webhook, Service), not by a release."""

    name: str
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class HelmMesh:
    """The Helm flavour's releases: `base`, the old and new istiod, the gateways, the tags."""

    base: ChartRelease
    istiod_from: ChartRelease
    istiod_to: ChartRelease
    gateways: tuple[ChartRelease, ...] = ()
    tags: tuple[RevisionTag, ...] = ()
    default_from: str = DEFAULT_REVISION
    default_to: str = ""
    repo_from: str = ""
    repo_to: str = ""
    tag_manifests: tuple[TagManifest, ...] = ()
    # Node agents (releases of the `cni` and `ztunnel` charts): one DaemonSet each for every
    # revision, so they have no canary; the `cni` stage moves them in place.
    cni: tuple[ChartRelease, ...] = ()
    ztunnel: tuple[ChartRelease, ...] = ()

    @property
    def node_agents(self) -> tuple[ChartRelease, ...]:
        """The `cni` and `ztunnel` releases the plan upgrades in place."""
        return (*self.cni, *self.ztunnel)

    @property
    def manifest_tags(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tag_manifests)

    def canary_of(self, tag: str) -> str:
        """The canary tag of stable tag `tag` ("" when `tag` is not a stable tag of the plan)."""
        return next((t.canary for t in self.tags if t.name == tag), "")


def adds_default_tag(h: HelmMesh | None) -> bool:
    """Whether cleanup gives the new istiod a `default` tag: the old one was non-revisioned and
    served `istio-injection=enabled` itself, and no release or manifest declares the tag. The
    generator writes the tag by this rule and the verifier expects it by the same one."""
    return (
        h is not None
        and h.istiod_from.revision == DEFAULT_REVISION
        and DEFAULT_REVISION not in h.istiod_from.tags + h.istiod_to.tags + h.manifest_tags
    )


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in ("", [], None)}


def _release_to_dict(r: ChartRelease) -> dict[str, Any]:
    return _drop_empty(
        {
            "name": r.name,
            "namespace": r.namespace,
            "chart": r.chart,
            "version": r.version,
            "form": r.form,
            "file": r.file,
            "object": r.obj,
            "revision": r.revision,
            "tags": list(r.tags),
            "defaultRevision": r.default_revision,
        }
    )


def helm_to_dict(h: HelmMesh) -> dict[str, Any]:
    """The `helm:` section of the plan file."""
    return _drop_empty(
        {
            "chartRepository": _drop_empty({"from": h.repo_from, "to": h.repo_to}) or None,
            "base": _release_to_dict(h.base),
            "istiod": {
                "from": _release_to_dict(h.istiod_from),
                "to": _release_to_dict(h.istiod_to),
            },
            "gateways": [_release_to_dict(g) for g in h.gateways],
            "tags": [{"name": t.name, "canary": t.canary} for t in h.tags],
            "tagManifests": [{"name": t.name, "files": list(t.files)} for t in h.tag_manifests],
            "defaultRevision": {"from": h.default_from, "to": h.default_to},
            "cni": [_release_to_dict(r) for r in h.cni],
            "ztunnel": [_release_to_dict(r) for r in h.ztunnel],
        }
    )


_RELEASE_KEYS = frozenset(
    {
        "name",
        "namespace",
        "chart",
        "version",
        "form",
        "file",
        "object",
        "revision",
        "tags",
        "defaultRevision",
    }
)
_HELM_KEYS = frozenset(
    {"chartRepository", "base", "istiod", "gateways", "tags", "tagManifests", "defaultRevision"}
    | {"cni", "ztunnel"}
)


def helm_from_dict(raw: Any, problems: list[str]) -> HelmMesh | None:
    """Parse the `helm:` section, appending every problem to `problems` (None when unusable)."""
    if not isinstance(raw, Mapping):
        problems.append("helm is missing (the plan's flavour is helm)")
        return None
    unknown = sorted(str(k) for k in raw if k not in _HELM_KEYS)
    if unknown:
        problems.append(f"helm has unknown field(s) {', '.join(unknown)}")

    def text(m: Any, key: str, where: str, required: bool = True) -> str:
        value = m.get(key) if isinstance(m, Mapping) else None
        if value is None:
            if required:
                problems.append(f"{where}.{key} is missing")
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            problems.append(f"{where}.{key} must be a string")
            return ""
        return str(value)

    def strings(m: Any, key: str, where: str) -> tuple[str, ...]:
        value = m.get(key) if isinstance(m, Mapping) else None
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            problems.append(f"{where}.{key} must be a list of strings")
            return ()
        return tuple(value)

    def release(m: Any, where: str) -> ChartRelease:
        if not isinstance(m, Mapping):
            problems.append(f"{where} is missing")
            m = {}
        extra = sorted(str(k) for k in m if k not in _RELEASE_KEYS)
        if extra:
            problems.append(f"{where} has unknown field(s) {', '.join(extra)}")
        form = text(m, "form", where)
        chart = text(m, "chart", where, required=False)
        if m and form not in CHART_FORMS:
            problems.append(f"{where}.form {form!r} is not one of {', '.join(CHART_FORMS)}")
        return ChartRelease(
            name=text(m, "name", where),
            namespace=text(m, "namespace", where, required=False),
            chart=chart,
            version=text(m, "version", where, required=False),
            form=form,  # type: ignore[arg-type]
            file=text(m, "file", where, required=False),
            obj=text(m, "object", where, required=False),
            # base has no revision of its own (its defaultRevision names one)
            revision=text(m, "revision", where, required=False)
            or ("" if chart == "base" else DEFAULT_REVISION),
            tags=strings(m, "tags", where),
            default_revision=text(m, "defaultRevision", where, required=False),
        )

    istiod = raw.get("istiod")
    gateways = raw.get("gateways") or []
    if not isinstance(gateways, list):
        problems.append("helm.gateways must be a list")
        gateways = []
    tags_raw = raw.get("tags") or []
    if not isinstance(tags_raw, list):
        problems.append("helm.tags must be a list")
        tags_raw = []
    manifests_raw = raw.get("tagManifests") or []
    if not isinstance(manifests_raw, list):
        problems.append("helm.tagManifests must be a list")
        manifests_raw = []
    agents: dict[str, list[Any]] = {}
    for key in ("cni", "ztunnel"):
        agents[key] = raw.get(key) or []
        if not isinstance(agents[key], list):
            problems.append(f"helm.{key} must be a list")
            agents[key] = []
    repo = raw.get("chartRepository") or {}
    default = raw.get("defaultRevision") or {}
    get: Callable[[Any, str], Any] = lambda m, k: m.get(k) if isinstance(m, Mapping) else None  # noqa: E731
    return HelmMesh(
        base=release(raw.get("base"), "helm.base"),
        istiod_from=release(get(istiod, "from"), "helm.istiod.from"),
        istiod_to=release(get(istiod, "to"), "helm.istiod.to"),
        gateways=tuple(release(g, f"helm.gateways[{i}]") for i, g in enumerate(gateways, 1)),
        tags=tuple(
            RevisionTag(text(t, "name", "helm.tags"), text(t, "canary", "helm.tags"))
            for t in tags_raw
        ),
        default_from=text(default, "from", "helm.defaultRevision", False) or DEFAULT_REVISION,
        default_to=text(default, "to", "helm.defaultRevision", False),
        repo_from=text(repo, "from", "helm.chartRepository", False),
        repo_to=text(repo, "to", "helm.chartRepository", False),
        tag_manifests=tuple(
            TagManifest(
                text(t, "name", "helm.tagManifests"), strings(t, "files", "helm.tagManifests")
            )
            for t in manifests_raw
        ),
        cni=tuple(_agent(release, r, "cni", i, problems) for i, r in enumerate(agents["cni"], 1)),
        ztunnel=tuple(
            _agent(release, r, "ztunnel", i, problems) for i, r in enumerate(agents["ztunnel"], 1)
        ),
    )


def _agent(
    release: Callable[[Any, str], ChartRelease],
    raw: Any,
    chart: str,
    pos: int,
    problems: list[str],
) -> ChartRelease:
    """A node-agent release: a release of chart `chart`, in an Application or a HelmRelease."""
    where = f"helm.{chart}[{pos}]"
    r = release(raw, where)
    if isinstance(raw, Mapping) and r.chart != chart:
        problems.append(f"{where}.chart must be {chart}, not {r.chart or '(none)'}")
    if isinstance(raw, Mapping) and r.form == "deployment":
        problems.append(f"{where}.form must be argocd-application or helmrelease")
    if isinstance(raw, Mapping) and not r.version:
        problems.append(f"{where}.version is missing")
    return r


def agent_daemonset(r: ChartRelease) -> str:
    """The DaemonSet a node-agent release runs (istio/istio charts: cni makes `istio-cni-node`;
    ztunnel makes `ztunnel` unless its `resourceName` says otherwise, which the plan does not
    record, so such a release is reported missing rather than guessed)."""
    return "istio-cni-node" if r.chart == "cni" else "ztunnel"
