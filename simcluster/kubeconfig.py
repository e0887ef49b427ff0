"""The kubeconfig a simcluster writes so kubectl and the kubernetes client find it."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

CONTEXT = "simcluster"


def render(url: str, *, namespace: str = "default", ca_file: Path | None = None) -> str:
    """Kubeconfig text: one cluster/user/context named ``simcluster``, namespace ``default``.

    Over plain http kubectl sends no credentials at all; the token is there so clients that
    insist on a user entry find one.
    """
    cluster: dict[str, object] = {"server": url}
    if ca_file is not None:
        cluster["certificate-authority"] = os.fspath(ca_file.resolve())
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [{"name": CONTEXT, "user": {"token": "simcluster"}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write(path: Path, url: str, *, ca_file: Path | None = None) -> Path:
    """Write the kubeconfig (mode 0600, parents created) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(url, ca_file=ca_file))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
