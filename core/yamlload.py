"""The strict YAML loader every package parses with: libyaml's C loader, duplicate keys refused.

YAML 1.2 forbids duplicate mapping keys, but PyYAML keeps the last one silently; a repo or plan
file that says a thing twice must be refused, not half-read.

It is also the generator's hot path: every command parses the whole GitOps repo and the plan.
libyaml does the scanning and parsing in C, but PyYAML builds the Python values in pure Python,
one generic `construct_object` call (memo lookups, recursion guard, generator bookkeeping) per
node, and resolves the type of every plain scalar with a handful of regexes. So this loader
resolves each distinct plain scalar once, and builds ordinary mappings, sequences and core
scalars in one tight recursion; anything less common (merge keys, non-scalar keys, `!!set`,
`!!omap`, timestamps, binary, custom tags) goes through PyYAML's own constructor. The values are
the same as PyYAML's safe loader gives, aliases and recursion included (tests/core/test_yamlload.py
compares them on a corpus of awkward YAML); only a document with several construction errors may
report another one of them first (this loader goes depth first).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["Loader"]

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
# Scalars whose safe constructors return an immutable, hashable value from the text alone.
_SIMPLE = frozenset(
    {
        _STR,
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    }
)

# The tag each plain scalar resolves to depends on its text only (a safe loader has no path
# resolvers), and manifests repeat the same keys and values thousands of times. Bounded, for
# long-lived processes.
_resolved: dict[str, str] = {}
_RESOLVED_MAX = 200_000


class Loader(_Base):
    """libyaml's safe loader that refuses duplicate mapping keys (YAML 1.2 forbids them).

    PyYAML silently keeps the last value, so `version: 1.6.14` followed by `version: 1.5.0`
    would plan from 1.5.0 while Argo CD (or kubectl) may apply either. A duplicate shows as a
    mapping with fewer keys than pairs; only then are the keys searched one by one.
    """

    # Tags are resolved from a scalar's text alone: no path resolvers (a safe loader has none),
    # so the composer's calls to track the path (two per node) have nothing to do.
    @classmethod
    def add_path_resolver(cls, *args: Any, **kwargs: Any) -> None:
        raise TypeError("core.yamlload.Loader resolves tags from text alone, not by path")

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """The tag of a node without an explicit one; plain scalars are looked up once each.

        Only a plain scalar's text matters; anything else gets its kind's default tag, as
        PyYAML's resolver answers when it has no path resolvers.
        """
        if kind is ScalarNode:
            if not implicit[0]:
                return _STR
            tag = _resolved.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_resolved) < _RESOLVED_MAX:
                    _resolved[value] = tag
            return tag
        return _MAP if kind is MappingNode else _SEQ

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """Core scalars, and mappings and sequences with plain tags, built directly."""
        cls = node.__class__
        tag = node.tag
        if cls is ScalarNode:
            if tag == _STR:
                return node.value
            if tag in _SIMPLE:
                return self.yaml_constructors[tag](self, node)
            return super().construct_object(node, deep)
        if deep:
            return super().construct_object(node, deep)
        done = self.constructed_objects.get(node)
        if done is not None:
            return done
        if isinstance(node, MappingNode) and tag == _MAP and _plain_keys(node):
            return self._mapping(node)
        if isinstance(node, SequenceNode) and tag == _SEQ:
            return self._sequence(node)
        return super().construct_object(node, deep)

    def _mapping(self, node: MappingNode) -> dict[Any, Any]:
        pairs = node.value
        data: dict[Any, Any] = {}
        # Registered before its values, like PyYAML does, so an alias inside to this very
        # node gets the same (recursive) dict.
        self.constructed_objects[node] = data
        build = self.construct_object
        for key_node, value_node in pairs:
            key = key_node.value if key_node.tag == _STR else build(key_node)
            if value_node.__class__ is ScalarNode and value_node.tag == _STR:
                data[key] = value_node.value
            else:
                data[key] = build(value_node)
        if len(data) < len(pairs):
            self._refuse_duplicates(node, pairs)
        return data

    def _sequence(self, node: SequenceNode) -> list[Any]:
        data: list[Any] = []
        self.constructed_objects[node] = data
        build = self.construct_object
        for item in node.value:
            if item.__class__ is ScalarNode and item.tag == _STR:
                data.append(item.value)
            else:
                data.append(build(item))
        return data

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """PyYAML's own path (merge keys, unusual keys), with the duplicate check added."""
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


def _plain_keys(node: MappingNode) -> bool:
    """Every key is a core scalar (so hashable) and none is a `<<` merge key."""
    for key_node, _ in node.value:
        if key_node.__class__ is not ScalarNode or key_node.tag not in _SIMPLE:
            return False
    return True
