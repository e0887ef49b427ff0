"""The Sail flavour's part of the plan: the `Istio` object, its operator, tags, CNI, gateways.

Plain data, like the rest of :mod:`core.plan`, which holds one :class:`SailMesh` under the plan
file's `sail:` key when the plan's `flavour` is `sail`. The Sail operator (sailoperator.io/v1)
turns one cluster-scoped `Istio` into `IstioRevision` objects; what the repo changes is that
`Istio` (its `spec.version`, its `updateStrategy`), the namespaces' and gateways' labels, the
workloads' restart annotation, `IstioRevisionTag` targets and the `IstioCNI` version. Which
revision a namespace, a pod or a tag should be on after stage N is answered on
:class:`core.plan.Plan`, which knows the stages.

Revision names are the operator's, not ours (its Istio controller, `getActiveRevisionName`):
the Istio's own name under `InPlace` (the default strategy), and `<name>-<spec.version with
dots as dashes>` under `RevisionBased` (`default` at `v1.28.6` -> `default-v1-28-6`). An Istio
named `default` under `InPlace` therefore runs a revision named `default`, whose istiod is plain
`istiod` (the operator renders it with `revision: ""`). Switching `InPlace` to `RevisionBased`
at the same version makes a new revision at once (`default-v1-27-9`, the *via* revision here)
beside the old one; the version bump then makes the target revision, and the via revision,
used by nothing, is pruned after the grace period.

Shape in the plan file (versions without the `v`, which the repo's `spec.version` carries)::

    sail:
      istio: {name: default, namespace: istio-system, file: infra/istio/istio.yaml,
              updateStrategy: InPlace, inactiveRevisionDeletionGracePeriodSeconds: 30}
      operator: {form: argocd-application, name: sail-operator, namespace: argocd,
                 file: infra/sail-operator.yaml, version: 1.29.2}
      tags:
      - {name: prod, file: infra/istio/tag.yaml, targetKind: Istio, targetName: default}
      cni: {name: default, namespace: istio-cni, file: infra/istio/cni.yaml,
            from: 1.27.9, to: 1.28.6}
      gateways:
      - {name: istio-ingressgateway, namespace: istio-ingress, file: apps/gw.yaml, revLabel: prod}
      gatewayReleases:
      - {name: istio-egress, namespace: istio-egress, version: 1.27.9, form: helmrelease,
         file: apps/egress.yaml, revision: default}

`operator.form` is `argocd-application`, `helmrelease` or `olm-subscription` (named, never
edited). A tag's `targetKind` is `Istio` (it follows the active revision) or `IstioRevision`
(it stays until the cleanup stage points it at the new revision). A gateway's `revLabel` is the
`istio.io/rev` value its pod template carries ("" when its namespace label selects it).
`gatewayReleases` are releases of Istio's `gateway` chart on the old revision (an Argo CD
Application or Flux HelmRelease; `object` when the GitOps object's name is not the release's):
the gateways stage sets their `revision` value and chart version, as the Helm flavour does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core.helmplan import ChartRelease

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "GATEWAY_RELEASE_FORMS",
    "OPERATOR_FORMS",
    "STRATEGIES",
    "TARGET_KINDS",
    "OperatorForm",
    "SailCNI",
    "SailGateway",
    "SailIstio",
    "SailMesh",
    "SailOperator",
    "SailTag",
    "Strategy",
    "TargetKind",
    "revision_name",
    "sail_from_dict",
    "sail_to_dict",
    "spec_version",
]

Strategy = Literal["InPlace", "RevisionBased"]
STRATEGIES = ("InPlace", "RevisionBased")
OperatorForm = Literal["argocd-application", "helmrelease", "olm-subscription"]
OPERATOR_FORMS = ("argocd-application", "helmrelease", "olm-subscription")
TargetKind = Literal["Istio", "IstioRevision"]
TARGET_KINDS = ("Istio", "IstioRevision")
GATEWAY_RELEASE_FORMS = ("argocd-application", "helmrelease")
# The operator's default for updateStrategy.inactiveRevisionDeletionGracePeriodSeconds.
DEFAULT_GRACE_SECONDS = 30


def spec_version(version: str) -> str:
    """`spec.version` as Sail writes it: `1.28.6` -> `v1.28.6` (its enum lists only `v` forms)."""
    return version if version.startswith("v") else f"v{version}"


def revision_name(istio: str, strategy: str, version: str) -> str:
    """The IstioRevision the operator makes for Istio `istio` at `spec.version` `version`.

    `version` is used as written, as the operator does: an alias lands in the name literally.
    """
    if strategy == "RevisionBased":
        return f"{istio}-{version.replace('.', '-')}"
    return istio


@dataclass(frozen=True)
class SailIstio:
    """The cluster-scoped `Istio` object, as the repo had it before the upgrade."""

    name: str
    namespace: str
    file: str
    strategy: Strategy
    grace_seconds: int | None = None

    @property
    def grace(self) -> int:
        """Seconds the operator waits before deleting an unused revision."""
        return DEFAULT_GRACE_SECONDS if self.grace_seconds is None else self.grace_seconds


@dataclass(frozen=True)
class SailOperator:
    """The Sail operator's own release; an OLM Subscription is named in the plan, never edited."""

    form: OperatorForm
    name: str
    namespace: str = ""
    file: str = ""
    version: str = ""


