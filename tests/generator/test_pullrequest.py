"""Stage branches pushed with real git to a bare remote, PR bodies rendered from the commits."""

from __future__ import annotations

import re
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.errors import (
    ConflictError,
    ForgeError,
    InputError,
    PreconditionError,
    UsageError,
)
from core.plan import (
    PLAN_PATH,
    ControlPlane,
    GatewayRef,
    MeshNamespace,
    OperatorRelease,
    Plan,
    Stage,
    dump_plan,
)
from generator.cli import main
from generator.forge import Forge, ForgeTarget, connect
from generator.objectdiff import semantic_diff
from generator.pullrequest import (
    ChangedFile,
    RemoteAuth,
    branch_name,
    open_next_stage,
    parse_marker,
    publish,
    render_body,
    render_title,
    token_auth,
)
from tests.fakeforge import FakeForge, GitHttpServer
from tests.generator.helpers import example_repo

BRANCH = "istio-canary/istio-sample-v17x/namespaces-1"


def seed_plan() -> Plan:
    """The seed's 1.6 -> 1.7 plan, nothing applied, as `init` would write it."""
    old = OperatorRelease("istio-operator-v16x", "istio-system", "0.6.12", "argocd-application")
    new = OperatorRelease("istio-operator-v17x", "istio-system", "0.7.14", "argocd-application")
    return Plan(
        source=ControlPlane("istio-sample", "istio-system", "1.6.14", old),
        target=ControlPlane("istio-sample-v17x", "istio-system", "1.7.7", new, global_=False),
        stages=(
            Stage(1, "control-plane", "control-plane"),
            Stage(2, "gateways", "gateways", gateways=("istio-system/istio-ingressgateway",)),
            Stage(3, "namespaces-1", "namespaces", namespaces=("demo-a",)),
            Stage(4, "namespaces-2", "namespaces", namespaces=("demo-b",)),
            Stage(5, "cleanup", "cleanup"),
        ),
        namespaces=(MeshNamespace("demo-a"), MeshNamespace("demo-b")),
        gateways=(GatewayRef("istio-ingressgateway", "istio-system", in_repo=False),),
    )


NAMESPACES = """\
# the demo namespaces
apiVersion: v1
kind: Namespace
metadata:
  name: demo-a
  labels:
    istio-injection: enabled
---
apiVersion: v1
kind: Namespace
metadata:
  name: demo-b
  labels:
    istio-injection: enabled
"""
MOVED = NAMESPACES.replace(
    "  name: demo-a\n  labels:\n    istio-injection: enabled",
    "  name: demo-a\n  labels:\n    istio.io/rev: istio-sample-v17x.istio-system",
)


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class Remote:
    """A bare repo as `origin`, our clone, and a second clone that races us."""

    bare: Path
    work: Path
    other: Path

    def stage_commit(self, upto: int = 3, namespaces: str = MOVED) -> str:
        """Commit stage `upto` on a work branch, the way `istio-canary next` does."""
        plan = seed_plan()
        for i in range(1, upto + 1):
            plan = plan.mark_applied(i)
        (self.work / PLAN_PATH).write_text(dump_plan(plan))
        (self.work / "apps/namespaces.yaml").write_text(namespaces)
        stage = plan.stage(upto)
        trailer = f"Istio-Canary-Stage: {upto}/{plan.total} {stage.name}"
        git(self.work, "commit", "-qam", f"istio-canary: {stage.name}\n\n{trailer}")
        return git(self.work, "rev-parse", "HEAD")

    def push_from_other(self, path: str, text: str, ref: str = "main") -> str:
        """Another clone commits on top of origin/main and pushes that to `ref`."""
        git(self.other, "fetch", "-q", "origin")
        git(self.other, "checkout", "-q", "-B", "tmp", "origin/main")
        (self.other / path).parent.mkdir(parents=True, exist_ok=True)
        (self.other / path).write_text(text)
        git(self.other, "add", path)
        git(self.other, "commit", "-qm", f"change {path}")
        git(self.other, "push", "-q", "origin", f"HEAD:refs/heads/{ref}")
        return git(self.other, "rev-parse", "HEAD")


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    bare, work, other = tmp_path / "origin.git", tmp_path / "work", tmp_path / "other"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    (work / "apps").mkdir()
    (work / "apps/namespaces.yaml").write_text(NAMESPACES)
    (work / PLAN_PATH).parent.mkdir()
    (work / PLAN_PATH).write_text(dump_plan(seed_plan()))
    git(work, "add", ".")
    git(work, "commit", "-qm", "istio-canary: plan\n\nIstio-Canary-Stage: 0/5 plan")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "-q", "origin", "main")
    git(work, "checkout", "-q", "-b", "work")
    git(tmp_path, "clone", "-q", str(bare), str(other))
    return Remote(bare, work, other)


