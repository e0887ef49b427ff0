"""Parsed YAML of the repo's files, kept between commands, keyed by each file's content hash.

Every command indexes the whole repo, and between two commands only the files the last stage
edited have changed: parsing the other thousands again is most of a command's time on a big
mesh. So the index asks this cache first. An entry is found by a hash of the file's bytes, and
the whole cache is tied to the exact loader that filled it (a hash of its source, the PyYAML
and Python versions), so it can never answer for other text or other parsing rules.

The cache lives in the git directory (`.git/istio-canary/parse-cache`), never in the work tree:
git does not see it, and nothing is committed. Values are stored with :mod:`marshal`, which
holds the plain data YAML gives (no code runs when reading it back); documents it cannot hold
(timestamps) are simply parsed every time. A missing, unreadable, corrupt or foreign cache file
is treated as empty, and a cache that cannot be written is skipped: it only ever costs time.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from core.errors import GitError
from core.git import git

__all__ = ["CACHE_NAME", "ParseCache", "Parsed"]

CACHE_NAME = "istio-canary/parse-cache"
# Bump when the shape of an entry changes.
_FORMAT = "istio-canary parse cache 1"

# Per YAML document of a file: (line it starts on, its data).
Parsed = list[tuple[int, Any]]


def _fingerprint() -> str | None:
    """What the cached values depend on besides the text: the loader and its versions (None
    when the loader's source cannot be read, and then nothing is cached)."""
    import core.yamlload

    try:
        loader = Path(core.yamlload.__file__).read_bytes()
    except (OSError, TypeError):
        return None
    parts = (_FORMAT, yaml.__version__, f"{sys.version_info[:2]}", f"{marshal.version}")
    return hashlib.blake2b(loader + "\0".join(parts).encode(), digest_size=16).hexdigest()


def _valid(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(doc, tuple) and len(doc) == 2 and type(doc[0]) is int for doc in value
    )


class ParseCache:
    """Parsed documents by content hash; `save` keeps only what this run looked up."""

    def __init__(self, path: Path | None) -> None:
        self._fingerprint = _fingerprint()
        self.path = path if self._fingerprint is not None else None
        self.hits = 0
        self.misses = 0
        self._old: dict[bytes, bytes] = self._read() if self.path is not None else {}
        self._used: dict[bytes, bytes] = {}
        self._added = False

    @classmethod
    def in_git_dir(cls, root: Path) -> ParseCache:
        """The cache of the git repo holding `root`; a disabled one if git cannot say where."""
        try:
            where = git(
                "rev-parse", "--path-format=absolute", "--git-path", CACHE_NAME, cwd=root
            ).strip()
        except GitError:
            return cls(None)
        return cls(Path(where)) if where else cls(None)

    def _read(self) -> dict[bytes, bytes]:
        assert self.path is not None
        try:
            stored = marshal.loads(self.path.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            return {}
        if (
            not isinstance(stored, tuple)
            or len(stored) != 2
            or stored[0] != self._fingerprint
            or not isinstance(stored[1], dict)
        ):
            return {}
        entries: dict[bytes, bytes] = stored[1]
        return entries

    def parsed(self, raw: bytes, parse: Callable[[], Parsed]) -> Parsed:
        """The documents of a file with bytes `raw`: from the cache, else `parse()` (stored)."""
        key = hashlib.blake2b(raw, digest_size=16).digest()
        blob = self._old.get(key)
        if isinstance(blob, bytes):
            try:
                value = marshal.loads(blob)
            except (EOFError, ValueError, TypeError):
                value = None
            if _valid(value):
                self.hits += 1
                self._used[key] = blob
                return value
        self.misses += 1
        value = parse()
        try:
            self._used[key] = marshal.dumps(value)
            self._added = True
        except ValueError:  # a value marshal cannot hold (a timestamp): parse it every time
            pass
        return value

    def save(self) -> None:
        """Write the entries of this run (atomically), if they differ from what was read."""
        if self.path is None or (not self._added and self._used.keys() == self._old.keys()):
            return
        data = marshal.dumps((self._fingerprint, self._used))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".parse-cache.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass  # a read-only git directory: the next run parses again
