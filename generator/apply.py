"""The only module that writes repo files: all or nothing, by temp file + rename.

Every new text is first written to a temp file beside its target; only then are the temps renamed
over their targets (and deleted files moved aside). If anything fails part-way, the files already
replaced are put back from the texts we started from, so an interrupted run leaves the tree as it
was. The rename is a narrow seam (:class:`Renamer`) so tests can make the second one fail.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import ConflictError, InputError
from generator.edits import FileEdit

__all__ = ["Renamer", "restore", "write_edits"]

Renamer = Callable[[str, str], None]


def _temp_beside(target: Path, text: str) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".istio-canary", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    if target.exists():
        os.chmod(tmp, target.stat().st_mode & 0o777)
    else:
        os.chmod(tmp, 0o644)
    return tmp


def restore(root: Path, edits: Sequence[FileEdit]) -> None:
    """Put every file of `edits` back to its `before` text (or remove it if it was new)."""
    for e in edits:
        path = root / e.path
        if e.before is None:
            if path.exists():
                path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write(e.before)


def write_edits(root: Path, edits: Sequence[FileEdit], rename: Renamer = os.replace) -> None:
    """Write `edits` under `root` atomically as a set; on failure the tree is as before."""
    for e in edits:
        current = root / e.path
        exists = current.exists()
        if e.before is None and exists:
            raise ConflictError(f"{e.path}: appeared while planning; nothing written")
        if e.before is not None:
            with open(current, encoding="utf-8", newline="") as fh:
                if fh.read() != e.before:
                    raise ConflictError(f"{e.path}: changed while planning; nothing written")
    temps: list[tuple[FileEdit, str]] = []
    done: list[FileEdit] = []
    trash: list[str] = []
    try:
        for e in edits:
            if e.after is not None:
                temps.append((e, _temp_beside(root / e.path, e.after)))
        for e, tmp in temps:
            rename(tmp, os.fspath(root / e.path))
            done.append(e)
        for e in edits:
            if e.after is None:
                target = root / e.path
                aside = f"{target.parent}/.{target.name}.deleted.istio-canary"
                rename(os.fspath(target), aside)
                trash.append(aside)
                done.append(e)
    except BaseException as err:  # OSError, or Ctrl-C part-way through the renames
        restore(root, done)
        for _, tmp in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
        for aside in trash:
            if os.path.exists(aside):
                os.unlink(aside)
        if isinstance(err, OSError):
            raise InputError(f"could not write the stage ({err}); the tree is as before") from err
        raise
    for aside in trash:
        os.unlink(aside)
    for e in edits:
        if e.after is None:
            _prune_empty_dirs(root, (root / e.path).parent)


def _prune_empty_dirs(root: Path, d: Path) -> None:
    while d != root and d.is_dir() and not any(d.iterdir()):
        d.rmdir()
        d = d.parent
