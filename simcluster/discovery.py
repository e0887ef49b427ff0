"""Discovery documents: what kubectl and the kubernetes client learn about served kinds.

Pure functions of ``kinds.KINDS``: ``/version`` (1.32, so the kubectl dispatcher runs its
built-in 1.32), aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) and the legacy
APIVersions/APIGroupList/APIResourceList forms.
"""

from __future__ import annotations

from typing import Any

from simcluster.kinds import KINDS, Kind

Obj = dict[str, Any]

VERSION_INFO: Obj = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "0000000000000000000000000000000000000000",  # not a real build
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:02:27Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}
DISCOVERY_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
DISCOVERY_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def media_params(accept: str) -> list[dict[str, str]]:
    """Parse an Accept header into [{"type": "application/json", "as": "Table", ...}, ...]."""
    out = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";") if f.strip()]
        if not fields:
            continue
        entry = {"type": fields[0].lower()}
        for param in fields[1:]:
            key, _, value = param.partition("=")
            entry[key.strip().lower()] = value.strip()
        out.append(entry)
    return out


def wants(accept: str, group: str, as_kind: str) -> list[str]:
    """The versions of ``as_kind`` (in group ``group``) the Accept header lists, in its order."""
    return [
        m.get("v", "")
        for m in media_params(accept)
        if m.get("as") == as_kind
        and m.get("g") == group
        and m["type"] in ("application/json", "*/*")
    ]


def served_groups() -> list[tuple[str, list[str]]]:
    """(group, versions) in first-appearance order; the core group is ""."""
    seen: dict[str, list[str]] = {}
    for k in KINDS:
        versions = seen.setdefault(k.group, [])
        if k.version not in versions:
            versions.append(k.version)
    return list(seen.items())


def sub_kind(kind: Kind, sub: str) -> Obj:
    special = {
        "scale": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
        "exec": {"group": "", "version": "v1", "kind": "PodExecOptions"},
        "attach": {"group": "", "version": "v1", "kind": "PodAttachOptions"},
        "portforward": {"group": "", "version": "v1", "kind": "PodPortForwardOptions"},
        "proxy": {"group": "", "version": "v1", "kind": f"{kind.kind}ProxyOptions"},
        "eviction": {"group": "policy", "version": "v1", "kind": "Eviction"},
        "binding": {"group": "", "version": "v1", "kind": "Binding"},
    }
    return special.get(sub, {"group": kind.group, "version": kind.version, "kind": kind.kind})


def sub_verbs(sub: str) -> list[str]:
    return {
        "status": ["get", "patch", "update"],
        "scale": ["get", "patch", "update"],
        "exec": ["create", "get"],
        "attach": ["create", "get"],
        "portforward": ["create", "get"],
        "log": ["get"],
        "eviction": ["create"],
        "binding": ["create"],
        "finalize": ["update"],
    }.get(sub, ["get"])


def aggregated_group(group: str, versions: list[str]) -> Obj:
    out_versions = []
    for version in versions:
        resources = []
        for k in KINDS:
            if k.group != group or k.version != version:
                continue
            entry: Obj = {
                "resource": k.plural,
                "responseKind": {"group": k.group, "version": k.version, "kind": k.kind},
                "scope": "Namespaced" if k.namespaced else "Cluster",
                "singularResource": k.singular,
                "verbs": sorted(k.verbs),
            }
            if k.short_names:
                entry["shortNames"] = list(k.short_names)
            if k.categories:
                entry["categories"] = list(k.categories)
            if k.subresources:
                entry["subresources"] = [
                    {"subresource": s, "responseKind": sub_kind(k, s), "verbs": sub_verbs(s)}
                    for s in k.subresources
                ]
            resources.append(entry)
        out_versions.append({"version": version, "resources": resources, "freshness": "Current"})
    return {"metadata": {"name": group, "creationTimestamp": None}, "versions": out_versions}


def resource_list(group: str, version: str) -> Obj | None:
    resources = []
    for k in KINDS:
        if k.group != group or k.version != version:
            continue
        entry: Obj = {
            "name": k.plural,
            "singularName": k.singular,
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": list(k.verbs),
        }
        if k.short_names:
            entry["shortNames"] = list(k.short_names)
        if k.categories:
            entry["categories"] = list(k.categories)
        resources.append(entry)
        for sub in k.subresources:
            sk = sub_kind(k, sub)
            sub_entry: Obj = {
                "name": f"{k.plural}/{sub}",
                "singularName": "",
                "namespaced": k.namespaced,
                "kind": sk["kind"],
                "verbs": sub_verbs(sub),
            }
            if sk["group"] != k.group:
                sub_entry["group"], sub_entry["version"] = sk["group"], sk["version"]
            resources.append(sub_entry)
    if not resources:
        return None
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def document(accept: str, host: str, *, core: bool) -> tuple[Obj, str]:
    """The ``/api`` (core) or ``/apis`` document and its Content-Type, negotiated on Accept.

    Aggregated v2 or v2beta1 when the Accept header lists them (kubectl 1.27-1.29 know only
    v2beta1), else the legacy APIVersions/APIGroupList.
    """
    versions = wants(accept, "apidiscovery.k8s.io", "APIGroupDiscoveryList")
    chosen = next((v for v in versions if v in ("v2", "v2beta1")), None)
    groups = [g for g in served_groups() if (g[0] == "") == core]
    if chosen is not None:
        body = {
            "kind": "APIGroupDiscoveryList",
            "apiVersion": f"apidiscovery.k8s.io/{chosen}",
            "metadata": {},
            "items": [aggregated_group(g, vs) for g, vs in groups],
        }
        return body, DISCOVERY_V2 if chosen == "v2" else DISCOVERY_V2BETA1
    cidrs = [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]
    if core:
        legacy = {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": cidrs}
        return legacy, "application/json"
    return (
        {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                    "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                }
                for g, vs in groups
            ],
        },
        "application/json",
    )
