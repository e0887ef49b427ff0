"""Locate `templates/` and `example-repo/` both in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_dir", "example_repo_dir", "helm_example_dir", "sail_example_dir", "templates_dir"]

_HERE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The directory `name` from the checkout (editable install) or the wheel's `_data`."""
    for candidate in (_HERE.parent / name, _HERE / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"istio-canary data directory {name!r} is missing from the install")


def templates_dir() -> Path:
    """Jinja2 templates for CRs, commit messages and PR bodies."""
    return data_dir("templates")


def example_repo_dir() -> Path:
    """The seed's demo as a GitOps repo."""
    return data_dir("example-repo")


def helm_example_dir() -> Path:
    """The Helm flavour's demo: upstream Istio from its charts, as an Argo CD repo."""
    return data_dir("examples") / "helm-argocd"


def sail_example_dir() -> Path:
    """The Sail flavour's demo: an Istio run by the Sail operator, as an Argo CD repo."""
    return data_dir("examples") / "sail-argocd"
