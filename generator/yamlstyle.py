"""Rendering YAML text the way our edits need it: scalars that read back as the same value (quoting
what a YAML 1.1 reader such as PyYAML or go-yaml would retype), small flow values, and block
YAML in the indentation style detected from the file being edited.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["Style", "block_yaml", "detect_node_style", "flow_yaml", "render_scalar"]

# Plain scalars that some YAML 1.1 reader (PyYAML, go-yaml v2 under kubectl and Argo CD) retypes.
_RETYPED = re.compile(
    r"""^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
    |null|Null|NULL|~|[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?0[xob][0-9a-fA-F_]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[0-9:]+(?::[0-9]+)+
    |=|<<)$""",
    re.VERBOSE,
)
# Versions (`1.7.7`, `0.7.14`) read as strings anyway, but reviewers expect them quoted, as in the
# Istio samples; quoting them also keeps `1.10`-style values safe when one dot goes missing.
_VERSIONISH = re.compile(r"^v?[0-9]+(?:\.[0-9]+)+$")


# Names, paths and labels: no YAML indicator anywhere, so a plain scalar unless retyped above.
_SIMPLE = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*\Z")


@functools.lru_cache(maxsize=4096)
def _plain_ok(s: str) -> bool:
    """Whether `s` may be written plain; a stage writes the same few values into many files."""
    if not s or _RETYPED.match(s) or _VERSIONISH.match(s) or s != s.strip() or "\n" in s:
        return False
    if _SIMPLE.match(s):
        return True
    # Anything else: ask PyYAML's emitter whether it would quote it.
    dumped = yaml.safe_dump(s, default_flow_style=True, width=10_000)
    return not dumped.startswith(("'", '"'))


def render_scalar(value: Any, style: str | None = None) -> str:
    """YAML text for a scalar that reads back as exactly `value` (quoting what YAML would retype)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    s = str(value)
    if style == "'" and "\n" not in s:
        return "'" + s.replace("'", "''") + "'"
    if style == '"' or not _plain_ok(s):
        return json.dumps(s)
    return s


def flow_yaml(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{render_scalar(k)}: {flow_yaml(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(flow_yaml(v) for v in value) + "]"
    return render_scalar(value)


@dataclass(frozen=True)
class Style:
    """How this file indents: mapping step, and whether lists sit at their key's column."""

    step: int = 2
    indentless: bool = True
    newline: str = "\n"


def block_lines(value: Any, col: int, st: Style) -> list[str]:
    """Lines (without newline) of `value` as block YAML whose keys start at column `col`."""
    pad = " " * col
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            key = render_scalar(k)
            if isinstance(v, dict) and v:
                out.append(f"{pad}{key}:")
                out.extend(block_lines(v, col + st.step, st))
            elif isinstance(v, list) and v:
                out.append(f"{pad}{key}:")
                out.extend(block_lines(v, col if st.indentless else col + st.step, st))
            else:
                out.append(f"{pad}{key}: {flow_yaml(v)}")
        return out
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list) and item:
                inner = block_lines(item, col + 2, st)
                out.append(f"{pad}- {inner[0].lstrip()}")
                out.extend(inner[1:])
            else:
                out.append(f"{pad}- {flow_yaml(item)}")
        return out
    return [pad + flow_yaml(value)]


def block_yaml(value: Any, col: int = 0, step: int = 2, indentless: bool = True) -> list[str]:
    """Lines of `value` as block YAML (used for new files, so they quote like our edits)."""
    return block_lines(value, col, Style(step, indentless))


def detect_node_style(text: str, root: yaml.Node | None) -> Style:
    newline = "\r\n" if "\r\n" in text else "\n"
    step, indentless = 2, True
    found_step = found_seq = False
    stack = [root] if root is not None else []
    seen: set[int] = set()  # an alias of an enclosing node would otherwise loop forever
    while stack and not (found_step and found_seq):
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode) and not node.flow_style:
            for k, v in node.value:
                if isinstance(v, yaml.MappingNode) and not v.flow_style and v.value:
                    if not found_step and v.start_mark.line > k.start_mark.line:
                        step = max(1, v.start_mark.column - k.start_mark.column)
                        found_step = True
                elif (
                    isinstance(v, yaml.SequenceNode)
                    and not v.flow_style
                    and v.value
                    and not found_seq
                    and v.start_mark.line > k.start_mark.line
                ):
                    indentless = v.start_mark.column <= k.start_mark.column
                    found_seq = True
                stack.append(v)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return Style(step, indentless, newline)
