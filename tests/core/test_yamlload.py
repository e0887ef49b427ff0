"""The strict loader reads every document exactly as PyYAML's safe loader does, duplicates refused."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml

from core.yamlload import Loader

# Awkward but valid YAML: every shape the fast paths handle and every one they hand back to PyYAML.
CORPUS = [
    "a: 1\nb: [x, 'y', \"z\"]\nc: {d: null, e: ~, f: }\n",
    "plain: [yes, No, on, OFF, true, y, n, 0o17, 017, 0x1F, 0b101, 1_000, 190:20:30, -.5, +1.5e+3]\n",
    "floats: [.inf, -.Inf, 1e3, 6.8523015e+5, 685.230_15e+03, 190:20:30.15]\n",
    "strings: ['1.7', \"true\", !!str 1.10, ! 12, '', \"\", ' lead', '=', '<<', a=b]\n",
    "tagged: [!!int '42', !!float '1', !!bool 'yes', !!null '']\n",
    "when: [2001-12-14t21:59:43.10-05:00, 2002-12-14, 2001-12-14 21:59:43.10 -5]\n",
    "bytes: !!binary aGVsbG8=\n",
    "set: !!set {a, b}\nomap: !!omap [{x: 1}, {y: 2}]\npairs: !!pairs [{x: 1}, {x: 2}]\n",
    "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\nmany:\n  <<: [*b, {z: 4}]\n",
    "shared: &s [1, 2]\nagain: *s\nmap: &m {k: v}\nmapagain: *m\n",
    "self: &r [1, *r]\n",
    "selfmap: &q {me: *q}\n",
    "2: one\n2.5: two\ntrue: three\nnull: four\n2020-01-01: date\n",
    "nested:\n  - - deep\n    - [deeper, {deepest: [1]}]\n  - {}\n  - []\n",
    "multi: line\n---\nsecond: doc\n--- 3\n--- \n...\n",
    "key: |\n  literal\n  text\nfolded: >\n  folded\n  text\n",
    "anchored_scalar: &a hello\nref: *a\nkey_alias: &k name\n*k : value\n",
    "\ufeffbom: first\n",
    "ns: {.nan: 1}\n",
]

# Invalid documents: same refusal (type and message) from both loaders, plus our duplicates.
REFUSED = [
    "? [complex, key]\n: value\n",
    "? {a: 1}\n: value\n",
    "a: =\n",
    "a: !!python/object:os.system x\n",
    "a: !custom x\n",
    "? [1]\n: x\nb: {? {c: 1} : y}\n",
    "a: !!int notanumber\n",
    "a: &x {b: *x}\nc: !!set [1]\n",
]

# (text, problem, line of the second key, counted from 1)
DUPLICATES = [
    ("a: 1\nb: 2\na: 3\n", "found duplicate key 'a'", 3),
    ("outer:\n  - {x: 1,\n     x: 2}\n", "found duplicate key 'x'", 3),
    ("yes: 1\ntrue: 2\n", "found duplicate key True", 2),
    ("1: a\n0x1: b\n", "found duplicate key 1", 2),
    ("base: &b {x: 1}\nd:\n  <<: *b\n  y: 1\n  y: 2\n", "found duplicate key 'y'", 5),
]


# PyYAML's own safe loader on the same C parser: the reference, marks included.
_STOCK: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _stock(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=_STOCK))


def _ours(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=Loader))


def _same(a: Any, b: Any, seen: frozenset[int] = frozenset()) -> bool:
    """Equal values of equal types all the way down (True == 1 would hide a retyped scalar)."""
    if type(a) is not type(b):
        return False
    if id(a) in seen:  # a recursive structure: the loop itself is checked by identity
        return True
    inner = seen | {id(a)}
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k], inner) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y, inner) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@pytest.mark.parametrize("text", CORPUS)
def test_values_match_pyyaml_safe_loader(text: str) -> None:
    ours, stock = _ours(text), _stock(text)
    assert len(ours) == len(stock)
    for a, b in zip(ours, stock, strict=True):
        if isinstance(a, dict) and any(isinstance(k, float) and math.isnan(k) for k in a):
            continue  # a NaN key is never equal to itself; its value is checked below
        assert _same(a, b), (a, b)


def test_nan_key_reads_as_nan() -> None:
    [doc] = _ours("ns: {.nan: 1}\n")
    [(key, value)] = doc["ns"].items()
    assert math.isnan(key) and value == 1


def test_aliases_share_one_object_and_recursion_is_kept() -> None:
    [doc] = _ours("shared: &s [1, 2]\nagain: *s\nmap: &m {k: v}\nmapagain: *m\n")
    assert doc["shared"] is doc["again"] and doc["map"] is doc["mapagain"]
    [loop] = _ours("self: &r [1, *r]\n")
    assert loop["self"][1] is loop["self"]
    [cycle] = _ours("selfmap: &q {me: *q}\n")
    assert cycle["selfmap"]["me"] is cycle["selfmap"]


def test_merge_keys_resolve_like_pyyaml() -> None:
    [doc] = _ours("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n")
    assert doc["derived"] == {"x": 1, "y": 3}


@pytest.mark.parametrize("text", REFUSED)
def test_refusals_match_pyyaml(text: str) -> None:
    # Exception: for `!!int notanumber` PyYAML lets a ValueError out, and so must we.
    with pytest.raises(Exception) as stock:
        _stock(text)
    with pytest.raises(Exception) as ours:
        _ours(text)
    assert type(ours.value) is type(stock.value)
    assert str(ours.value) == str(stock.value)


@pytest.mark.parametrize(("text", "problem", "line"), DUPLICATES)
def test_duplicate_keys_are_refused_at_their_line(text: str, problem: str, line: int) -> None:
    with pytest.raises(yaml.constructor.ConstructorError) as err:
        _ours(text)
    assert err.value.problem == problem
    assert err.value.problem_mark is not None
    assert err.value.problem_mark.line + 1 == line


def test_repeated_plain_scalars_resolve_the_same_every_time() -> None:
    text = "a: [1.10, '1.10', 1.10, yes, 'yes', yes, 012, 012]\n"
    for _ in range(3):
        [doc] = _ours(text)
        assert doc["a"] == [1.1, "1.10", 1.1, True, "yes", True, 10, 10]


def test_path_resolvers_are_refused_since_tags_come_from_text_alone() -> None:
    with pytest.raises(TypeError):
        Loader.add_path_resolver("tag:yaml.org,2002:str", ["metadata"], dict)
