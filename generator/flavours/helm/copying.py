"""The text of one document of a multi-document file, to copy a release beside itself.

A new istiod release is the old one's document with a few values changed, so it keeps the old
one's form, key order and comments: its text is cut out of the old file here and edited with the
same verified splices as any other edit (:func:`generator.yamledit.apply_ops`).
"""

from __future__ import annotations

import re

from core.errors import ConflictError
from generator.yamledit import compose_documents

__all__ = ["document_text"]

_SEPARATOR = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.M)


def document_text(text: str, pos: int, where: str) -> str:
    """Document `pos` of `text` (its comments included, its `---` line not), ending in a newline."""
    body = text.removeprefix("\ufeff")
    nodes = compose_documents(body, where)
    if pos >= len(nodes):
        raise ConflictError(f"{where}: no document {pos}")
    start_at = nodes[pos].start_mark.index
    bounds = [0, *(m.start() for m in _SEPARATOR.finditer(body)), len(body)]
    seg = max(i for i, b in enumerate(bounds[:-1]) if b <= start_at)
    piece = body[bounds[seg] : bounds[seg + 1]]
    if _SEPARATOR.match(piece):
        newline = piece.find("\n")
        piece = piece[newline + 1 :] if newline >= 0 else ""
    piece = piece.lstrip("\n")
    return piece if piece.endswith("\n") else piece + "\n"
