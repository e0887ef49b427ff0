"""Test helpers: small file trees in real git repos, and running the CLI in-process."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from generator.cli import main
from generator.resources import example_repo_dir


def git(root: Path, *args: str) -> str:
    """Run real git in `root` and return its stdout."""
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


def build_tree(root: Path, files: Mapping[str, str], commit: bool = True) -> Path:
    """Write `files` (dedented; a leading newline is dropped) and commit them in a new repo."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        body = textwrap.dedent(text).lstrip("\n")
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(body)
    if commit:
        if not (root / ".git").exists():
            git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "start")
    return root


def example_repo(root: Path) -> Path:
    """A committed copy of example-repo/."""
    shutil.copytree(example_repo_dir(), root, dirs_exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "example-repo")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes under `root` except .git (to prove nothing changed)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def run(*args: str) -> Result:
    """Run `istio-canary ARGS` in-process (stdout and stderr kept apart)."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def head_message(root: Path) -> str:
    return git(root, "log", "-1", "--format=%B")


def changed_files(root: Path, rev: str = "HEAD") -> dict[str, str]:
    """{path: status letter} of commit `rev`."""
    out = git(root, "show", "--name-status", "--format=", rev)
    return {line.split("\t")[-1]: line.split("\t")[0] for line in out.splitlines() if line}
