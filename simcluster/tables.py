"""Server-side Tables (``meta.k8s.io/v1 Table``): the columns `kubectl get` prints.

Columns and cell formats follow the apiserver's printers (pods READY/STATUS/RESTARTS/AGE, ...);
custom resources use their CRD's printer columns (``Kind.printer_columns``) or Name/Age.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from simcluster.kinds import Kind

Obj = dict[str, Any]
Column = tuple[str, str, int]  # (name, type, priority)
Row = list[Any]


def human_duration(seconds: float) -> str:
    """The apiserver's HumanDuration: 45s, 3m20s, 25m, 4h10m, 30h, 3d4h, 20d, 2y30d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None, now: dt.datetime | None = None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return "<unknown>"
    return human_duration(((now or dt.datetime.now(dt.UTC)) - then).total_seconds())


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _none(value: str) -> str:
    return value or "<none>"


def _selector(sel: Obj | None) -> str:
    if not sel:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{e['key']}")
        else:
            parts.append(f"{e['key']} {op.lower()} ({','.join(e.get('values') or [])})")
    return ",".join(parts) or "<none>"


def _containers_images(obj: Obj) -> tuple[str, str]:
    containers = ((_spec(obj).get("template") or {}).get("spec") or {}).get("containers") or []
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


# -- per-kind printers ----------------------------------------------------------------------------


def _pod_status(pod: Obj) -> str:
    """The STATUS cell: Terminating, Init:x/y, a container's waiting/terminated reason, or phase."""
    status = _status(pod)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    inits = _spec(pod).get("initContainers") or []
    init_statuses = status.get("initContainerStatuses") or []
    initializing = False
    for i, cs in enumerate(init_statuses):
        state = cs.get("state") or {}
        restartable = any(
            c.get("name") == cs.get("name") and c.get("restartPolicy") == "Always" for c in inits
        )
        if "terminated" in state and state["terminated"].get("exitCode", 0) == 0:
            continue
        if restartable and cs.get("started"):
            continue
        if "terminated" in state:
            t = state["terminated"]
            reason = "Init:" + (t.get("reason") or f"ExitCode:{t.get('exitCode')}")
        elif "waiting" in state and state["waiting"].get("reason") not in (
            None,
            "",
            "PodInitializing",
        ):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{len(inits)}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (state.get("terminated") or {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif "terminated" in state:
                t = state["terminated"]
                reason = (
                    f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode')}"
                )
            elif "running" in state and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or []
            )
            reason = "Running" if ready else "NotReady"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return str(reason)


def _pod_row(pod: Obj) -> Row:
    status = _status(pod)
    containers = _spec(pod).get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount", 0)) for cs in statuses)
    restartable_inits = {
        c.get("name")
        for c in _spec(pod).get("initContainers") or []
        if c.get("restartPolicy") == "Always"
    }
    total = len(containers) + len(restartable_inits)
    for cs in status.get("initContainerStatuses") or []:
        restarts += int(cs.get("restartCount", 0))
        if cs.get("name") in restartable_inits and cs.get("ready"):
            ready += 1
    gates = _spec(pod).get("readinessGates") or []
    return [
        _meta(pod).get("name", ""),
        f"{ready}/{total}",
        _pod_status(pod),
        str(restarts),
        age(_meta(pod).get("creationTimestamp")),
        _none(status.get("podIP", "")),
        _none(_spec(pod).get("nodeName", "")),
        _none(status.get("nominatedNodeName", "")),
        f"{len(gates)}/{len(gates)}" if gates else "<none>",
    ]


def _deployment_row(obj: Obj) -> Row:
    spec, status = _spec(obj), _status(obj)
    containers, images = _containers_images(obj)
    return [
        _meta(obj).get("name", ""),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        int(status.get("updatedReplicas", 0)),
        int(status.get("availableReplicas", 0)),
        age(_meta(obj).get("creationTimestamp")),
        containers,
        images,
        _selector(spec.get("selector")),
    ]


def _replicaset_row(obj: Obj) -> Row:
    spec, status = _spec(obj), _status(obj)
    containers, images = _containers_images(obj)
    return [
        _meta(obj).get("name", ""),
        int(spec.get("replicas", 0)),
        int(status.get("replicas", 0)),
        int(status.get("readyReplicas", 0)),
        age(_meta(obj).get("creationTimestamp")),
        containers,
        images,
        _selector(spec.get("selector")),
    ]


def _statefulset_row(obj: Obj) -> Row:
    spec, status = _spec(obj), _status(obj)
    containers, images = _containers_images(obj)
    return [
        _meta(obj).get("name", ""),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        age(_meta(obj).get("creationTimestamp")),
        containers,
        images,
    ]


def _daemonset_row(obj: Obj) -> Row:
    spec, status = _spec(obj), _status(obj)
    containers, images = _containers_images(obj)
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    return [
        _meta(obj).get("name", ""),
        int(status.get("desiredNumberScheduled", 0)),
        int(status.get("currentNumberScheduled", 0)),
        int(status.get("numberReady", 0)),
        int(status.get("updatedNumberScheduled", 0)),
        int(status.get("numberAvailable", 0)),
        _none(",".join(f"{k}={v}" for k, v in sorted(node_selector.items()))),
        age(_meta(obj).get("creationTimestamp")),
        containers,
        images,
        _selector(spec.get("selector")),
    ]


def _job_row(obj: Obj) -> Row:
    spec, status = _spec(obj), _status(obj)
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    state = (
        "Complete"
        if conditions.get("Complete") == "True"
        else "Failed"
        if conditions.get("Failed") == "True"
        else "Suspended"
        if spec.get("suspend")
        else "Running"
    )
    containers, images = _containers_images(obj)
    return [
        _meta(obj).get("name", ""),
        state,
        f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}",
        "",
        age(_meta(obj).get("creationTimestamp")),
        containers,
        images,
        _selector(spec.get("selector")),
    ]


