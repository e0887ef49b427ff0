"""The splice editor: every byte outside the intended change survives, and YAML is not retyped."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from core.errors import ConflictError, InputError
from generator.yamledit import (
    append_item,
    apply_ops,
    delete_document,
    delete_key,
    remove_items,
    rename_key,
    set_value,
)


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# Each case: (name, original, ops, expected text). Expected texts are written out in full, so a
# single stray byte (a lost comment, a re-indented line, a re-quoted value) fails the test.
CASES = [
    (
        "comments-and-blank-lines",
        d("""
            # header comment
            spec:

              # the version we run
              version: "1.6.14"   # trailing comment

              other: x
            """),
        [set_value(0, ("spec", "version"), "1.7.7")],
        d("""
            # header comment
            spec:

              # the version we run
              version: "1.7.7"   # trailing comment

              other: x
            """),
    ),
    (
        "key-order-new-key-goes-last",
        d("""
            metadata:
              labels:
                z: "1"
                a: b
              name: n
            """),
        [set_value(0, ("metadata", "labels", "m"), "v")],
        d("""
            metadata:
              labels:
                z: "1"
                a: b
                m: v
              name: n
            """),
    ),
    (
        "single-quotes-kept",
        "image: 'docker.io/istio/pilot:1.6.14'\nx: 'it''s'\n",
        [set_value(0, ("image",), "docker.io/istio/pilot:1.7.7")],
        "image: 'docker.io/istio/pilot:1.7.7'\nx: 'it''s'\n",
    ),
    (
        "plain-stays-plain",
        "name: istio-sample\n",
        [set_value(0, ("name",), "istio-sample-v17x")],
        "name: istio-sample-v17x\n",
    ),
    (
        "flow-mapping",
        "metadata: {name: a, labels: {x: y}}\n",
        [set_value(0, ("metadata", "labels", "istio.io/rev"), "r.ns")],
        "metadata: {name: a, labels: {x: y, istio.io/rev: r.ns}}\n",
    ),
    (
        "flow-sequence-remove",
        "autoInjectionNamespaces: [demo-a, 'demo-b', demo-c]  # keep me\n",
        [remove_items(0, ("autoInjectionNamespaces",), ["demo-b"])],
        "autoInjectionNamespaces: [demo-a, demo-c]  # keep me\n",
    ),
    (
        "anchors-survive",
        d("""
            defaults: &res
              cpu: 10m
            a:
              resources: *res
              image: x:1
            """),
        [set_value(0, ("a", "image"), "x:2")],
        d("""
            defaults: &res
              cpu: 10m
            a:
              resources: *res
              image: x:2
            """),
    ),
    (
        "document-separators-and-comments-between",
        d("""
            # first
            a: 1
            ---
            # second
            b: 2
            ...
            ---
            c: 3
            """),
        [set_value(1, ("b",), 5)],
        d("""
            # first
            a: 1
            ---
            # second
            b: 5
            ...
            ---
            c: 3
            """),
    ),
    (
        "crlf-insert-uses-crlf",
        "metadata:\r\n  labels:\r\n    a: b\r\n# tail\r\n",
        [set_value(0, ("metadata", "annotations", "k"), "v")],
        "metadata:\r\n  labels:\r\n    a: b\r\n  annotations:\r\n    k: v\r\n# tail\r\n",
    ),
    (
        "rename-label-in-place",
        d("""
            labels:
              istio-injection: enabled   # the 1.6 way
              team: x
            """),
        [rename_key(0, ("labels", "istio-injection"), "istio.io/rev", "cp-v17x.istio-system")],
        d("""
            labels:
              istio.io/rev: cp-v17x.istio-system   # the 1.6 way
              team: x
            """),
    ),
    (
        "remove-last-block-item-leaves-empty-list",
        d("""
            spec:
              # who we inject
              autoInjectionNamespaces:
              - "demo-b"
              other: 1
            """),
        [remove_items(0, ("spec", "autoInjectionNamespaces"), ["demo-b"])],
        d("""
            spec:
              # who we inject
              autoInjectionNamespaces: []
              other: 1
            """),
    ),
    (
        "delete-key-with-its-block",
        d("""
            a:
              drop:
                x: 1
                y: [1, 2]
              keep: 2
            """),
        [delete_key(0, ("a", "drop"))],
        "a:\n  keep: 2\n",
    ),
    (
        "delete-only-key-leaves-empty-mapping",
        "metadata:\n  labels:\n    istio-injection: enabled\n",
        [delete_key(0, ("metadata", "labels", "istio-injection"))],
        "metadata:\n  labels: {}\n",
    ),
    (
        "append-to-indented-list",
        d("""
            resources:
              - a.yaml   # first
              - b.yaml
            namespace: x
            """),
        [append_item(0, ("resources",), "c.yaml")],
        d("""
            resources:
              - a.yaml   # first
              - b.yaml
              - c.yaml
            namespace: x
            """),
    ),
    (
        "delete-middle-document",
        "a: 1\n---\n# about b\nb: 2\n---\nc: 3\n",
        [delete_document(1)],
        "a: 1\n---\nc: 3\n",
    ),
    (
        "new-key-after-block-scalar",
        "data:\n  script: |\n    echo hi\n\n    echo bye\nnext: 1\n",
        [set_value(0, ("data", "k"), "v")],
        "data:\n  script: |\n    echo hi\n\n    echo bye\n  k: v\nnext: 1\n",
    ),
    (
        "fill-a-null-key",
        "template:\n  metadata:\n  spec: {}\n",
        [set_value(0, ("template", "metadata", "annotations", "a"), "b")],
        "template:\n  metadata:\n    annotations:\n      a: b\n  spec: {}\n",
    ),
    (
        "set-mapping-merges-into-existing",
        d("""
            spec:
              istioControlPlane:
                name: istio-sample   # old
              type: ingress
            """),
        [
            set_value(
                0, ("spec", "istioControlPlane"), {"name": "cp-v17x", "namespace": "istio-system"}
            )
        ],
        d("""
            spec:
              istioControlPlane:
                name: cp-v17x   # old
                namespace: istio-system
              type: ingress
            """),
    ),
    (
        "unicode-offsets",
        "# Grüße, 日本\nname: 'é'\nv: 1\n",
        [set_value(0, ("v",), 2)],
        "# Grüße, 日本\nname: 'é'\nv: 2\n",
    ),
]


@pytest.mark.parametrize(
    ("original", "ops", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_edit_is_byte_exact(original: str, ops: list, expected: str) -> None:
    assert apply_ops(original, ops, "f.yaml") == expected


RETYPED = [
    "1.10",
    "true",
    "on",
    "off",
    "yes",
    "no",
    "y",
    "null",
    "~",
    "0755",
    "1e3",
    "0x1F",
    "",
    "12:30",
    "1.7.7",
]


@pytest.mark.parametrize("value", RETYPED)
@pytest.mark.parametrize("where", ["existing", "new-key", "flow", "list-item"])
def test_values_yaml_would_retype_stay_strings(value: str, where: str) -> None:
    original = {
        "existing": "a:\n  v: old\n",
        "new-key": "a:\n  x: 1\n",
        "flow": "a: {x: 1}\n",
        "list-item": "a:\n  v:\n  - old\n",
    }[where]
    op = (
        append_item(0, ("a", "v"), value)
        if where == "list-item"
        else set_value(0, ("a", "v"), value)
    )
    out = apply_ops(original, [op], "f.yaml")
    data = yaml.safe_load(out)
    got = data["a"]["v"][-1] if where == "list-item" else data["a"]["v"]
    assert got == value and isinstance(got, str)


def test_edit_that_changes_more_than_intended_is_refused() -> None:
    # Renaming `a` to `b` where a later `b` exists: the later key wins when read back, so the
    # result is not what was intended (a duplicate key, which the loader now refuses outright)
    # and nothing is returned.
    with pytest.raises(ConflictError, match="duplicate key 'b'"):
        apply_ops("a: 1\nb: 2\n", [rename_key(0, ("a",), "b", 9)], "f.yaml")


def test_editing_through_an_alias_is_refused() -> None:
    with pytest.raises(ConflictError, match="alias"):
        apply_ops("x: &a {k: 1}\ny: *a\n", [set_value(0, ("y", "k"), 2)], "f.yaml")


def test_invalid_yaml_names_file_and_line() -> None:
    with pytest.raises(InputError, match=r"^f.yaml:3: invalid YAML"):
        apply_ops("a: 1\nb: [1,\nc: }\n", [set_value(0, ("a",), 2)], "f.yaml")


def test_no_ops_returns_the_text_unchanged() -> None:
    text = "a:   1   # odd spacing\n"
    assert apply_ops(text, [], "f.yaml") is text


def test_a_byte_order_mark_survives_and_does_not_shift_the_edit() -> None:
    # libyaml drops the BOM before counting offsets, so every splice landed one character early.
    text = "\ufeffkind: Namespace\nmetadata:\n  name: a\n  labels:\n    x: enabled\n"
    out = apply_ops(text, [set_value(0, ("metadata", "labels", "x"), "disabled")], "f.yaml")
    assert out == text.replace("x: enabled", "x: disabled")
