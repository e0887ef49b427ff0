"""From what discovery found and the `init` options to a :class:`~core.plan.Plan` (pure)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from core.errors import UsageError
from core.operatorchart import SHIPPED_CHART, pair_problem
from core.plan import (
    ConnectivityCheck,
    ControlPlane,
    GatewayRef,
    MeshNamespace,
    OperatorRelease,
    Plan,
    ServiceRef,
    WorkloadRef,
)
from core.versions import minor_of, parse_version
from generator import __version__
from generator.chartpin import new_chart
from generator.discovery import Found
from generator.index import Document
from generator.naming import DEFAULT_OPERATOR, canary_name, check_upgrade
from generator.stages import KINDS, Outline
from generator.stages.kind import Probes

__all__ = [
    "MAX_FULL_PAIRS",
    "MAX_STAGE_PAIRS",
    "InitOptions",
    "Injected",
    "Meshed",
    "build_plan",
    "connectivity",
    "mesh_namespaces",
    "parse_wave",
    "probe_pairs",
    "split_waves",
]

_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# Up to this many namespace pairs per stage every pair is probed; above it each namespace of the
# wave is paired with one partner (both directions), so big meshes get a bounded number of probes.
MAX_FULL_PAIRS = 16
# Above MAX_FULL_PAIRS, at most this many pairs per stage, spread evenly over the wave (a verifier
# execs one probe per check, so thousands of them would make every gate take hours).
MAX_STAGE_PAIRS = 64
# The starting-state probes: a ring over the namespaces, evenly thinned to at most this many pairs.
MAX_BASELINE_PAIRS = 50


@dataclass(frozen=True)
class InitOptions:
    """What `init` was asked for."""

    to_version: str
    name: str | None = None
    operator_version: str | None = None
    waves: tuple[tuple[str, ...], ...] = ()
    wave_size: int = 1


GATEWAY_TEMPLATE = "inject.istio.io/templates"


@dataclass(frozen=True)
class _Endpoint:
    source: tuple[str, str] | None  # (selector, container)
    services: tuple[ServiceRef, ...]


class Meshed(Protocol):
    """What probes are planned from: a namespace's name, workload and Service documents."""

    @property
    def name(self) -> str: ...
    @property
    def workloads(self) -> list[Document]: ...
    @property
    def services(self) -> list[Document]: ...


class Injected(Meshed, Protocol):
    """A namespace a flavour's discovery found injected: also how it is selected, and its file."""

    @property
    def doc(self) -> Document: ...
    @property
    def meshed_by(self) -> tuple[str, ...]: ...
    @property
    def rev_label(self) -> str: ...


def mesh_namespaces(
    found: Sequence[Injected], services: dict[str, tuple[ServiceRef, ...]]
) -> tuple[MeshNamespace, ...]:
    """The plan's record of each injected namespace (the revision-based flavours share it)."""
    return tuple(
        MeshNamespace(
            ns.name,
            tuple(WorkloadRef(w.kind, w.name, w.file) for w in ns.workloads),
            services[ns.name],
            ns.doc.file,
            ns.meshed_by,
            ns.rev_label,
        )
        for ns in found
    )


