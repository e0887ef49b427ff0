"""The parse cache: a second index reads unchanged files from it, and it never answers wrongly."""

from __future__ import annotations

import datetime
import marshal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from generator.index import RepoIndex, build_index
from generator.parsecache import ParseCache

FILES = {
    "ns/a.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n",
    "ns/b.yaml": "# two documents\nkind: Service\nmetadata: {name: b}\n---\nkind: ConfigMap\n",
    "base/kustomization.yaml": "resources:\n- ../ns/a.yaml\n- ../ns/b.yaml\n",
    "anchors.yaml": "x: &x [1, 2]\ny: *x\nz: {<<: {k: v}, n: 1.10, s: '1.10'}\n",
}


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for path, text in FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _content(index: RepoIndex) -> dict[str, list[tuple[int, int, Any]]]:
    return {f: [(d.pos, d.line, d.data) for d in docs] for f, docs in index.files.items()}


def test_second_index_reads_every_file_from_the_cache(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    first = ParseCache.in_git_dir(root)
    built = build_index(root, first)
    assert (first.hits, first.misses) == (0, len(FILES))
    second = ParseCache.in_git_dir(root)
    again = build_index(root, second)
    assert (second.hits, second.misses) == (len(FILES), 0)
    assert _content(again) == _content(built) == _content(build_index(root))
    aliased = again.files["anchors.yaml"][0].data
    assert aliased["x"] is aliased["y"]


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    build_index(root, ParseCache.in_git_dir(root))
    (root / "ns/a.yaml").write_text(FILES["ns/a.yaml"].replace("name: a", "name: a2"))
    cache = ParseCache.in_git_dir(root)
    index = build_index(root, cache)
    assert (cache.hits, cache.misses) == (len(FILES) - 1, 1)
    assert index.files["ns/a.yaml"][0].name == "a2"


def test_the_cache_lives_in_the_git_dir_not_the_work_tree(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    cache = ParseCache.in_git_dir(root)
    build_index(root, cache)
    assert cache.path is not None and cache.path.is_file()
    assert cache.path.is_relative_to(root / ".git")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ".git" not in status and "cache" not in status


@pytest.mark.parametrize(
    "spoil",
    [
        lambda stored: b"not marshal at all",
        lambda stored: marshal.dumps(("another loader", marshal.loads(stored)[1])),
        # Right fingerprint, wrong values: an entry that is not (line, data) pairs is not used.
        lambda stored: marshal.dumps(
            (
                marshal.loads(stored)[0],
                {k: marshal.dumps({"kind": "Evil"}) for k in marshal.loads(stored)[1]},
            )
        ),
        lambda stored: marshal.dumps(
            (marshal.loads(stored)[0], {k: b"\xff" for k in marshal.loads(stored)[1]})
        ),
    ],
)
def test_a_spoilt_cache_is_ignored_and_rewritten(tmp_path: Path, spoil: Any) -> None:
    root = _repo(tmp_path)
    cache = ParseCache.in_git_dir(root)
    expected = _content(build_index(root, cache))
    assert cache.path is not None
    cache.path.write_bytes(spoil(cache.path.read_bytes()))
    again = ParseCache.in_git_dir(root)
    assert _content(build_index(root, again)) == expected
    assert (again.hits, again.misses) == (0, len(FILES))
    healed = ParseCache.in_git_dir(root)
    build_index(root, healed)
    assert healed.hits == len(FILES)


def test_values_marshal_cannot_hold_are_parsed_every_time(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "dated.yaml").write_text("when: 2001-12-14\n")
    build_index(root, ParseCache.in_git_dir(root))
    cache = ParseCache.in_git_dir(root)
    index = build_index(root, cache)
    assert (cache.hits, cache.misses) == (len(FILES), 1)
    assert index.files["dated.yaml"][0].data == {"when": datetime.date(2001, 12, 14)}


def test_outside_a_git_repo_nothing_is_cached(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "a.yaml").write_text("kind: Namespace\n")
    cache = ParseCache.in_git_dir(root)
    assert cache.path is None
    assert build_index(root, cache).files["a.yaml"][0].kind == "Namespace"
    assert list(root.iterdir()) == [root / "a.yaml"]
