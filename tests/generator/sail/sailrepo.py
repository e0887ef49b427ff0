"""A committed copy of examples/sail-argocd, and variants of it, for the Sail flavour's tests."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from generator.resources import sail_example_dir
from tests.generator.helpers import git, head_message, run

EXAMPLE = sail_example_dir()


def sail_repo(root: Path, edits: Mapping[str, tuple[str, str] | str | None] | None = None) -> Path:
    """The example in a new git repo; `edits` maps a file to (old, new) text, new text, or None
    (deleted), applied before the first commit."""
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True)
    for rel, change in (edits or {}).items():
        path = root / rel
        if change is None:
            path.unlink()
        elif isinstance(change, tuple):
            text = path.read_text()
            assert change[0] in text, f"{rel} has no {change[0]!r}"
            path.write_text(text.replace(change[0], change[1]))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(change)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "examples/sail-argocd")
    return root


def run_all(repo: Path) -> list[str]:
    """Apply every stage with `next`; the stage names in commit order."""
    names = []
    while True:
        result = run("next", "--repo", str(repo))
        if result.exit_code != 0:
            assert "nothing to do" in result.stderr, result.stderr
            return names
        trailer = [ln for ln in head_message(repo).splitlines() if ln.startswith("Istio-Canary")]
        names.append(trailer[-1].split()[-1])


# The setup the Sail docs suggest: RevisionBased, a tag `default` that follows the Istio, and
# namespaces labelled istio-injection=enabled, which the tag serves; an upgrade is then a version
# bump and restarts.
DEFAULT_TAG = {
    "mesh/istio.yaml": ("type: InPlace", "type: RevisionBased"),
    "mesh/tag.yaml": ("name: prod", "name: default"),
    "apps/namespaces.yaml": (
        "istio.io/rev: prod  # the tag: follows the Istio",
        "istio-injection: enabled",
    ),
}

# The tag pinned to the running IstioRevision instead of following the Istio: cleanup has to
# point it at the new revision, or the old one stays in use for ever.
PINNED_TAG = {
    "mesh/tag.yaml": (
        "    kind: Istio\n    name: default",
        "    kind: IstioRevision\n    name: default",
    )
}
VARIANTS = {"example": None, "default-tag": DEFAULT_TAG, "pinned-tag": PINNED_TAG}
