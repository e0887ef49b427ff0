"""Credentials for git's own talk to the remote, kept out of config, URLs, `ps` and errors."""

from __future__ import annotations

import base64
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from generator.pullrequest.gitcmd import run_git

__all__ = ["RemoteAuth", "token_auth"]


@dataclass(frozen=True)
class RemoteAuth:
    """Extra environment for git's own talk to the remote, and the secrets to keep out of errors."""

    env: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()

    def environ(self) -> dict[str, str]:
        """The process environment with our additions; git must fail, not prompt, without auth."""
        return {**os.environ, "GIT_TERMINAL_PROMPT": "0", **self.env}


# The user name each forge expects beside a token in HTTP basic auth.
_BASIC_USER = {"github": "x-access-token", "gitlab": "oauth2"}


def token_auth(repo: Path, remote: str, forge: str, token: str) -> RemoteAuth:
    """Let git push over HTTPS with the forge token, without writing it to config or a URL.

    The header goes in through `GIT_CONFIG_COUNT` variables (git >= 2.31), scoped to the remote's
    origin, so it never shows up in `ps`, the repo config or a log line. SSH remotes and remotes
    that already carry an `http.*.extraheader` (actions/checkout's persisted credentials) are left
    alone: git would send both headers.
    """
    url = run_git(repo, "remote", "get-url", remote).strip()
    parts = urllib.parse.urlsplit(url)
    configured = run_git(repo, "config", "--get-regexp", r"^http\..*extraheader$", check=False)
    if parts.scheme not in ("http", "https") or not parts.hostname or configured.strip():
        return RemoteAuth(secrets=(token,))
    port = f":{parts.port}" if parts.port else ""
    credentials = base64.b64encode(f"{_BASIC_USER[forge]}:{token}".encode()).decode()
    index = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    env = {
        "GIT_CONFIG_COUNT": str(index + 1),
        f"GIT_CONFIG_KEY_{index}": f"http.{parts.scheme}://{parts.hostname}{port}/.extraheader",
        f"GIT_CONFIG_VALUE_{index}": f"Authorization: Basic {credentials}",
    }
    return RemoteAuth(env, (token, credentials))