@dataclass(frozen=True)
class SailTag:
    """An `IstioRevisionTag` and what its `spec.targetRef` names."""

    name: str
    file: str
    target_kind: TargetKind
    target_name: str


@dataclass(frozen=True)
class SailCNI:
    """The `IstioCNI` object, upgraded in place once the skew rule allows it."""

    name: str
    namespace: str
    file: str
    version_from: str
    version_to: str


@dataclass(frozen=True)
class SailGateway:
    """A gateway Deployment injected with the gateway template (Sail deploys none of its own)."""

    name: str
    namespace: str
    file: str
    rev_label: str = ""


@dataclass(frozen=True)
class SailMesh:
    """The Sail flavour's objects; revision names are derived, never stored, so they cannot drift."""

    istio: SailIstio
    operator: SailOperator
    tags: tuple[SailTag, ...] = ()
    cni: SailCNI | None = None
    gateways: tuple[SailGateway, ...] = ()
    gateway_releases: tuple[ChartRelease, ...] = ()  # chart `gateway`, form never `deployment`

    @property
    def switches_strategy(self) -> bool:
        """Whether the plan has a `strategy` stage (the Istio is not RevisionBased yet)."""
        return self.istio.strategy != "RevisionBased"

    def old_revision(self, version: str) -> str:
        """The revision the workloads run on before the upgrade (`version` is the source's)."""
        return revision_name(self.istio.name, self.istio.strategy, spec_version(version))

    def via_revision(self, version: str) -> str:
        """The revision the strategy switch makes at the old version ("" without a switch)."""
        if not self.switches_strategy:
            return ""
        return revision_name(self.istio.name, "RevisionBased", spec_version(version))

    def new_revision(self, version: str) -> str:
        """The revision the version bump makes (`version` is the target's)."""
        return revision_name(self.istio.name, "RevisionBased", spec_version(version))

    def tag(self, name: str) -> SailTag | None:
        """The tag called `name`, or None."""
        return next((t for t in self.tags if t.name == name), None)


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in ("", [], None)}


def sail_to_dict(s: SailMesh) -> dict[str, Any]:
    """The `sail:` section of the plan file."""
    i, op, cni = s.istio, s.operator, s.cni
    return _drop_empty(
        {
            "istio": _drop_empty(
                {
                    "name": i.name,
                    "namespace": i.namespace,
                    "file": i.file,
                    "updateStrategy": i.strategy,
                    "inactiveRevisionDeletionGracePeriodSeconds": i.grace_seconds,
                }
            ),
            "operator": _drop_empty(
                {
                    "form": op.form,
                    "name": op.name,
                    "namespace": op.namespace,
                    "file": op.file,
                    "version": op.version,
                }
            ),
            "tags": [
                {
                    "name": t.name,
                    "file": t.file,
                    "targetKind": t.target_kind,
                    "targetName": t.target_name,
                }
                for t in s.tags
            ],
            "cni": None
            if cni is None
            else _drop_empty(
                {
                    "name": cni.name,
                    "namespace": cni.namespace,
                    "file": cni.file,
                    "from": cni.version_from,
                    "to": cni.version_to,
                }
            ),
            "gateways": [
                _drop_empty(
                    {
                        "name": g.name,
                        "namespace": g.namespace,
                        "file": g.file,
                        "revLabel": g.rev_label,
                    }
                )
                for g in s.gateways
            ],
            "gatewayReleases": [
                _drop_empty(
                    {
                        "name": r.name,
                        "namespace": r.namespace,
                        "version": r.version,
                        "form": r.form,
                        "file": r.file,
                        "object": r.obj,
                        "revision": r.revision,
                    }
                )
                for r in s.gateway_releases
            ],
        }
    )


_SAIL_KEYS = frozenset({"istio", "operator", "tags", "cni", "gateways", "gatewayReleases"})
_ISTIO_KEYS = frozenset(
    {"name", "namespace", "file", "updateStrategy", "inactiveRevisionDeletionGracePeriodSeconds"}
)
_OPERATOR_KEYS = frozenset({"form", "name", "namespace", "file", "version"})
_TAG_KEYS = frozenset({"name", "file", "targetKind", "targetName"})
_CNI_KEYS = frozenset({"name", "namespace", "file", "from", "to"})
_GATEWAY_KEYS = frozenset({"name", "namespace", "file", "revLabel"})
_RELEASE_KEYS = frozenset({"name", "namespace", "version", "form", "file", "object", "revision"})


