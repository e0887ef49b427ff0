"""The strict YAML loader every package parses with: libyaml's C loader, duplicate keys refused.

YAML 1.2 forbids duplicate mapping keys, but PyYAML keeps the last one silently; a repo or plan
file that says a thing twice must be refused, not half-read.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["Loader"]

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"


class Loader(_Base):
    """libyaml's safe loader that refuses duplicate mapping keys (YAML 1.2 forbids them).

    PyYAML silently keeps the last value, so `version: 1.6.14` followed by `version: 1.5.0`
    would plan from 1.5.0 while Argo CD (or kubectl) may apply either. The check costs one list
    copy per mapping; the key-by-key search only runs when the counts say something collapsed.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        pairs = list(node.value) if isinstance(node, yaml.MappingNode) else []
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if len(mapping) < len(pairs) or len(node.value) != len(pairs):
            self._refuse_duplicates(node, pairs)
        return mapping

    def _refuse_duplicates(self, node: yaml.Node, pairs: list[tuple[yaml.Node, yaml.Node]]) -> None:
        seen: set[Any] = set()
        for key_node, _ in pairs:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node)
            try:
                fresh = key not in seen
                seen.add(key)
            except TypeError:  # an unhashable key is refused by construct_mapping already
                continue
            if not fresh:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
