"""Shared fixtures: a fixed git identity so real `git` runs the same on every machine."""

from __future__ import annotations

import os

import pytest

GIT_ENV = {
    "GIT_AUTHOR_NAME": "istio-canary tests",
    "GIT_AUTHOR_EMAIL": "tests@istio-canary.invalid",
    "GIT_COMMITTER_NAME": "istio-canary tests",
    "GIT_COMMITTER_EMAIL": "tests@istio-canary.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def _git_identity(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Give git a fixed author and an empty global config, whatever the machine has."""
    home = tmp_path_factory.mktemp("home")
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.fspath(home / ".gitconfig"))
    monkeypatch.setenv("KUBECACHEDIR", os.fspath(home / "kubecache"))