def _service_ports(spec: Obj) -> str:
    parts = []
    for p in spec.get("ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        parts.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _service_row(obj: Obj) -> Row:
    spec = _spec(obj)
    kind = spec.get("type", "ClusterIP")
    ingress = (_status(obj).get("loadBalancer") or {}).get("ingress") or []
    external = [i.get("ip") or i.get("hostname") or "" for i in ingress] + list(
        spec.get("externalIPs") or []
    )
    if kind == "LoadBalancer":
        external_ip = ",".join(external) or "<pending>"
    elif kind == "ExternalName":
        external_ip = spec.get("externalName", "")
    else:
        external_ip = ",".join(external) or "<none>"
    return [
        _meta(obj).get("name", ""),
        kind,
        spec.get("clusterIP") or "<none>",
        external_ip,
        _service_ports(spec),
        age(_meta(obj).get("creationTimestamp")),
        _none(",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))),
    ]


def _endpoints_row(obj: Obj) -> Row:
    addrs = []
    for subset in obj.get("subsets") or []:
        ports = subset.get("ports") or [{}]
        for a in subset.get("addresses") or []:
            for p in ports:
                addrs.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else a.get("ip"))
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [_meta(obj).get("name", ""), shown or "<none>", age(_meta(obj).get("creationTimestamp"))]


def _namespace_row(obj: Obj) -> Row:
    return [
        _meta(obj).get("name", ""),
        _status(obj).get("phase", "Active"),
        age(_meta(obj).get("creationTimestamp")),
    ]


def _configmap_row(obj: Obj) -> Row:
    data = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [_meta(obj).get("name", ""), data, age(_meta(obj).get("creationTimestamp"))]


def _secret_row(obj: Obj) -> Row:
    return [
        _meta(obj).get("name", ""),
        obj.get("type", "Opaque"),
        len(obj.get("data") or {}),
        age(_meta(obj).get("creationTimestamp")),
    ]


def _serviceaccount_row(obj: Obj) -> Row:
    return [
        _meta(obj).get("name", ""),
        len(obj.get("secrets") or []),
        age(_meta(obj).get("creationTimestamp")),
    ]


def _webhook_row(obj: Obj) -> Row:
    return [
        _meta(obj).get("name", ""),
        len(obj.get("webhooks") or []),
        age(_meta(obj).get("creationTimestamp")),
    ]


def _event_row(obj: Obj) -> Row:
    involved = obj.get("involvedObject") or {}
    return [
        age(obj.get("lastTimestamp") or _meta(obj).get("creationTimestamp")),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        obj.get("message", ""),
    ]


def _name_age_row(obj: Obj) -> Row:
    return [_meta(obj).get("name", ""), age(_meta(obj).get("creationTimestamp"))]


_S, _I = "string", "integer"
_PRINTERS: dict[str, tuple[tuple[Column, ...], Callable[[Obj], Row]]] = {
    "Pod": (
        (
            ("Name", _S, 0),
            ("Ready", _S, 0),
            ("Status", _S, 0),
            ("Restarts", _S, 0),
            ("Age", _S, 0),
            ("IP", _S, 1),
            ("Node", _S, 1),
            ("Nominated Node", _S, 1),
            ("Readiness Gates", _S, 1),
        ),
        _pod_row,
    ),
    "Namespace": ((("Name", _S, 0), ("Status", _S, 0), ("Age", _S, 0)), _namespace_row),
    "Deployment": (
        (
            ("Name", _S, 0),
            ("Ready", _S, 0),
            ("Up-to-date", _I, 0),
            ("Available", _I, 0),
            ("Age", _S, 0),
            ("Containers", _S, 1),
            ("Images", _S, 1),
            ("Selector", _S, 1),
        ),
        _deployment_row,
    ),
    "ReplicaSet": (
        (
            ("Name", _S, 0),
            ("Desired", _I, 0),
            ("Current", _I, 0),
            ("Ready", _I, 0),
            ("Age", _S, 0),
            ("Containers", _S, 1),
            ("Images", _S, 1),
            ("Selector", _S, 1),
        ),
        _replicaset_row,
    ),
    "StatefulSet": (
        (
            ("Name", _S, 0),
            ("Ready", _S, 0),
            ("Age", _S, 0),
            ("Containers", _S, 1),
            ("Images", _S, 1),
        ),
        _statefulset_row,
    ),
    "DaemonSet": (
        (
            ("Name", _S, 0),
            ("Desired", _I, 0),
            ("Current", _I, 0),
            ("Ready", _I, 0),
            ("Up-to-date", _I, 0),
            ("Available", _I, 0),
            ("Node Selector", _S, 0),
            ("Age", _S, 0),
            ("Containers", _S, 1),
            ("Images", _S, 1),
            ("Selector", _S, 1),
        ),
        _daemonset_row,
    ),
    "Job": (
        (
            ("Name", _S, 0),
            ("Status", _S, 0),
            ("Completions", _S, 0),
            ("Duration", _S, 0),
            ("Age", _S, 0),
            ("Containers", _S, 1),
            ("Images", _S, 1),
            ("Selector", _S, 1),
        ),
        _job_row,
    ),
    "Service": (
        (
            ("Name", _S, 0),
            ("Type", _S, 0),
            ("Cluster-IP", _S, 0),
            ("External-IP", _S, 0),
            ("Port(s)", _S, 0),
            ("Age", _S, 0),
            ("Selector", _S, 1),
        ),
        _service_row,
    ),
    "Endpoints": ((("Name", _S, 0), ("Endpoints", _S, 0), ("Age", _S, 0)), _endpoints_row),
    "ConfigMap": ((("Name", _S, 0), ("Data", _I, 0), ("Age", _S, 0)), _configmap_row),
    "Secret": (
        (("Name", _S, 0), ("Type", _S, 0), ("Data", _I, 0), ("Age", _S, 0)),
        _secret_row,
    ),
    "ServiceAccount": ((("Name", _S, 0), ("Secrets", _I, 0), ("Age", _S, 0)), _serviceaccount_row),
    "MutatingWebhookConfiguration": (
        (("Name", _S, 0), ("Webhooks", _I, 0), ("Age", _S, 0)),
        _webhook_row,
    ),
    "ValidatingWebhookConfiguration": (
        (("Name", _S, 0), ("Webhooks", _I, 0), ("Age", _S, 0)),
        _webhook_row,
    ),
    "Event": (
        (
            ("Last Seen", _S, 0),
            ("Type", _S, 0),
            ("Reason", _S, 0),
            ("Object", _S, 0),
            ("Message", _S, 0),
        ),
        _event_row,
    ),
}


# -- CRD printer columns (a JSONPath subset: .a.b, [n], [?(@.k=="v")]) ----------------------------

_FILTER = re.compile(r'\[\?\(@\.([\w.-]+)\s*==\s*["\']([^"\']*)["\']\)\]')


def jsonpath_values(obj: Any, path: str) -> list[Any]:
    """Values at a CRD printer-column JSONPath; an empty list when the path is absent."""
    values = [obj]
    pos = 0
    path = path.strip().lstrip("$").strip("{}")
    while pos < len(path):
        m = _FILTER.match(path, pos)
        if m:
            key, want = m.groups()
            nxt = []
            for v in values:
                for item in v if isinstance(v, list) else []:
                    if isinstance(item, dict) and str(item.get(key)) == want:
                        nxt.append(item)
            values, pos = nxt, m.end()
            continue
        m = re.compile(r"\[(\d+|\*)\]").match(path, pos)
        if m:
            idx = m.group(1)
            nxt = []
            for v in values:
                if isinstance(v, list):
                    if idx == "*":
                        nxt.extend(v)
                    elif int(idx) < len(v):
                        nxt.append(v[int(idx)])
            values, pos = nxt, m.end()
            continue
        m = re.compile(r"\.([\w-]+)").match(path, pos)
        if m is None:
            return []
        key = m.group(1)
        nxt = []
        for v in values:
            if isinstance(v, list):
                nxt.extend(i[key] for i in v if isinstance(i, dict) and key in i)
            elif isinstance(v, dict) and key in v:
                nxt.append(v[key])
        values, pos = nxt, m.end()
    return values


def go_format(value: Any) -> str:
    """How the apiserver's JSONPath printer renders a value: scalars as Go prints them, maps and
    lists as compact JSON (client-go's ``jsonpath.PrintResults`` since Kubernetes 1.19, PR 89660;
    ``map[k:v]`` and ``[a b]`` before)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if value is None:
        return "<nil>"
    return str(value)


def _cell(values: list[Any], kind: str) -> Any:
    if not values:
        return None
    if kind == "date":
        return age(str(values[0]))
    if kind in ("integer", "number") and isinstance(values[0], int | float):
        return values[0]
    return " ".join(go_format(v) for v in values)


def columns_and_printer(kind: Kind) -> tuple[list[Obj], Callable[[Obj], Row]]:
    """Column definitions and the row function for ``kind``."""
    if kind.name in _PRINTERS:
        cols, row = _PRINTERS[kind.name]
    elif kind.printer_columns:
        cols = (
            ("Name", _S, 0),
            *(
                (name, "string" if typ == "date" else typ, priority)
                for name, typ, _, priority in kind.printer_columns
            ),
        )
        specs = kind.printer_columns

        def row(obj: Obj) -> Row:
            return [_meta(obj).get("name", "")] + [
                _cell(jsonpath_values(obj, path), typ) for _, typ, path, _ in specs
            ]

    else:
        cols, row = (("Name", _S, 0), ("Age", _S, 0)), _name_age_row
    definitions = [
        {
            "name": name,
            "type": typ,
            "format": "name" if name == "Name" else "",
            "description": f"{name} of the {kind.kind}",
            "priority": priority,
        }
        for name, typ, priority in cols
    ]
    return definitions, row


def table(
    kind: Kind,
    objects: list[Obj],
    *,
    resource_version: str,
    include_object: str = "Metadata",
    api_version: str = "meta.k8s.io/v1",
    continue_token: str = "",
    remaining: int | None = None,
) -> Obj:
    """A Table for ``objects``; ``include_object`` is None | Metadata | Object, as the query says."""
    definitions, printer = columns_and_printer(kind)
    rows = []
    for obj in objects:
        row: Obj = {"cells": printer(obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": _meta(obj),
            }
        rows.append(row)
    meta: Obj = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    if remaining:
        meta["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": meta,
        "columnDefinitions": definitions,
        "rows": rows,
    }