@pytest.fixture
def forge(remote: Remote) -> Iterator[FakeForge]:
    with FakeForge(bare_repo=remote.bare) as fake:
        yield fake


def github(fake: FakeForge) -> Forge:
    target = ForgeTarget("github", fake.url, fake.project)
    return connect(target, {"GITHUB_TOKEN": fake.token}, backoff=0.01)


# ----- rendering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (1, "istio-canary 1/5 control-plane: install Istio 1.7.7 control plane istio-sample-v17x"),
        (
            2,
            "istio-canary 2/5 gateways: move istio-system/istio-ingressgateway to istio-sample-v17x",
        ),
        (3, "istio-canary 3/5 namespaces-1: move demo-a to istio-sample-v17x (Istio 1.7.7)"),
        (5, "istio-canary 5/5 cleanup: delete the Istio 1.6.14 control plane istio-sample and"),
    ],
)
def test_title_says_what_the_stage_does(index: int, expected: str) -> None:
    title = render_title(seed_plan(), seed_plan().stage(index))
    assert title.startswith(expected) and "\n" not in title


def test_branch_name_is_plan_then_stage() -> None:
    assert branch_name(seed_plan(), seed_plan().stage(3)) == BRANCH


def test_body_has_why_diff_timeline_revisions_gate_rollback_and_marker() -> None:
    plan = seed_plan()
    files = [ChangedFile("apps/namespaces.yaml", NAMESPACES, MOVED)]

    body = render_body(plan, plan.stage(3), files, "b" * 40, "h" * 40)

    assert "takes\nprecedence over `istio.io/rev`" in body  # the seed's reason, in its words
    assert (
        '| Namespace demo-a | `apps/namespaces.yaml` | `metadata.labels.istio-injection`: removed `"enabled"` |'
        in body
    )
    assert '`metadata.labels["istio.io/rev"]`: added `"istio-sample-v17x.istio-system"`' in body
    assert "demo-b" not in body.split("### Objects changed")[1].split("### Namespaces")[0]
    assert "  class s0,s1,s2 done\n  class s3 current\n  class s4,s5 todo" in body
    assert (
        "| demo-a | `istio-sample.istio-system` | **`istio-sample-v17x.istio-system`** | 1.7.7 |"
        in body
    )
    assert "| demo-b | `istio-sample.istio-system` | `istio-sample.istio-system` | 1.6.14 |" in body
    assert "istio-canary-verify gate --repo . --kubeconfig" in body
    assert "istio-canary rollback --repo . --namespace demo-a\n```" in body
    assert parse_marker(body) == {
        "v": 1,
        "plan": "istio-sample-v17x",
        "stage": 3,
        "name": "namespaces-1",
        "total": 5,
        "base": "b" * 40,
        "head": "h" * 40,
    }


@pytest.mark.parametrize(
    ("index", "phrase"),
    [
        (1, "the ingress gateway's LoadBalancer\nService is not recreated"),
        (2, "adopts it into the repo"),
        (5, "There is no GitOps way back once this merges"),
    ],
)
def test_body_explains_each_stage_kind(index: int, phrase: str) -> None:
    plan = seed_plan()
    assert phrase in render_body(plan, plan.stage(index), [])


def test_marker_is_absent_from_a_human_pr() -> None:
    assert parse_marker("Bump the operator\n<!-- a comment -->") is None