def connectivity(
    namespaces: Sequence[Meshed],
) -> tuple[Probes, tuple[ConnectivityCheck, ...], dict[str, tuple[ServiceRef, ...]]]:
    """The probe planner of a mesh, its baseline (stage 0) checks, and each namespace's
    Services as the plan records them: the part of planning every flavour shares."""
    names = [ns.name for ns in namespaces]
    eps = {ns.name: _endpoint(ns) for ns in namespaces}
    ring = names[:: max(1, -(-len(names) // MAX_BASELINE_PAIRS))] if len(names) > 8 else names
    baseline = _checks(probe_pairs(ring, ring, ring), eps)

    def probes(
        left: Sequence[str], right: Sequence[str], anchor: Sequence[str]
    ) -> tuple[ConnectivityCheck, ...]:
        return _checks(probe_pairs(left, right, anchor), eps)

    return probes, baseline, {n: e.services for n, e in eps.items()}


def _is_gateway(workload: Document) -> bool:
    """A Deployment injected with Istio's gateway template: an Envoy, not an app. It neither
    runs curl nor answers a plain request with 200 (it routes by Host), so it is probed through
    its routes by the verifier, not as a connectivity source or target."""
    notes = workload.get("spec", "template", "metadata", "annotations", default={})
    return isinstance(notes, dict) and "gateway" in str(notes.get(GATEWAY_TEMPLATE, ""))


def _endpoint(ns: Meshed) -> _Endpoint:
    source = None
    gateway_labels = []
    for w in ns.workloads:
        labels = w.get("spec", "template", "metadata", "labels", default={})
        if _is_gateway(w):
            gateway_labels.append(labels if isinstance(labels, dict) else {})
            continue
        containers = w.get("spec", "template", "spec", "containers", default=[])
        if (
            source is None
            and isinstance(labels, dict)
            and labels
            and containers
            and isinstance(containers[0], dict)
        ):
            selector = ",".join(f"{k}={v}" for k, v in labels.items())
            source = (selector, str(containers[0].get("name", "")))
    services = []
    for s in ns.services:
        selector = s.get("spec", "selector", default={})
        if (
            isinstance(selector, dict)
            and selector
            and any(selector.items() <= labels.items() for labels in gateway_labels)
        ):
            continue  # the gateway's own Service
        ports = s.get("spec", "ports", default=[])
        if ports and isinstance(ports[0], dict) and isinstance(ports[0].get("port"), int):
            services.append(ServiceRef(s.name, ports[0]["port"]))
    return _Endpoint(source, tuple(services))


def parse_wave(value: str) -> tuple[str, ...]:
    """One `--wave NS,NS` value; a wave naming nothing is refused rather than silently dropped."""
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise UsageError(f"--wave {value!r} names no namespace; give NS[,NS...]")
    return names


def split_waves(names: Sequence[str], waves: Sequence[Sequence[str]], size: int) -> list[list[str]]:
    """Explicit `--wave`s first, then the rest in name order, `size` namespaces per wave."""
    if size < 1:
        raise UsageError(f"--wave-size must be at least 1, not {size}")
    known = set(names)
    seen: set[str] = set()
    out: list[list[str]] = []
    for wave in waves:
        for ns in wave:
            if ns not in known:
                raise UsageError(
                    f"--wave names {ns!r}, which is not a namespace of the old control plane "
                    f"({', '.join(names) or 'none'})"
                )
            if ns in seen:
                raise UsageError(f"--wave names {ns!r} twice")
            seen.add(ns)
        if wave:
            out.append(list(wave))
    rest = [n for n in sorted(names) if n not in seen]
    out.extend(rest[i : i + size] for i in range(0, len(rest), size))
    return out


def _checks(
    pairs: Sequence[tuple[str, str]], eps: dict[str, _Endpoint]
) -> tuple[ConnectivityCheck, ...]:
    out: list[ConnectivityCheck] = []
    seen: set[tuple[str, str]] = set()
    for a, b in pairs:
        for src, dst in ((a, b), (b, a)):
            if (src, dst) in seen or src == dst:
                continue
            seen.add((src, dst))
            source = eps[src].source
            if source is None:
                continue
            for svc in eps[dst].services:
                out.append(ConnectivityCheck(src, source[0], source[1], dst, svc.name, svc.port))
    return tuple(out)


def probe_pairs(
    left: Sequence[str], right: Sequence[str], anchor: Sequence[str]
) -> list[tuple[str, str]]:
    """Namespace pairs to probe (both ways): all of left x right while that is small, else each
    of up to MAX_STAGE_PAIRS namespaces of `anchor` (the wave) with one partner on the other side."""
    if len(left) * len(right) <= MAX_FULL_PAIRS + len(left):
        full = [(a, b) for a in left for b in right if a != b]
        if len(full) <= MAX_FULL_PAIRS:
            return full
    anchored = set(anchor)
    other = [b for b in right if b not in anchored] or list(right)
    step = max(1, -(-len(anchor) // MAX_STAGE_PAIRS))
    out: list[tuple[str, str]] = []
    for i, a in enumerate(list(anchor)[::step]):
        # Walk the other side round-robin so partners spread out, skipping `a` itself.
        rotated = other[i % len(other) :] + other[: i % len(other)]
        partner = next((b for b in rotated if b != a), None)
        if partner is not None:
            out.append((a, partner))
    return out


def build_plan(found: Found, opts: InitOptions) -> Plan:
    """The whole upgrade, stage by stage; refuses versions and names it cannot stage."""
    check_upgrade(found.version, opts.to_version)
    target_minor = minor_of(opts.to_version)
    op_version = opts.operator_version or DEFAULT_OPERATOR.get(target_minor)
    if op_version is None:
        raise UsageError(
            f"no default istio-operator release is known for Istio {target_minor}; "
            "pass --operator-version"
        )
    if opts.operator_version is not None:
        parse_version(opts.operator_version, "--operator-version")
    old_op = found.operator.release
    new_op_name = canary_name(old_op.name, opts.to_version)
    new_name = opts.name or canary_name(found.cr.name, opts.to_version)
    if not _DNS_NAME.match(new_name) or len(new_name) > 63:
        raise UsageError(f"--name {new_name!r} is not a valid object name (lowercase DNS label)")
    if new_name == found.cr.name:
        raise UsageError(f"--name {new_name} is the name of the running control plane")
    if (new_name, found.cr_namespace) in found.istio_names:
        raise UsageError(
            f"an Istio CR {new_name} already exists in {found.cr_namespace}; "
            "pick another --name or remove it"
        )
    if new_op_name == old_op.name:
        raise UsageError(f"the new operator release would reuse the name {new_op_name}")
    cr_dir = posixpath.dirname(found.cr.file)
    op_dir = posixpath.dirname(old_op.file)
    source = ControlPlane(
        found.cr.name,
        found.cr_namespace,
        found.version,
        old_op,
        found.cr.file,
        found.global_,
    )
    new_op = OperatorRelease(
        new_op_name,
        old_op.namespace,
        op_version,
        old_op.form,
        posixpath.join(op_dir, f"{new_op_name}.yaml"),
    )
    if new_op.minor != target_minor:
        raise UsageError(
            f"--operator-version {op_version} reconciles Istio {new_op.minor}, not {target_minor}"
        )
    if old_op.form != "plain":
        chart = new_chart(found.operator.doc.data, op_version)
        problem = pair_problem(
            SHIPPED_CHART.get(chart, chart), {"istioVersion": target_minor}, op_version
        )
        if problem:
            raise UsageError(
                f"the new operator release {new_op_name} cannot run: {problem}; "
                "pass an --operator-version that istio-canary knows the chart of"
            )
    target = ControlPlane(
        new_name,
        found.cr_namespace,
        opts.to_version,
        new_op,
        posixpath.join(cr_dir, f"{new_name}.yaml"),
        False,
    )

    gateways = tuple(
        ref
        if ref.in_repo
        else GatewayRef(ref.name, ref.namespace, False, posixpath.join(cr_dir, f"{ref.name}.yaml"))
        for ref, _ in found.gateways
    )
    namespaces = tuple(
        MeshNamespace(
            ns.name,
            tuple(WorkloadRef(w.kind, w.name, w.file) for w in ns.workloads),
            _endpoint(ns).services,
            ns.doc.file,
            ns.meshed_by,
        )
        for ns in found.namespaces
    )
    names = [ns.name for ns in found.namespaces]
    eps = {ns.name: _endpoint(ns) for ns in found.namespaces}
    waves = split_waves(names, opts.waves, opts.wave_size)

    outline = Outline(
        names,
        waves,
        gateways,
        lambda left, right, anchor: _checks(probe_pairs(left, right, anchor), eps),
    )
    drafts = [stage for kind in KINDS for stage in kind.stages(outline)]
    stages = [replace(stage, index=i) for i, stage in enumerate(drafts, start=1)]
    ring = names[:: max(1, -(-len(names) // MAX_BASELINE_PAIRS))] if len(names) > 8 else names
    baseline = _checks(probe_pairs(ring, ring, ring), eps)
    return Plan(
        source=source,
        target=target,
        stages=tuple(stages),
        namespaces=namespaces,
        gateways=gateways,
        gitops_engine=found.engine,
        gitops_objects=tuple(found.gitops),
        baseline_checks=baseline,
        generator_version=__version__,
    )
