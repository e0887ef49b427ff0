"""A stage PR's body: why, what changed, where the mesh stands, how to gate, how to go back.

The body must stay readable and within the forge's size limit however big the mesh is. It lists
the namespaces this stage moves in full (folded when long) and counts the rest, and when even that
is too long it is rendered again with less detail (capped tables, names instead of rows), from the
most detailed rendering down, until one fits. The marker comment always stays, last.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from core.plan import Plan, Stage
from generator.headline import names
from generator.objectdiff import ChangedFile, ObjectChange, semantic_diff
from generator.pullrequest.marker import marker_comment
from generator.resources import templates_dir

if TYPE_CHECKING:
    import jinja2

__all__ = ["BODY_MAX", "environment", "render_body"]

BODY_MAX = 65_536
"""The smallest body limit of the forges we open PRs on (GitHub 65,536; GitLab 1,048,576)."""

FULL_TABLE_MAX = 50
"""A mesh of at most this many namespaces gets one row per namespace in every stage's body."""

FOLD_ROWS = 20
"""Tables longer than this are folded in a <details> block."""


@dataclass(frozen=True)
class Detail:
    """How much of a long stage the body spells out (None: all of it)."""

    object_rows: int | None
    files: int | None
    wave_rows: bool  # one table row per moved namespace, else just their names
    wave_names: int | None
    rollback_command: bool


DETAILS = (
    Detail(None, None, True, None, True),
    Detail(200, 100, True, None, True),
    Detail(50, 30, False, None, True),
    Detail(20, 10, False, 2_000, False),
    Detail(10, 5, False, 200, False),
)
"""From the most detailed rendering down; the first that fits the limit is used."""


@cache
def environment() -> jinja2.Environment:
    """The Jinja environment of the PR templates (markdown, so a `cell` filter for tables)."""
    import jinja2  # imported when a PR is rendered, not when the CLI starts

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["cell"] = lambda v: str(v).replace("|", "\\|").replace("\n", " ") or " "
    return env


def render_body(
    plan: Plan,
    stage: Stage,
    files: Iterable[ChangedFile],
    base_sha: str = "",
    head_sha: str = "",
    limit: int = BODY_MAX,
) -> str:
    """The markdown body, the most detailed rendering of at most `limit` characters."""
    files = tuple(files)
    objects = semantic_diff(files)
    facts = _facts(plan, stage, files, objects, base_sha, head_sha)
    template = environment().get_template("pr-body.md.j2")
    body = ""
    for detail in DETAILS:
        body = template.render(**facts, **_detailed(facts, detail))
        if len(body) <= limit:
            return body
    return body  # the least detailed rendering is bounded whatever the size of the mesh


def _facts(
    plan: Plan,
    stage: Stage,
    files: tuple[ChangedFile, ...],
    objects: Sequence[ObjectChange],
    base_sha: str,
    head_sha: str,
) -> dict[str, Any]:
    """What the body says, before choosing how much of it to spell out."""
    rows = [_row(plan, stage, ns.name) for ns in plan.namespaces]
    small = len(rows) <= FULL_TABLE_MAX
    shown = rows if small else [r for r in rows if r["before"] != r["after"]]
    rest = [] if small else [r for r in rows if r["before"] == r["after"]]
    return {
        "plan": plan,
        "stage": stage,
        "all_files": files,
        "all_objects": objects,
        "timeline": _timeline(plan, stage),
        "all_rows": shown,
        "rest": _counted(rest),
        "marker": marker_comment(plan, stage, base_sha, head_sha),
        "migrated": plan.migrated_namespaces(stage.index - 1),
        "wave": _wave_words(stage.namespaces),
        "base_sha": base_sha,
        "head_sha": head_sha,
    }


def _detailed(facts: dict[str, Any], detail: Detail) -> dict[str, Any]:
    """The parts of `facts` cut down to `detail`."""
    objects: Sequence[ObjectChange] = facts["all_objects"]
    shown_objects = (
        objects if detail.object_rows is None else _first_rows(objects, detail.object_rows)
    )
    files: tuple[ChangedFile, ...] = facts["all_files"]
    shown_files = files if detail.files is None else files[: detail.files]
    rows: list[dict[str, Any]] = facts["all_rows"]
    names_only = [r["name"] for r in rows]
    if detail.wave_names is not None:
        names_only = names_only[: detail.wave_names]
    return {
        "objects": shown_objects,
        "hidden_objects": len(objects) - len(shown_objects),
        "files": shown_files,
        "hidden_files": len(files) - len(shown_files),
        "rows": rows if detail.wave_rows else [],
        "row_names": [] if detail.wave_rows else names_only,
        "hidden_rows": 0 if detail.wave_rows else len(rows) - len(names_only),
        "fold": len(rows) > FOLD_ROWS,
        "fold_objects": _row_count(shown_objects) > FOLD_ROWS,
        "rollback_command": detail.rollback_command,
    }


