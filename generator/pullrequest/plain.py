"""A stage PR's title and body from its commit message: for flavours without PR templates of
their own (the Helm flavour; the seed's Banzai templates speak of operators and CRs)."""

from __future__ import annotations

from collections.abc import Iterable

from core.plan import Plan, Stage
from core.trailers import STAGE_TRAILER
from generator.headline import fit
from generator.objectdiff import ChangedFile
from generator.pullrequest.marker import marker_comment
from generator.pullrequest.title import TITLE_MAX

__all__ = ["render_plain"]


def render_plain(
    plan: Plan,
    stage: Stage,
    message: str,
    files: Iterable[ChangedFile],
    base_sha: str,
    head_sha: str,
    limit: int,
) -> tuple[str, str]:
    """(title, body): the commit's subject, then its text, the files it changes and the marker
    by which the tool finds the PR again; the file list is cut to keep within `limit`."""
    lines = message.strip().splitlines()
    title = fit([lines[0] if lines else stage.name], TITLE_MAX)
    text = "\n".join(ln for ln in lines[1:] if not ln.startswith(STAGE_TRAILER)).strip()
    marker = marker_comment(plan, stage, base_sha, head_sha)
    rows = [f"| `{f.path}` | {f.action} |" for f in files]
    head = f"{text}\n\n| file | change |\n|---|---|\n"
    room = limit - len(head) - len(marker) - 64
    shown: list[str] = []
    for row in rows:
        if sum(len(r) + 1 for r in shown) + len(row) + 1 > room:
            shown.append(f"| … | {len(rows) - len(shown)} more |")
            break
        shown.append(row)
    return title, head + "\n".join(shown) + "\n\n" + marker + "\n"
