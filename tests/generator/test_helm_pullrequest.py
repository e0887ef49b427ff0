"""A Helm stage's PR: pushed with real git to a bare remote and opened on the fake forge, its title
and body taken from the stage commit (the seed's PR templates speak of operators)."""

from __future__ import annotations

from pathlib import Path

from generator.forge import ForgeTarget, connect
from generator.pullrequest import publish
from generator.pullrequest.marker import parse_marker
from tests.fakeforge import FakeForge
from tests.generator.helmrepos import helm_repo
from tests.generator.helpers import git, run


def test_a_helm_stage_pr_says_what_its_commit_says(tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    repo = helm_repo(tmp_path / "work", "flux", "tagged")
    git(repo, "remote", "add", "origin", str(bare))
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    git(repo, "push", "-q", "origin", "main")
    assert run("next", "--repo", str(repo), "--branch", "stage-1").exit_code == 0
    subject = git(repo, "log", "-1", "--format=%s").strip()
    with FakeForge(bare_repo=bare) as fake:
        forge = connect(ForgeTarget("github", fake.url, fake.project), {"GITHUB_TOKEN": fake.token})
        done = publish(repo, forge=forge)
        pull = fake.pulls[1]
    assert done.title == subject == pull["title"]
    assert "operator" not in pull["body"]
    assert "| `infra/istio/istiod-1-28-2.yaml` | create |" in pull["body"]
    assert "Istio-Canary-Stage" not in pull["body"]
    marker = parse_marker(pull["body"])
    assert marker is not None and marker["stage"] == 1 and marker["plan"] == "istiod-1-28-2"
