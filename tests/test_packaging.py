"""The wheel carries templates/ and example-repo/ (dotfiles included) and the code finds them there.

`pip install .` must give a working `istio-canary demo` outside a checkout, so this builds the real
wheel, unpacks it away from the source tree and asks the installed code where its data lives.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (found,) = out.glob("istio_canary-*.whl")
    return found


def test_wheel_holds_templates_example_repo_and_its_ci_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "templates", "example-repo"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert tracked, "templates/ and example-repo/ are tracked in git"
    missing = [p for p in tracked if f"generator/_data/{p}" not in names]
    assert missing == []
    assert "generator/_data/example-repo/.github/workflows/istio-canary-gate.yml" in names


def test_installed_code_finds_its_data_outside_a_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "from generator.resources import example_repo_dir, templates_dir; "
        "print(templates_dir()); print(example_repo_dir())"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {probe}"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert out == [
        str(site / "generator" / "_data" / "templates"),
        str(site / "generator" / "_data" / "example-repo"),
    ]
    assert (Path(out[0]) / "istio-cr.yaml.j2").is_file()
    assert (Path(out[1]) / "istio-system" / "istio.yaml").is_file()