def _first_rows(objects: Sequence[ObjectChange], budget: int) -> Sequence[ObjectChange]:
    """The leading objects whose table rows (one per field, plus a "more" row) fit `budget`."""
    used = 0
    for i, o in enumerate(objects):
        used += _row_count([o])
        if used > budget:
            return objects[:i]
    return objects


def _row_count(objects: Sequence[ObjectChange]) -> int:
    """Rows of the objects table: one per changed field (plus a "more" row), or one per object."""
    return sum(
        max(1, len(o.fields) + (1 if o.more else 0)) if o.action == "modified" else 1
        for o in objects
    )


def _row(plan: Plan, stage: Stage, name: str) -> dict[str, Any]:
    before = plan.expected_revision(name, stage.index - 1)
    after = plan.expected_revision(name, stage.index)
    return {
        "name": name,
        "before": before,
        "after": after,
        "rolled_back": name in plan.rolled_back,
        "proxy": plan.target.version if after == plan.target.revision else plan.source.version,
    }


def _counted(rows: list[dict[str, Any]]) -> list[str]:
    """`1,750 namespaces stay on `rev``, one line per revision, for namespaces not listed."""
    by_revision = Counter(r["after"] for r in rows)
    lines = [
        f"{n:,} more namespace{'s' if n != 1 else ''} stay{'s' if n == 1 else ''} on `{rev}`"
        for rev, n in sorted(by_revision.items())
    ]
    back = [r["name"] for r in rows if r["rolled_back"]]
    if back:
        lines.append(f"rolled back earlier: {names(back, 'namespaces', 200)}")
    return lines


def _wave_words(namespaces: Sequence[str]) -> str:
    """How the prose names the stage's namespaces: each one, or the count and range."""
    if len(namespaces) <= 10:
        return "`" + "`, `".join(namespaces) + "`"
    ordered = sorted(namespaces)
    return (
        f"the {len(namespaces)} namespaces of this wave (`{ordered[0]}` … `{ordered[-1]}`, "
        "listed below)"
    )


def _timeline(plan: Plan, current: Stage) -> str:
    """A Mermaid flowchart of the stages, done ones green, this one highlighted.

    A plan of more than TIMELINE_MAX stages (one namespace per wave on a big mesh) shows its first
    and last stages and those around this one; each run of stages between is one node saying how
    many it stands for.
    """
    shown = _timeline_stages(plan, current)
    nodes = ['  s0(["0 plan"])']
    chain = ["s0"]
    done = ["s0"]
    todo: list[str] = []
    previous = 0
    for s in plan.stages:
        if s.index not in shown:
            continue
        if s.index > previous + 1:
            gap = f"g{previous + 1}"
            nodes.append(f'  {gap}["… {s.index - previous - 1} stages …"]')
            chain.append(gap)
            (done if s.index <= current.index else todo).append(gap)
        previous = s.index
        if s.namespaces:
            detail = names(s.namespaces, "namespaces", 60)
        else:
            detail = names(s.gateways, "gateways", 60)
        label = f"{s.index} {s.name}" + (f"<br/>{detail}" if detail else "")
        nodes.append(f'  s{s.index}["{label}"]')
        chain.append(f"s{s.index}")
        if s.index < current.index:
            done.append(f"s{s.index}")
        elif s.index > current.index:
            todo.append(f"s{s.index}")
    lines = [
        "flowchart LR",
        *nodes,
        "  " + " --> ".join(chain),
        "  classDef done fill:#d3f9d8,stroke:#2b8a3e",
        "  classDef current fill:#fff3bf,stroke:#f08c00,stroke-width:4px",
        "  classDef todo fill:#f1f3f5,stroke:#adb5bd,stroke-dasharray:4 2",
        f"  class {','.join(done)} done",
        f"  class s{current.index} current",
    ]
    if todo:
        lines.append(f"  class {','.join(todo)} todo")
    return "\n".join(lines)


TIMELINE_MAX = 30
"""Longest timeline drawn stage by stage; a longer one is drawn around the current stage."""


def _timeline_stages(plan: Plan, current: Stage) -> set[int]:
    """Indexes of the stages the timeline draws: all, or the ends and this stage's neighbours."""
    every = {s.index for s in plan.stages}
    if len(every) <= TIMELINE_MAX:
        return every
    ends = {1, 2, plan.total - 1, plan.total}
    near = set(range(current.index - 3, current.index + 4))
    return every & (ends | near)
