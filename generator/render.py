"""Jinja2 rendering of the templates in `templates/` (new CRs, operator releases, commit messages)."""

from __future__ import annotations

from typing import Any

import jinja2

from core.trailers import rollback_trailer, stage_trailer
from generator.resources import templates_dir
from generator.yamlstyle import block_yaml, render_scalar

__all__ = ["render"]

_ENV: jinja2.Environment | None = None


def _to_yaml(value: Any, indent: int = 0, indentless: bool = True) -> str:
    """Block YAML of `value`, keys at column `indent`, quoting what YAML would retype."""
    return "\n".join(block_yaml(value, indent, indentless=indentless))


def _env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir())),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )
        _ENV.filters["to_yaml"] = _to_yaml
        _ENV.filters["scalar"] = render_scalar
        _ENV.globals["stage_trailer"] = stage_trailer
        _ENV.globals["rollback_trailer"] = rollback_trailer
    return _ENV


def render(template: str, /, **context: Any) -> str:
    """Render `template` with `context`."""
    return _env().get_template(template).render(**context)
