"""An edit is verified by type as well as value: `1` where the text says `true` is a change."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ConflictError
from generator.yamledit import apply_ops, set_value


@pytest.mark.parametrize(
    ("text", "before"),
    [
        ("a: true\nb: x\n", [{"a": 1, "b": "x"}]),  # the text says true: a bool, not 1
        ("a: 1\nb: x\n", [{"a": 1.0, "b": "x"}]),  # the text says 1, an int
        ("1: a\nb: x\n", [{True: "a", "b": "x"}]),  # the text's key is 1, not true
        ("a: [1]\nb: x\n", [{"a": [True], "b": "x"}]),  # and so on all the way down
    ],
)
def test_data_equal_only_by_python_equality_is_refused(text: str, before: list[Any]) -> None:
    with pytest.raises(ConflictError, match="more than intended"):
        apply_ops(text, [set_value(0, ("b",), "y")], "f.yaml", before)


def test_matching_data_edits_and_aliases_of_enclosing_nodes_compare() -> None:
    text = "a: true\nb: x\n'1': 1\nloop: &l [*l]\n"
    loop: list[Any] = []
    loop.append(loop)
    before = [{"a": True, "b": "x", "1": 1, "loop": loop}]
    after = apply_ops(text, [set_value(0, ("b",), "z")], "f.yaml", before)
    assert after == "a: true\nb: z\n'1': 1\nloop: &l [*l]\n"
