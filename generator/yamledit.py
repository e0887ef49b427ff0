"""Pure text-in/text-out YAML editing that keeps every byte it was not asked to change.

Renovate-style: the file is never re-serialised (new text comes from :mod:`generator.yamlstyle`).
libyaml (``CSafeLoader``) composes the text into nodes that carry character offsets; each operation becomes a splice of the original text at those
offsets (a new scalar in place of an old one, a few lines inserted after a mapping's last line, the
lines of a dropped key or list item cut out, a document's segment removed). Comments, blank lines,
key order, quotes, flow style, anchors, ``---`` separators and CRLF line ends outside the spliced
ranges survive byte for byte.

Every edit is checked: the new text is parsed again and must equal the old data with exactly the
intended operations applied, else :class:`~core.errors.ConflictError` (nothing is written,
because callers only write what this module returns).
"""

from __future__ import annotations

import copy
import marshal
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from core.errors import ConflictError, InputError
from core.yamlload import Loader
from generator.yamlstyle import (
    Style,
    block_lines,
    detect_node_style,
    flow_yaml,
    render_scalar,
)

__all__ = [
    "Loader",
    "Op",
    "PathT",
    "append_item",
    "apply_ops",
    "delete_document",
    "delete_key",
    "detect_style",
    "load_documents",
    "remove_items",
    "rename_key",
    "set_value",
]

_BOM = "\ufeff"


PathT = tuple[str | int, ...]

# ----- operations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One intended change to document `doc` of a file; `path` walks keys and list indexes."""

    kind: str
    doc: int
    path: PathT = ()
    value: Any = None
    key: str = ""
    values: tuple[Any, ...] = field(default_factory=tuple)


def set_value(doc: int, path: PathT, value: Any) -> Op:
    """Set `path` to `value`, creating missing mappings on the way (a scalar or a small tree)."""
    return Op("set", doc, tuple(path), value=value)


def delete_key(doc: int, path: PathT) -> Op:
    """Drop the mapping key at the end of `path` (absent keys are a no-op)."""
    return Op("delete", doc, tuple(path))


def rename_key(doc: int, path: PathT, new_key: str, value: Any) -> Op:
    """Replace the key at the end of `path` by `new_key: value` in the same place."""
    return Op("rename", doc, tuple(path), value=value, key=new_key)


def remove_items(doc: int, path: PathT, values: Iterable[Any]) -> Op:
    """Drop every item equal to one of `values` from the list at `path`."""
    return Op("remove", doc, tuple(path), values=tuple(values))


def append_item(doc: int, path: PathT, value: Any) -> Op:
    """Append a scalar to the list at `path` (creating the list when the key is absent)."""
    return Op("append", doc, tuple(path), value=value)


def delete_document(doc: int) -> Op:
    """Remove document `doc` with its separator and the comments inside its segment."""
    return Op("delete-document", doc)


# ----- parsing ---------------------------------------------------------------------------------


def _yaml_error(where: str, err: yaml.YAMLError) -> InputError:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    line = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err).split("\n")[0]
    return InputError(f"{where}{line}: invalid YAML ({problem})")


def compose_documents(text: str, where: str = "<text>") -> list[yaml.Node]:
    """Nodes (with character offsets) of every document; broken YAML is an InputError at file:line."""
    loader = Loader(text)
    try:
        nodes: list[yaml.Node] = []
        while loader.check_node():
            nodes.append(loader.get_node())
        return nodes
    except yaml.YAMLError as err:
        raise _yaml_error(where, err) from err
    finally:
        loader.dispose()


def load_documents(text: str, where: str = "<text>") -> list[Any]:
    """Data of every document; broken YAML is an InputError naming file:line."""
    try:
        return list(yaml.load_all(text, Loader=Loader))
    except yaml.YAMLError as err:
        raise _yaml_error(where, err) from err


# ----- style (rendering lives in generator.yamlstyle) -----------------------------------------------


