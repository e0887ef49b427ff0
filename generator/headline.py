"""One-line summaries that fit a limit: commit subjects, PR titles, lists of names.

A wave of a big mesh moves hundreds of namespaces; listing them all makes a commit subject no log
can show and a PR title the forges refuse. So a headline is chosen from candidates, most
informative first: the first that fits wins, and only when none does is the last one cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["SUBJECT_MAX", "count", "fit", "names", "span"]

SUBJECT_MAX = 72
"""Longest commit subject: what `git log --oneline` and the forges' commit lists show whole."""

ELLIPSIS = "…"


def fit(candidates: Iterable[str], limit: int) -> str:
    """The first candidate (whitespace collapsed) of at most `limit` characters, else the last
    one cut to the limit with an ellipsis."""
    last = ""
    for candidate in candidates:
        last = " ".join(candidate.split())
        if len(last) <= limit:
            return last
    return last[: limit - 1].rstrip() + ELLIPSIS


def count(items: Sequence[str], noun: str) -> str:
    """`1 namespace`, `250 namespaces` (`noun` is the plural)."""
    return f"{len(items)} {noun.removesuffix('s') if len(items) == 1 else noun}"


def span(items: Sequence[str], noun: str) -> str:
    """The count and the range in name order: `250 namespaces (app-0500 … app-0749)`."""
    if len(items) < 2:
        return ", ".join(items)
    ordered = sorted(items)
    return f"{count(items, noun)} ({ordered[0]} {ELLIPSIS} {ordered[-1]})"


def names(items: Sequence[str], noun: str, limit: int) -> str:
    """`a, b, c` when that fits in `limit` characters, else the span, else the count."""
    return fit([", ".join(items), span(items, noun), count(items, noun)], limit)
