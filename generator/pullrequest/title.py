"""A stage PR's title: one line that says what the stage does, within every forge's limit."""

from __future__ import annotations

from core.plan import Plan, Stage
from generator.headline import fit, names
from generator.pullrequest.body import environment

__all__ = ["TITLE_MAX", "WHO_MAX", "render_title"]

TITLE_MAX = 255
"""The shortest title limit of the forges we open PRs on (GitLab 255, GitHub 256)."""

WHO_MAX = 120
"""Room for the names a title lists; a longer list becomes its count and range."""


def render_title(plan: Plan, stage: Stage) -> str:
    """One line: `istio-canary i/n stage: what it does`, at most TITLE_MAX characters."""
    who = ""
    if stage.namespaces:
        who = names(stage.namespaces, "namespaces", WHO_MAX)
    elif stage.gateways:
        who = names(stage.gateways, "gateways", WHO_MAX)
    text = environment().get_template("pr-title.j2").render(plan=plan, stage=stage, who=who)
    return fit([text], TITLE_MAX)