def test_semantic_diff_reports_added_removed_and_modified_objects() -> None:
    cr = "apiVersion: istio.banzaicloud.io/v1beta1\nkind: Istio\nmetadata:\n  name: {n}\n  namespace: istio-system\nspec:\n  version: {v}\n"
    files = [
        ChangedFile(
            "istio-system/istio-v17x.yaml", None, cr.format(n="istio-sample-v17x", v="1.7.7")
        ),
        ChangedFile("istio-system/istio.yaml", cr.format(n="istio-sample", v="1.6.14"), None),
        ChangedFile("apps/namespaces.yaml", NAMESPACES, MOVED),
        ChangedFile(PLAN_PATH, "a: 1", "a: 2"),
    ]

    changes = {(c.ref, c.action): c for c in semantic_diff(files)}

    assert set(changes) == {
        ("Istio istio-system/istio-sample-v17x", "added"),
        ("Istio istio-system/istio-sample", "removed"),
        ("Namespace demo-a", "modified"),
    }
    moved = changes[("Namespace demo-a", "modified")]
    assert [(f.path, f.before, f.after) for f in moved.fields] == [
        ("metadata.labels.istio-injection", '"enabled"', ""),
        ('metadata.labels["istio.io/rev"]', "", '"istio-sample-v17x.istio-system"'),
    ]


def test_semantic_diff_names_a_file_it_cannot_parse() -> None:
    with pytest.raises(InputError, match=r"apps/broken.yaml: cannot be read as YAML"):
        semantic_diff([ChangedFile("apps/broken.yaml", "a: [1", "a: 2")])


# ----- pushing and opening -----------------------------------------------------------------------


def test_publish_pushes_the_stage_branch_and_opens_one_pr(remote: Remote, forge: FakeForge) -> None:
    head = remote.stage_commit()

    done = publish(remote.work, forge=github(forge))

    assert done.pushed.action == "created" and done.pushed.branch == BRANCH
    assert git(remote.bare, "rev-parse", f"refs/heads/{BRANCH}") == head
    assert done.outcome is not None and done.outcome.action == "opened"
    pull = forge.pulls[1]
    assert pull["head"]["ref"] == BRANCH and pull["head"]["sha"] == head
    assert pull["title"] == done.title and pull["title"].startswith("istio-canary 3/5 namespaces-1")
    marker = parse_marker(pull["body"])
    assert marker is not None and marker["head"] == head
    assert marker["base"] == git(remote.bare, "rev-parse", "main")
    assert "`metadata.labels.istio-injection`: removed" in pull["body"]


def test_publish_again_changes_nothing(remote: Remote, forge: FakeForge) -> None:
    remote.stage_commit()
    publish(remote.work, forge=github(forge))

    again = publish(remote.work, forge=github(forge))

    assert again.pushed.action == "unchanged"
    assert again.outcome is not None and again.outcome.action == "unchanged"
    assert len(forge.pulls) == 1 and len(forge.calls("POST", "/pulls")) == 1


def test_moved_base_rebuilds_the_stage_on_it(remote: Remote, forge: FakeForge) -> None:
    remote.stage_commit()
    new_main = remote.push_from_other("README.md", "someone else's change\n")

    done = publish(remote.work, forge=github(forge))

    head = git(remote.bare, "rev-parse", f"refs/heads/{BRANCH}")
    assert done.pushed.rebuilt == 1 and done.pushed.base_sha == new_main
    assert git(remote.bare, "rev-parse", f"{head}^") == new_main
    assert git(remote.work, "rev-parse", BRANCH) == head
    assert (parse_marker(forge.pulls[1]["body"]) or {})["base"] == new_main


def test_a_push_race_is_retried_on_the_new_base(remote: Remote, forge: FakeForge) -> None:
    remote.stage_commit()
    racing: list[str] = []

    def race(attempt: int) -> None:
        if attempt == 0:  # another job pushes main and our branch between our fetch and push
            racing.append(remote.push_from_other("README.md", "racing change\n"))
            remote.push_from_other("apps/other.yaml", "x: 1\n", ref=BRANCH)

    done = publish(remote.work, forge=github(forge), before_push=race)

    head = git(remote.bare, "rev-parse", f"refs/heads/{BRANCH}")
    assert done.pushed.head_sha == head and done.pushed.action == "updated"
    assert git(remote.bare, "rev-parse", f"{head}^") == racing[0]
    assert git(remote.bare, "show", f"{head}:apps/namespaces.yaml") == MOVED.strip()
    assert len(forge.pulls) == 1