def detect_style(text: str) -> Style:
    """How `text` indents (first document), so new files and inserted blocks look the same."""
    nodes = compose_documents(text)
    return detect_node_style(text, nodes[0] if nodes else None)


# ----- locating ----------------------------------------------------------------------------------


def _content_end(node: yaml.Node) -> int:
    """Offset just past the last character that belongs to `node` (block collections end early)."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1])
    end: int = node.end_mark.index
    return end


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _after_line(text: str, pos: int) -> int:
    """Offset of the start of the line after the one containing `pos` (or the text's end)."""
    if pos > 0 and text[pos - 1] == "\n":
        return pos
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def _only_space_before(text: str, pos: int, allow_dash: bool = False) -> bool:
    head = text[_line_start(text, pos) : pos]
    if allow_dash:
        head = head.replace("-", " ")
    return not head.strip()


def _find(mapping: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def _check_not_alias(key: yaml.Node, value: yaml.Node, where: str) -> None:
    if value.start_mark.index < key.end_mark.index:
        raise ConflictError(f"{where}: value is an alias of an anchor elsewhere; edit it by hand")


@dataclass
class _Located:
    """Where a path ends: the deepest node found and the keys still missing below it."""

    parent: yaml.Node
    parent_key: yaml.Node | None
    node: yaml.Node | None
    key: yaml.Node | None
    missing: list[str | int]


def _locate(root: yaml.Node, path: PathT, where: str) -> _Located:
    parent: yaml.Node = root
    parent_key: yaml.Node | None = None
    node: yaml.Node = root
    key_node: yaml.Node | None = None
    for i, step in enumerate(path):
        parent, parent_key = node, key_node
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            hit = _find(node, step)
            if hit is None:
                return _Located(node, key_node, None, None, list(path[i:]))
            key_node, nxt = hit
            _check_not_alias(key_node, nxt, where)
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                raise ConflictError(f"{where}: list index {step} out of range")
            node, key_node = node.value[step], None
        else:
            return _Located(node, key_node, None, None, list(path[i:]))
    return _Located(parent, parent_key, node, key_node, [])


# ----- splicing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Splice:
    start: int
    end: int
    text: str


class _Planner:
    """Turns operations on one file into splices of its original text."""

    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        self.nodes = compose_documents(text, where)
        self.style = detect_node_style(text, self.nodes[0] if self.nodes else None)
        self.splices: list[_Splice] = []

    def nl(self) -> str:
        return self.style.newline

    def lines(self, body: list[str]) -> str:
        return "".join(line + self.nl() for line in body)

    def root(self, doc: int) -> yaml.Node:
        if doc >= len(self.nodes):
            raise ConflictError(f"{self.where}: no document {doc}")
        return self.nodes[doc]

    # each operation ---------------------------------------------------------------------------

    def op(self, op: Op) -> None:
        where = f"{self.where}:{'.'.join(str(p) for p in op.path)}"
        if op.kind == "delete-document":
            self.delete_document(op.doc)
            return
        loc = _locate(self.root(op.doc), op.path, where)
        if op.kind == "set":
            self.set_at(loc, op.value, where)
        elif op.kind == "delete":
            if loc.node is not None:
                self.delete_pair(loc, where)
        elif op.kind == "rename":
            if loc.node is None or loc.key is None or not isinstance(loc.node, yaml.ScalarNode):
                raise ConflictError(f"{where}: cannot rename a missing or non-scalar entry")
            self.replace(loc.key, render_scalar(op.key, getattr(loc.key, "style", None)))
            self.replace(loc.node, render_scalar(op.value, loc.node.style))
        elif op.kind == "remove":
            if isinstance(loc.node, yaml.SequenceNode):
                self.remove_items(loc, set(_hashable(v) for v in op.values), where)
        elif op.kind == "append":
            if loc.node is None:
                self.set_at(loc, [op.value], where)
            elif isinstance(loc.node, yaml.SequenceNode):
                self.append(loc.node, op.value)
            else:
                raise ConflictError(f"{where}: not a list")
        else:
            raise ConflictError(f"{where}: unknown edit {op.kind}")

    def replace(self, node: yaml.Node, text: str) -> None:
        self.splices.append(_Splice(node.start_mark.index, node.end_mark.index, text))

    def set_at(self, loc: _Located, value: Any, where: str) -> None:
        node = loc.node
        if node is None:
            tree: Any = value
            for step in reversed(loc.missing[1:]):
                tree = {step: tree}
            first = loc.missing[0]
            if not isinstance(loc.parent, yaml.MappingNode) or not isinstance(first, str):
                if _is_null(loc.parent) and isinstance(first, str):
                    self.fill_null(loc.parent, loc.parent_key, {first: tree}, where)
                    return
                raise ConflictError(f"{where}: cannot add below a non-mapping")
            self.add_key(loc.parent, loc.parent_key, first, tree)
        elif isinstance(value, dict) and isinstance(node, yaml.MappingNode):
            for k, v in value.items():
                self.set_at(_locate_child(node, loc.key, k, where), v, where)
        elif isinstance(node, yaml.ScalarNode) and not isinstance(value, dict | list):
            if node.value == "" and node.start_mark.index == node.end_mark.index:
                self.splices.append(
                    _Splice(node.start_mark.index, node.end_mark.index, " " + render_scalar(value))
                )
            else:
                self.replace(node, render_scalar(value, node.style))
        elif _is_null(node) and isinstance(value, dict | list):
            self.fill_null(node, loc.key, value, where)
        else:
            raise ConflictError(f"{where}: cannot replace a {type(node).__name__} by this value")

    def fill_null(self, node: yaml.Node, key: yaml.Node | None, value: Any, where: str) -> None:
        if key is None or not value:
            self.replace(node, flow_yaml(value))
            return
        col = key.start_mark.column + self.style.step
        if isinstance(value, list) and self.style.indentless:
            col = key.start_mark.column
        body = self.nl() + self.lines(block_lines(value, col, self.style)).rstrip("\r\n")
        start = node.start_mark.index
        # `key:` then nothing (or spaces, a comment): put the block right after the colon.
        self.splices.append(_Splice(start, node.end_mark.index, body))

    def add_key(
        self, mapping: yaml.MappingNode, parent_key: yaml.Node | None, key: str, value: Any
    ) -> None:
        if mapping.flow_style or not mapping.value:
            close = mapping.end_mark.index - 1
            sep = ", " if mapping.value else ""
            self.splices.append(
                _Splice(close, close, f"{sep}{render_scalar(key)}: {flow_yaml(value)}")
            )
            return
        col = mapping.value[0][0].start_mark.column
        pos = _after_line(self.text, _content_end(mapping))
        prefix = "" if pos == 0 or self.text[pos - 1] == "\n" else self.nl()
        self.splices.append(
            _Splice(pos, pos, prefix + self.lines(block_lines({key: value}, col, self.style)))
        )

    def append(self, seq: yaml.SequenceNode, value: Any) -> None:
        if seq.flow_style or not seq.value:
            close = seq.end_mark.index - 1
            sep = ", " if seq.value else ""
            self.splices.append(_Splice(close, close, f"{sep}{flow_yaml(value)}"))
            return
        last = seq.value[-1]
        line = self.text[_line_start(self.text, last.start_mark.index) : last.start_mark.index]
        col = line.find("-")
        pos = _after_line(self.text, _content_end(seq))
        prefix = "" if pos == 0 or self.text[pos - 1] == "\n" else self.nl()
        self.splices.append(
            _Splice(pos, pos, prefix + self.lines(block_lines([value], col, self.style)))
        )

    def delete_pair(self, loc: _Located, where: str) -> None:
        mapping, key, node = loc.parent, loc.key, loc.node
        assert isinstance(mapping, yaml.MappingNode) and key is not None and node is not None
        pairs = mapping.value
        pos = next(i for i, (k, _) in enumerate(pairs) if k is key)
        if len(pairs) == 1:
            self.empty_collection(mapping, loc.parent_key, "{}", where)
        elif mapping.flow_style:
            if pos + 1 < len(pairs):
                end = pairs[pos + 1][0].start_mark.index
                self.splices.append(_Splice(key.start_mark.index, end, ""))
            else:
                prev_end = pairs[pos - 1][1].end_mark.index
                self.splices.append(_Splice(prev_end, node.end_mark.index, ""))
        else:
            if not _only_space_before(self.text, key.start_mark.index):
                raise ConflictError(f"{where}: key shares its line with other content")
            start = _line_start(self.text, key.start_mark.index)
            self.splices.append(_Splice(start, _after_line(self.text, _content_end(node)), ""))

    def empty_collection(
        self, node: yaml.Node, key: yaml.Node | None, empty: str, where: str
    ) -> None:
        """Replace a collection by `{}`/`[]` right after its key's colon (a bare key is null)."""
        if key is None:
            raise ConflictError(f"{where}: cannot empty a top-level collection")
        colon = self.text.find(":", key.end_mark.index)
        self.splices.append(_Splice(colon + 1, _content_end(node), " " + empty))

    def remove_items(self, loc: _Located, drop: set[Any], where: str) -> None:
        seq = loc.node
        assert isinstance(seq, yaml.SequenceNode)
        data = [
            _hashable(yaml.constructor.SafeConstructor().construct_document(n)) for n in seq.value
        ]
        keep = [i for i, v in enumerate(data) if v not in drop]
        if len(keep) == len(seq.value):
            return
        if not keep:
            self.empty_collection(seq, loc.key, "[]", where)
            return
        if seq.flow_style:
            inner = ", ".join(
                self.text[seq.value[i].start_mark.index : seq.value[i].end_mark.index] for i in keep
            )
            self.splices.append(_Splice(seq.start_mark.index, seq.end_mark.index, f"[{inner}]"))
            return
        for i, item in enumerate(seq.value):
            if i in keep:
                continue
            if not _only_space_before(self.text, item.start_mark.index, allow_dash=True):
                raise ConflictError(f"{where}[{i}]: list item shares its line with other content")
            start = _line_start(self.text, item.start_mark.index)
            self.splices.append(_Splice(start, _after_line(self.text, _content_end(item)), ""))

    def delete_document(self, doc: int) -> None:
        node = self.root(doc)
        marks = [m.start() for m in re.finditer(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", self.text, re.M)]
        bounds = [0, *marks, len(self.text)]
        line_pos = node.start_mark.index
        seg = max(i for i, b in enumerate(bounds[:-1]) if b <= line_pos)
        start, end = bounds[seg], bounds[seg + 1]
        # A `...` end marker that closes this document goes with it.
        if end < len(self.text) and self.text.startswith("...", end):
            end = _after_line(self.text, end)
        self.splices.append(_Splice(start, end, ""))

    # result -----------------------------------------------------------------------------------

    def result(self) -> str:
        ordered = sorted(enumerate(self.splices), key=lambda p: (p[1].start, p[1].end, p[0]))
        out: list[str] = []
        cursor = 0
        for _, sp in ordered:
            if sp.start < cursor:
                raise ConflictError(f"{self.where}: two edits overlap; apply them one at a time")
            out.append(self.text[cursor : sp.start])
            out.append(sp.text)
            cursor = sp.end
        out.append(self.text[cursor:])
        return "".join(out)


def _locate_child(node: yaml.MappingNode, key_node: yaml.Node | None, key: str, where: str) -> Any:
    hit = _find(node, key)
    if hit is None:
        return _Located(node, key_node, None, None, [key])
    _check_not_alias(hit[0], hit[1], where)
    return _Located(node, key_node, hit[1], hit[0], [])


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


# ----- the expected data -------------------------------------------------------------------------


def _copy(docs: list[Any]) -> list[Any]:
    """A deep copy of parsed YAML. marshal copies plain data in C (shared and recursive parts
    kept as such), several times faster than copy.deepcopy, which takes what marshal cannot
    hold (timestamps)."""
    try:
        copied: list[Any] = marshal.loads(marshal.dumps(docs))
    except ValueError:
        copied = copy.deepcopy(docs)
    return copied


def _expect(docs: list[Any], ops: Sequence[Op]) -> list[Any]:
    """What the documents must read as after `ops`: the same operations on plain data."""
    out = _copy(docs)
    dropped: set[int] = set()
    for op in ops:
        if op.kind == "delete-document":
            dropped.add(op.doc)
            continue
        parent: Any = out[op.doc]
        *head, last = op.path if op.path else (None,)
        for step in head:
            if op.kind in ("set", "append") and isinstance(parent, dict) and step not in parent:
                parent[step] = {}
            if isinstance(parent, dict) and parent.get(step) is None and op.kind == "set":
                parent[step] = {}
            parent = parent[step]
        if op.kind == "set":
            _merge(parent, last, op.value)
        elif op.kind == "delete":
            if isinstance(parent, dict):
                parent.pop(last, None)
        elif op.kind == "rename":
            parent.pop(last)
            parent[op.key] = op.value
        elif op.kind == "remove":
            drop = {_hashable(v) for v in op.values}
            if isinstance(parent.get(last), list):
                parent[last] = [v for v in parent[last] if _hashable(v) not in drop]
        elif op.kind == "append":
            if parent.get(last) is None:
                parent[last] = []
            parent[last].append(op.value)
    return [d for i, d in enumerate(out) if i not in dropped]


def _merge(parent: Any, key: Any, value: Any) -> None:
    if isinstance(value, dict) and isinstance(parent.get(key), dict):
        for k, v in value.items():
            _merge(parent[key], k, v)
    else:
        parent[key] = copy.deepcopy(value)


def _identical(a: Any, b: Any, seen: set[tuple[int, int]] | None = None) -> bool:
    """`a == b` with the same types at every level, keys included: `==` alone would take
    `1` for `true` and `1.0` for `1`, which a YAML reader (and the API server) does not."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list | tuple):
        pair = (id(a), id(b))
        seen = set() if seen is None else seen
        if pair in seen:  # a recursive structure (an alias of an enclosing node)
            return True
        seen.add(pair)
        if len(a) != len(b):
            return False
        if not isinstance(a, dict):
            return all(_identical(x, y, seen) for x, y in zip(a, b, strict=True))
        keys = {k: k for k in b}
        for k, v in a.items():
            if k not in keys or type(keys[k]) is not type(k):
                return False
            if not _identical(v, b[k], seen):
                return False
        return True
    return bool(a is b or a == b)


# ----- entry point -------------------------------------------------------------------------------


def apply_ops(
    text: str, ops: Sequence[Op], where: str = "<text>", before: list[Any] | None = None
) -> str:
    """The text after `ops`, verified to read back as exactly the intended data.

    `before` is the data of `text` when the caller has parsed it already (the repo index has).
    """
    if not ops:
        return text
    if text.startswith(_BOM):
        # libyaml skips a byte order mark without counting it, so node offsets would be one
        # character short; edit the text after it and put it back.
        body = before if before is not None else load_documents(text, where)
        return _BOM + apply_ops(text[1:], ops, where, body)
    planner = _Planner(text, where)
    for op in ops:
        planner.op(op)
    new_text = planner.result()
    if before is None:
        before = load_documents(text, where)
    expected = _expect(before, ops)
    try:
        after = load_documents(new_text, where)
    except InputError as err:
        raise ConflictError(f"{where}: edit would produce invalid YAML ({err})") from err
    if not _identical(after, expected):
        # Imported here: deepdiff (with pydantic) costs ~0.1 s to import, and only a refused
        # edit needs it, to name the paths that would have changed.
        from deepdiff import DeepDiff

        paths = sorted(str(p) for p in DeepDiff(expected, after).affected_paths)
        raise ConflictError(
            f"{where}: edit would change more than intended ({', '.join(map(str, paths[:5]))})"
        )
    return new_text
