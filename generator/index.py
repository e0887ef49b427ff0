"""The repo index: every YAML document of the GitOps repo, parsed once with libyaml.

Walks the tree, skips what must not be parsed or edited (Helm templates, SOPS files, non-YAML,
hidden directories) with a note for `--verbose`, and keeps per document its data and the line it
starts on. Node trees are not kept (they cost ten times the data); the files a stage edits are
composed again by :mod:`generator.yamledit`, which is cheap for the few files involved. Given a
:class:`~generator.parsecache.ParseCache`, files whose bytes were parsed by an earlier command
are not parsed again.

On top of the documents it knows the kustomize graph (which `kustomization.yaml` lists which file,
which bases are shared by several overlays, which files are patches rather than resources) and the
GitOps objects (Argo CD Applications, Flux Kustomizations and HelmReleases) that apply the repo.
"""

from __future__ import annotations

import gc
import os
import posixpath
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import InputError
from core.plan import PLAN_PATH
from generator.parsecache import ParseCache, Parsed
from generator.yamledit import Loader

__all__ = ["Document", "Kustomization", "RepoIndex", "build_index", "no_gc"]

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_SOPS = re.compile(r"^sops:", re.M)


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: where it lives (file, position, line) and what it says."""

    file: str
    pos: int
    line: int
    data: Any
    kind: str = ""
    api_version: str = ""
    name: str = ""

    @staticmethod
    def of(file: str, pos: int, line: int, data: Any) -> Document:
        """A document with its identity fields read once (they are looked up a lot)."""
        if not isinstance(data, dict):
            return Document(file, pos, line, data)
        meta = data.get("metadata")
        name = meta.get("name", "") if isinstance(meta, dict) else ""
        return Document(
            file,
            pos,
            line,
            data,
            str(data.get("kind") or ""),
            str(data.get("apiVersion") or ""),
            str(name or ""),
        )

    @property
    def group(self) -> str:
        """API group (`apps` of `apps/v1`, empty for core)."""
        return self.api_version.rpartition("/")[0]

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.data.get("metadata") if isinstance(self.data, dict) else None
        return meta if isinstance(meta, dict) else {}

    @property
    def where(self) -> str:
        """`file:line` for messages."""
        return f"{self.file}:{self.line}"

    def get(self, *path: str | int, default: Any = None) -> Any:
        """Value at `path`, or `default` when any step is missing or of the wrong type."""
        node: Any = self.data
        for step in path:
            if isinstance(node, dict) and isinstance(step, str):
                node = node.get(step)
            elif isinstance(node, list) and isinstance(step, int) and step < len(node):
                node = node[step]
            else:
                return default
            if node is None:
                return default
        return node


@dataclass
class Kustomization:
    """A `kustomization.yaml`: what it includes, and its `namespace` default."""

    dir: str
    file: str
    resources: list[str] = field(default_factory=list)
    patches: list[str] = field(default_factory=list)
    namespace: str = ""


@dataclass
class RepoIndex:
    """All documents of the repo plus the kustomize graph; paths are repo-relative POSIX."""

    root: Path
    files: dict[str, list[Document]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kustomizations: dict[str, Kustomization] = field(default_factory=dict)
    _by_kind: dict[str, list[Document]] | None = field(default=None, repr=False)
    _by_name: dict[tuple[str, str], list[Document]] | None = field(default=None, repr=False)
    _included_by: dict[str, list[Kustomization]] | None = field(default=None, repr=False)
    _patches: set[str] | None = field(default=None, repr=False)

    def documents(self) -> Iterator[Document]:
        for docs in self.files.values():
            yield from docs

    def of_kind(self, kind: str, group: str | None = None) -> list[Document]:
        if self._by_kind is None:
            self._by_kind = {}
            for d in self.documents():
                self._by_kind.setdefault(d.kind, []).append(d)
        docs = self._by_kind.get(kind, [])
        return [d for d in docs if group is None or d.group == group]

    def named(self, kind: str, name: str) -> list[Document]:
        """Documents of `kind` named `name` (any group, any namespace)."""
        if self._by_name is None:
            self._by_name = {}
            for d in self.documents():
                self._by_name.setdefault((d.kind, d.name), []).append(d)
        return self._by_name.get((kind, name), [])

    # ----- kustomize graph ---------------------------------------------------------------------

    def includers(self, path: str) -> list[Kustomization]:
        """Kustomizations that list `path` (a file or a directory) as a resource."""
        if self._included_by is None:
            self._included_by = {}
            for k in self.kustomizations.values():
                for r in k.resources:
                    self._included_by.setdefault(r, []).append(k)
        return self._included_by.get(path, [])

    def patch_files(self) -> set[str]:
        if self._patches is None:
            self._patches = {p for k in self.kustomizations.values() for p in k.patches}
        return self._patches

    def overlays_of(self, path: str) -> list[str]:
        """Root kustomization directories whose build includes `path` (transitively)."""
        roots: set[str] = set()
        seen: set[str] = set()
        todo = [path]
        while todo:
            cur = todo.pop()
            if cur in seen:
                continue
            seen.add(cur)
            parents = self.includers(cur)
            if not parents and cur != path:
                roots.add(cur)
            for k in parents:
                todo.append(k.dir)
        return sorted(roots)

    def namespace_default(self, path: str) -> str:
        """The `namespace:` a kustomization that includes `path` sets, if any."""
        todo = [path]
        seen: set[str] = set()
        while todo:
            cur = todo.pop(0)
            if cur in seen:
                continue
            seen.add(cur)
            for k in self.includers(cur):
                if k.namespace:
                    return k.namespace
                todo.append(k.dir)
        return ""

    def kustomization_listing(self, path: str) -> Kustomization | None:
        """The kustomization in `path`'s directory (or above) that lists `path`."""
        for k in self.includers(path):
            return k
        return None

    def namespace_of(self, doc: Document) -> str:
        """Effective namespace: metadata, else the kustomization's, else the Argo CD app's."""
        ns = doc.metadata.get("namespace")
        if ns:
            return str(ns)
        found = self.namespace_default(doc.file)
        if found:
            return found
        best = ""
        best_len = -1
        for app in self.of_kind("Application", "argoproj.io"):
            path = str(app.get("spec", "source", "path", default="")).strip("/")
            dest = str(app.get("spec", "destination", "namespace", default=""))
            if path and dest and doc.file.startswith(path + "/") and len(path) > best_len:
                best, best_len = dest, len(path)
        return best

    def read(self, path: str) -> str:
        """The current text of a repo file (newlines untouched)."""
        with open(self.root / path, encoding="utf-8", newline="") as fh:
            return fh.read()


