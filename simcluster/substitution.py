"""Flux's post-build variable substitution (``spec.postBuild`` of a Kustomization), pure.

kustomize-controller serialises each rendered object to YAML, replaces ``${var}``,
``${var:=default}`` and ``${var:-default}`` (bash-style, as drone/envsubst does; a variable
that is not set becomes the default or the empty string), and parses it again. Variables come
from ``substituteFrom`` ConfigMaps and Secrets in order, then the inline ``substitute`` map,
later ones winning; an object labelled or annotated
``kustomize.toolkit.fluxcd.io/substitute: disabled`` is left as it is.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import yaml

from core.errors import InputError

__all__ = ["DISABLED", "substitute", "variables"]

Obj = dict[str, Any]
DISABLED = "kustomize.toolkit.fluxcd.io/substitute"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[=-])([^}]*))?\}")


def variables(ks: Obj, read: Callable[[str, str, str], Obj | None]) -> dict[str, str]:
    """The variables a Kustomization substitutes; ``read(kind, namespace, name)`` finds the
    ConfigMaps and Secrets (a missing one that is not ``optional`` is an error, as in Flux)."""
    post = (ks.get("spec") or {}).get("postBuild") or {}
    namespace = str((ks.get("metadata") or {}).get("namespace") or "flux-system")
    out: dict[str, str] = {}
    for ref in post.get("substituteFrom") or []:
        kind, name = str(ref.get("kind", "ConfigMap")), str(ref.get("name"))
        found = read(kind, namespace, name)
        if found is None:
            if ref.get("optional"):
                continue
            raise InputError(
                f"substitute from '{kind}/{name}' error: {kind} '{namespace}/{name}' not found"
            )
        if kind == "Secret":
            for key, value in (found.get("data") or {}).items():
                out[str(key)] = base64.b64decode(str(value)).decode(errors="replace")
            out.update({str(k): str(v) for k, v in (found.get("stringData") or {}).items()})
        else:
            out.update({str(k): str(v) for k, v in (found.get("data") or {}).items()})
    out.update({str(k): str(v) for k, v in (post.get("substitute") or {}).items()})
    return out


def _disabled(doc: Obj) -> bool:
    meta = doc.get("metadata") or {}
    return "disabled" in (
        (meta.get("labels") or {}).get(DISABLED),
        (meta.get("annotations") or {}).get(DISABLED),
    )


def substitute(docs: list[Obj], values: dict[str, str]) -> list[Obj]:
    """The documents with their ``${...}`` variables replaced (see module doc)."""

    def replace(match: re.Match[str]) -> str:
        name, op, default = match.group(1), match.group(2), match.group(3) or ""
        if name in values and (values[name] != "" or op not in (":-", ":=")):
            return values[name]
        return default if op else ""

    out = []
    for doc in docs:
        if _disabled(doc):
            out.append(doc)
            continue
        text = yaml.safe_dump(doc, sort_keys=False)
        if "${" not in text:
            out.append(doc)
            continue
        loaded = yaml.safe_load(_VAR.sub(replace, text))
        out.append(loaded if isinstance(loaded, dict) else doc)
    return out
