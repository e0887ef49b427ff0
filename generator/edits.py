"""Planned file changes: stages describe edits, :class:`Editor` turns them into FileEdits.

A :class:`FileEdit` is plain data (path, action, before, after): `--dry-run` prints it as a
unified diff and :mod:`generator.apply` writes it; nothing here touches the disk except reading.
"""

from __future__ import annotations

import difflib
import os
import posixpath
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from core.errors import ConflictError, InputError
from generator.discovery import refuse_shared_bases
from generator.index import KUSTOMIZATION_NAMES, Document, RepoIndex
from generator.yamledit import Op, append_item, apply_ops, delete_document, remove_items

__all__ = ["Editor", "FileEdit", "render_diff"]

Action = Literal["create", "modify", "delete"]


@dataclass(frozen=True)
class FileEdit:
    """One file's change; `before`/`after` are full texts (None for a missing file)."""

    path: str
    action: Action
    before: str | None
    after: str | None


def render_diff(edits: Iterable[FileEdit]) -> str:
    """`git diff`-style unified diff of the edits (what `--dry-run` prints)."""
    out: list[str] = []
    for e in edits:
        a = f"a/{e.path}" if e.before is not None else "/dev/null"
        b = f"b/{e.path}" if e.after is not None else "/dev/null"
        out.append(f"diff --git a/{e.path} b/{e.path}\n")
        out.extend(
            difflib.unified_diff(
                (e.before or "").splitlines(keepends=True),
                (e.after or "").splitlines(keepends=True),
                a,
                b,
            )
        )
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n\\ No newline at end of file\n"
    return "".join(out)


class Editor:
    """Collects a stage's intended changes per file, then renders and verifies them at once."""

    def __init__(self, index: RepoIndex) -> None:
        self.index = index
        self.ops: dict[str, list[Op]] = defaultdict(list)
        self.created: dict[str, str] = {}
        self.deleted_docs: dict[str, set[int]] = defaultdict(set)
        self.replaced: dict[str, str] = {}

    def edit(self, doc: Document, *ops: Op) -> None:
        """Queue operations on `doc` (built with `doc.pos`)."""
        self.ops[doc.file].extend(ops)

    def create(self, path: str, text: str) -> None:
        """A new file; it must not exist yet."""
        if path in self.created or (self.index.root / path).exists():
            raise ConflictError(f"{path}: already exists; the stage would overwrite it")
        folder = posixpath.dirname(path)
        for name in KUSTOMIZATION_NAMES:
            beside = posixpath.join(folder, name) if folder else name
            if beside in self.index.broken:
                # the new file could not be listed there, so GitOps would never apply it
                raise InputError(f"{self.index.broken[beside]} (cannot list {path} in it)")
        self.created[path] = text

    def write(self, path: str, text: str) -> None:
        """Replace a whole file we own (the plan file)."""
        self.replaced[path] = text

    def delete(self, doc: Document) -> None:
        """Delete `doc`; the file goes when it has no other document."""
        self.deleted_docs[doc.file].add(doc.pos)
        self.ops[doc.file].append(delete_document(doc.pos))

    def add_resource(self, neighbour: str, path: str) -> None:
        """List new file `path` in the kustomization that lists `neighbour`, if there is one."""
        k = self.index.kustomization_listing(neighbour)
        if k is None:
            return
        docs = self.index.files.get(k.file, [])
        if not docs:
            return
        rel = posixpath.relpath(path, "." if k.dir == "." else k.dir)
        self.ops[k.file].append(append_item(docs[0].pos, ("resources",), rel))

    def remove_resource(self, path: str) -> None:
        """Unlist a deleted file from every kustomization that lists it."""
        for k in self.index.includers(path):
            docs = self.index.files.get(k.file, [])
            rel = posixpath.relpath(path, "." if k.dir == "." else k.dir)
            for key in ("resources", "bases"):
                if docs and rel in (docs[0].get(key) or []):
                    self.ops[k.file].append(remove_items(docs[0].pos, (key,), [rel]))

    def finish(self) -> list[FileEdit]:
        """Render every edit; refuses broken files, shared bases and unintended changes."""
        edits: list[FileEdit] = []
        touched = [p for p in self.ops if p not in self.created]
        for path in touched:
            if path in self.index.broken:
                raise InputError(self.index.broken[path])
            full = self.index.root / path
            if full.is_symlink():
                # the rename would replace the link with a file and leave its target as it was
                raise InputError(
                    f"{path}: a symlink (to {os.readlink(full)}); the generator does not edit "
                    "through links: replace it with the real file"
                )
        refuse_shared_bases(self.index, touched)
        gone = [
            p
            for p, pos in self.deleted_docs.items()
            if len(pos) == len(self.index.files.get(p, [])) and p not in self.created
        ]
        for path in gone:
            self.remove_resource(path)
        for path in sorted(self.ops):
            ops: Sequence[Op] = self.ops[path]
            before = self.index.read(path)
            total = len(self.index.files.get(path, []))
            if total and len(self.deleted_docs.get(path, ())) == total:
                edits.append(FileEdit(path, "delete", before, None))
                continue
            parsed = [d.data for d in self.index.files[path]] if path in self.index.files else None
            after = apply_ops(before, ops, path, parsed)
            if after != before:
                edits.append(FileEdit(path, "modify", before, after))
        for path, text in sorted(self.created.items()):
            edits.append(FileEdit(path, "create", None, text))
        for path, text in sorted(self.replaced.items()):
            before_text = self.index.read(path) if (self.index.root / path).exists() else None
            if before_text != text:
                edits.append(
                    FileEdit(path, "create" if before_text is None else "modify", before_text, text)
                )
        return edits