def sail_from_dict(raw: Any, problems: list[str]) -> SailMesh | None:
    """Parse the `sail:` section, appending every problem to `problems` (None when unusable)."""
    if not isinstance(raw, Mapping):
        problems.append("sail is missing (the plan's flavour is sail)")
        return None

    def mapping(
        m: Any, where: str, keys: frozenset[str], required: bool = True
    ) -> Mapping[str, Any]:
        if not isinstance(m, Mapping):
            if m is not None or required:
                problems.append(
                    f"{where} is missing" if m is None else f"{where} must be a mapping"
                )
            return {}
        unknown = sorted(str(k) for k in m if k not in keys)
        if unknown:
            problems.append(f"{where} has unknown field(s) {', '.join(unknown)}")
        return m

    def text(m: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
        value = m.get(key)
        if value is None:
            if required and m:
                problems.append(f"{where}.{key} is missing")
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            problems.append(f"{where}.{key} must be a string")
            return ""
        return str(value)

    def choice(m: Mapping[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> str:
        value = text(m, key, where)
        if value and value not in allowed:
            problems.append(f"{where}.{key} {value!r} is not one of {', '.join(allowed)}")
        return value

    def items(key: str) -> list[Any]:
        value = raw.get(key) or []
        if not isinstance(value, list):
            problems.append(f"sail.{key} must be a list")
            return []
        return value

    mapping(raw, "sail", _SAIL_KEYS)
    i = mapping(raw.get("istio"), "sail.istio", _ISTIO_KEYS)
    grace = i.get("inactiveRevisionDeletionGracePeriodSeconds")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int) or grace < 0):
        problems.append(
            "sail.istio.inactiveRevisionDeletionGracePeriodSeconds must be an integer >= 0"
        )
        grace = None
    istio = SailIstio(
        name=text(i, "name", "sail.istio"),
        namespace=text(i, "namespace", "sail.istio"),
        file=text(i, "file", "sail.istio", required=False),
        strategy=choice(i, "updateStrategy", "sail.istio", STRATEGIES),  # type: ignore[arg-type]
        grace_seconds=grace,
    )
    o = mapping(raw.get("operator"), "sail.operator", _OPERATOR_KEYS)
    operator = SailOperator(
        form=choice(o, "form", "sail.operator", OPERATOR_FORMS),  # type: ignore[arg-type]
        name=text(o, "name", "sail.operator"),
        namespace=text(o, "namespace", "sail.operator", required=False),
        file=text(o, "file", "sail.operator", required=False),
        version=text(o, "version", "sail.operator", required=False),
    )
    tags = []
    for n, t in enumerate(items("tags"), 1):
        where = f"sail.tags[{n}]"
        m = mapping(t, where, _TAG_KEYS)
        tags.append(
            SailTag(
                name=text(m, "name", where),
                file=text(m, "file", where, required=False),
                target_kind=choice(m, "targetKind", where, TARGET_KINDS),  # type: ignore[arg-type]
                target_name=text(m, "targetName", where),
            )
        )
    c = mapping(raw.get("cni"), "sail.cni", _CNI_KEYS, required=False)
    cni = (
        SailCNI(
            name=text(c, "name", "sail.cni"),
            namespace=text(c, "namespace", "sail.cni", required=False),
            file=text(c, "file", "sail.cni", required=False),
            version_from=text(c, "from", "sail.cni"),
            version_to=text(c, "to", "sail.cni"),
        )
        if c
        else None
    )
    gateways = []
    for n, g in enumerate(items("gateways"), 1):
        where = f"sail.gateways[{n}]"
        m = mapping(g, where, _GATEWAY_KEYS)
        gateways.append(
            SailGateway(
                name=text(m, "name", where),
                namespace=text(m, "namespace", where),
                file=text(m, "file", where, required=False),
                rev_label=text(m, "revLabel", where, required=False),
            )
        )
    releases = []
    for n, r in enumerate(items("gatewayReleases"), 1):
        where = f"sail.gatewayReleases[{n}]"
        m = mapping(r, where, _RELEASE_KEYS)
        releases.append(
            ChartRelease(
                name=text(m, "name", where),
                namespace=text(m, "namespace", where),
                chart="gateway",
                version=text(m, "version", where),
                form=choice(m, "form", where, GATEWAY_RELEASE_FORMS),  # type: ignore[arg-type]
                file=text(m, "file", where),
                obj=text(m, "object", where, required=False),
                revision=text(m, "revision", where),
            )
        )
    return SailMesh(istio, operator, tuple(tags), cni, tuple(gateways), tuple(releases))