def _is_yaml(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or name == "Kustomization"


def _walk(root: Path) -> Iterator[str]:
    """Repo-relative POSIX paths of the files under `root`, as `os.walk` finds them (symlinked
    directories listed but not entered), sorted per directory, hidden directories left out."""
    yield from _walk_dir(os.fspath(root), "")


def _walk_dir(full: str, rel: str) -> Iterator[str]:
    # os.scandir directly: a repo has a directory per namespace, and os.walk plus a relpath per
    # directory cost a tenth of parsing them.
    try:
        with os.scandir(full) as it:
            entries = list(it)
    except OSError:
        return
    files: list[str] = []
    dirs: list[os.DirEntry[str]] = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if not is_dir:
            files.append(entry.name)
        elif not entry.name.startswith("."):
            dirs.append(entry)
    prefix = f"{rel}/" if rel else ""
    for name in sorted(files):
        yield prefix + name
    for entry in sorted(dirs, key=lambda e: e.name):
        if not entry.is_symlink():
            yield from _walk_dir(entry.path, prefix + entry.name)


def _read_text(full: str, path: str) -> tuple[bytes, str]:
    """A file's bytes and text; bytes that are not UTF-8 are an InputError naming file:line and
    the byte (kubectl, Argo CD and Flux all read manifests as UTF-8, so such a file is broken,
    not skipped)."""
    with open(full, "rb") as fh:
        raw = fh.read()
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 (byte 0x{raw[err.start]:02x})") from err


def _load(text: str) -> Parsed:
    """Each document's first line and data."""
    loader = Loader(text)
    docs: Parsed = []
    try:
        while loader.check_node():
            node = loader.get_node()
            docs.append((node.start_mark.line + 1, loader.construct_document(node)))
    finally:
        loader.dispose()
    return docs


def _parse(raw: bytes, text: str, path: str, cache: ParseCache | None) -> list[Document]:
    parsed = _load(text) if cache is None else cache.parsed(raw, lambda: _load(text))
    return [Document.of(path, pos, line, data) for pos, (line, data) in enumerate(parsed)]


def _kustomization(path: str, data: Any) -> Kustomization:
    base = posixpath.dirname(path)

    def norm(entry: Any) -> str | None:
        if not isinstance(entry, str) or "://" in entry or entry.startswith(("github.com", "git@")):
            return None
        joined = posixpath.normpath(posixpath.join(base, entry)) if base else entry
        return None if joined.startswith("..") else posixpath.normpath(joined)

    k = Kustomization(dir=base or ".", file=path)
    if not isinstance(data, dict):
        return k
    for key in ("resources", "bases", "components"):
        for entry in data.get(key) or ():
            if (p := norm(entry)) is not None:
                k.resources.append(p)
    for entry in data.get("patchesStrategicMerge") or ():
        if (p := norm(entry)) is not None:
            k.patches.append(p)
    for key in ("patches", "patchesJson6902"):
        for entry in data.get(key) or ():
            if isinstance(entry, dict) and (p := norm(entry.get("path"))) is not None:
                k.patches.append(p)
    k.namespace = str(data.get("namespace") or "")
    return k


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic GC while building big acyclic trees of parsed YAML.

    Everything the index keeps stays alive, so each collection re-walks a growing heap for
    nothing: on a 30 MB repo that is most of the parse time. Reference counting still frees.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def build_index(root: Path, cache: ParseCache | None = None) -> RepoIndex:
    """Parse every YAML file under `root` once; unparseable files are recorded, not fatal here.

    With a `cache`, files parsed by an earlier run are read from it, and it is saved after.
    """
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    with no_gc():
        index = _build(root, cache)
    if cache is not None:
        cache.save()
    return index


def _build(root: Path, cache: ParseCache | None) -> RepoIndex:
    index = RepoIndex(root=root)
    top = os.fspath(root)
    for path in _walk(root):
        if path == PLAN_PATH:
            continue
        if not _is_yaml(posixpath.basename(path)):
            index.notes.append(f"skipped {path}: not YAML")
            continue
        try:
            raw, text = _read_text(os.path.join(top, path), path)
        except OSError as err:
            index.notes.append(f"skipped {path}: unreadable ({err.strerror or err})")
            continue
        except InputError as err:
            index.broken[path] = str(err)
            index.notes.append(f"skipped {err}")
            continue
        if "{{" in text:
            index.notes.append(f"skipped {path}: Helm/Go template (contains '{{{{')")
            continue
        if _SOPS.search(text):
            index.notes.append(f"skipped {path}: SOPS-encrypted (top-level 'sops:')")
            continue
        try:
            docs = _parse(raw, text, path, cache)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).split("\n")[0]
            index.broken[path] = f"{path}{line}: invalid YAML ({problem})"
            index.notes.append(f"skipped {index.broken[path]}")
            continue
        base = posixpath.basename(path)
        if base in KUSTOMIZATION_NAMES and not (docs and isinstance(docs[0].data, dict)):
            index.broken[path] = (
                f"{path}:1: not a kustomization (empty, or not a mapping); "
                "kustomize cannot build this directory"
            )
            index.notes.append(f"skipped {index.broken[path]}")
            continue
        index.files[path] = docs
        if (
            (
                base in KUSTOMIZATION_NAMES
                or any(
                    d.kind == "Kustomization" and d.group == "kustomize.config.k8s.io" for d in docs
                )
            )
            and base in KUSTOMIZATION_NAMES
            and docs
        ):
            k = _kustomization(path, docs[0].data)
            index.kustomizations[k.dir] = k
    return index