def test_a_conflicting_base_stops_before_pushing(remote: Remote, forge: FakeForge) -> None:
    before = remote.stage_commit()
    remote.push_from_other("apps/namespaces.yaml", NAMESPACES.replace("enabled", "disabled", 1))

    with pytest.raises(ConflictError, match=r"conflicts in apps/namespaces.yaml") as err:
        publish(remote.work, forge=github(forge))

    assert err.value.exit_code == 2
    assert git(remote.bare, "branch", "--list", BRANCH) == ""
    assert git(remote.work, "rev-parse", "HEAD") == before and forge.pulls == {}
    assert git(remote.work, "status", "--porcelain") == ""


def test_push_failure_redacts_the_token_in_the_remote_url(remote: Remote) -> None:
    remote.stage_commit()
    git(remote.work, "remote", "add", "ci", "http://x-access-token:s3cr3t-tok@127.0.0.1:9/a/b.git")

    with pytest.raises(ForgeError) as err:
        publish(remote.work, remote="ci", auth=RemoteAuth(secrets=("s3cr3t-tok",)))

    assert err.value.exit_code == 3 and "s3cr3t-tok" not in str(err.value)


def test_a_commit_that_is_not_a_stage_is_refused(remote: Remote) -> None:
    (remote.work / "notes.txt").write_text("hi\n")
    git(remote.work, "add", "notes.txt")
    git(remote.work, "commit", "-qm", "just a note")

    with pytest.raises(PreconditionError, match="is not a stage commit"):
        publish(remote.work)
    assert git(remote.bare, "branch", "--list", "istio-canary/*") == ""


def test_body_files_come_from_git(remote: Remote) -> None:
    remote.stage_commit()
    done = publish(remote.work)
    assert done.outcome is None
    assert (
        "Files: `.istio-canary/plan.yaml` (modify), `apps/namespaces.yaml` (modify)." in done.body
    )
    assert textwrap.dedent(done.body).count("<!-- istio-canary {") == 1


def test_token_auth_pushes_over_http_without_storing_the_token(remote: Remote) -> None:
    with GitHttpServer(root=remote.bare.parent, token="glpat-s3cret") as server:
        git(remote.work, "remote", "add", "web", f"{server.url}/origin.git")
        remote.stage_commit()

        done = publish(
            remote.work, remote="web", auth=token_auth(remote.work, "web", "gitlab", "glpat-s3cret")
        )

        assert git(remote.bare, "rev-parse", f"refs/heads/{BRANCH}") == done.pushed.head_sha
        assert server.authorized > 0 and server.refused == 0
        assert "s3cret" not in (remote.work / ".git/config").read_text()


def test_a_rejected_token_fails_without_prompting_or_leaking(remote: Remote) -> None:
    with GitHttpServer(root=remote.bare.parent, token="the-right-one") as server:
        git(remote.work, "remote", "add", "web", f"{server.url}/origin.git")
        remote.stage_commit()
        auth = token_auth(remote.work, "web", "gitlab", "a-wrong-token")

        with pytest.raises(ForgeError) as err:
            publish(remote.work, remote="web", auth=auth)

        assert server.refused > 0
        assert all(secret not in str(err.value) for secret in auth.secrets)
        assert git(remote.bare, "branch", "--list", BRANCH) == ""


def test_token_auth_leaves_ssh_remotes_alone(remote: Remote) -> None:
    git(remote.work, "remote", "add", "ssh", "git@github.com:acme/mesh.git")
    assert token_auth(remote.work, "ssh", "github", "tok").env == {}


# ----- next --open-pr ----------------------------------------------------------------------------


def stage_commit_on(remote: Remote) -> Callable[[str], str]:
    """Stands in for `workflow.next_stage(branch=...)`: the stage commit on a new branch."""

    def commit(branch: str) -> str:
        git(remote.work, "switch", "-q", "-c", branch)
        return remote.stage_commit(upto=1)

    return commit


def test_open_next_stage_commits_pushes_and_opens(remote: Remote, forge: FakeForge) -> None:
    git(remote.work, "switch", "-q", "main")
    env = {"GITHUB_TOKEN": forge.token, "GITHUB_REPOSITORY": forge.project}

    done = open_next_stage(
        remote.work, "github", stage_commit_on(remote), api_url=forge.url, env=env
    )

    assert done.pushed.branch == "istio-canary/istio-sample-v17x/control-plane"
    assert done.outcome is not None and done.outcome.action == "opened"
    assert forge.pulls[1]["head"]["sha"] == git(remote.bare, "rev-parse", done.pushed.branch)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GITHUB_REPOSITORY": "acme/mesh"}, "GITHUB_TOKEN is not set"),
        ({"GITHUB_TOKEN": "t"}, "set GITHUB_REPOSITORY"),
    ],
)
def test_open_next_stage_refuses_bad_setup_before_committing(
    remote: Remote, env: dict[str, str], message: str
) -> None:
    git(remote.work, "switch", "-q", "main")
    before = git(remote.work, "rev-parse", "HEAD")

    with pytest.raises(UsageError, match=message):
        open_next_stage(remote.work, "github", stage_commit_on(remote), env=env)

    assert git(remote.work, "rev-parse", "HEAD") == before
    assert git(remote.work, "branch", "--list", "istio-canary/*") == ""


def test_open_next_stage_refuses_a_checkout_behind_the_remote(
    remote: Remote, forge: FakeForge
) -> None:
    git(remote.work, "switch", "-q", "main")
    remote.push_from_other("README.md", "newer\n")
    env = {"GITHUB_TOKEN": forge.token, "GITHUB_REPOSITORY": forge.project}

    with pytest.raises(PreconditionError, match="must be made on the newest main"):
        open_next_stage(remote.work, "github", stage_commit_on(remote), api_url=forge.url, env=env)
    assert forge.requests == []


# ----- the CLI, with the real generator on example-repo --------------------------------------------


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_next_open_pr_on_example_repo_opens_then_updates_one_pr(tmp_path: Path, kind: str) -> None:
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    work = example_repo(tmp_path / "work")
    assert cli("init", "--repo", str(work), "--to-version", "1.7.7").exit_code == 0
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "-q", "origin", "main")

    with FakeForge(bare_repo=bare) as forge:
        if kind == "github":
            env = {"GITHUB_TOKEN": forge.token, "GITHUB_REPOSITORY": forge.project}
            api, opened = forge.url, forge.pulls
        else:
            env = {"GITLAB_TOKEN": forge.token, "CI_PROJECT_PATH": forge.project}
            api, opened = forge.url + "/api/v4", forge.merge_requests
        args = ["next", "--open-pr", kind, "--api-url", api]
        first = cli(*args, "--repo", str(work), env=env)
        # A second CI run on a fresh checkout makes the same stage again and updates the PR.
        again = tmp_path / "again"
        git(tmp_path, "clone", "-q", str(bare), str(again))
        second = cli(*args, "--repo", str(again), env=env)

        assert first.exit_code == 0, first.output
        assert f"opened {kind} #1: istio-canary 1/5 control-plane" in first.output
        assert second.exit_code == 0, second.output
        # Same second, same commit: "unchanged"; otherwise a new head sha: "updated".
        assert re.search(rf"^(updated|unchanged) {kind} #1: ", second.output, re.M)
        assert len(opened) == 1
        pr = opened[1]
        body = pr.get("body", pr.get("description", ""))
        branch = "istio-canary/istio-sample-v17x/control-plane"
        head = pr["head"]["sha"] if kind == "github" else pr["sha"]
        assert head == git(bare, "rev-parse", branch)
        assert (parse_marker(body) or {}).get("head") == head
        assert (
            "| Istio istio-system/istio-sample-v17x | `istio-system/istio-sample-v17x.yaml` | **added** |"
            in body
        )
        assert "| Application argocd/istio-operator-v17x |" in body
        assert git(bare, "rev-parse", "main") == git(work, "rev-parse", "origin/main")
        assert forge.token not in first.output + second.output


def test_next_open_pr_does_not_mix_with_dry_run(tmp_path: Path) -> None:
    work = example_repo(tmp_path / "work")
    result = cli("next", "--repo", str(work), "--open-pr", "gitlab", "--dry-run")
    assert result.exit_code == 2 and "cannot be combined with --dry-run" in result.output
