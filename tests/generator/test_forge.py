"""Forge clients against a fake GitHub/GitLab served over real HTTP on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from core.errors import ForgeError, UsageError
from generator.forge import (
    Forge,
    ForgeTarget,
    PullRequestSpec,
    connect,
    open_or_update,
    parse_remote_url,
    redact,
    resolve_target,
)
from tests.fakeforge import FakeForge

FAST = {"backoff": 0.01, "timeout": 5.0}
SPEC = PullRequestSpec(
    head="istio-canary/istio-sample-v17x/control-plane",
    base="main",
    title="istio-canary 1/5 control-plane",
    body="body v1",
)


@pytest.fixture
def fake() -> Iterator[FakeForge]:
    with FakeForge() as forge:
        yield forge


def github(fake: FakeForge, token: str | None = None, prefix: str = "") -> Forge:
    target = ForgeTarget("github", fake.url + prefix, fake.project)
    return connect(target, {"GITHUB_TOKEN": token or fake.token}, **FAST)


def gitlab(fake: FakeForge, token: str | None = None) -> Forge:
    target = ForgeTarget("gitlab", fake.url + "/api/v4", fake.project)
    return connect(target, {"GITLAB_TOKEN": token or fake.token}, **FAST)


# ----- GitHub ------------------------------------------------------------------------------------


def test_github_opens_a_labelled_pull_request_with_the_token_as_bearer(fake: FakeForge) -> None:
    outcome = open_or_update(github(fake), SPEC)

    assert outcome.action == "opened"
    assert outcome.pr.number == 1 and outcome.pr.head == SPEC.head and outcome.pr.base == "main"
    [create] = fake.calls("POST", "/repos/acme/mesh/pulls")
    assert create.headers["Authorization"] == f"Bearer {fake.token}"
    assert create.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert create.body == {
        "title": SPEC.title,
        "head": SPEC.head,
        "base": "main",
        "body": "body v1",
    }
    [listing] = fake.calls("GET", "/pulls")
    assert listing.query == {"state": "open", "head": f"acme:{SPEC.head}", "base": "main"}
    assert [label["name"] for label in fake.pulls[1]["labels"]] == ["istio-canary"]


def test_github_second_run_updates_the_same_pull_request(fake: FakeForge) -> None:
    forge = github(fake)
    open_or_update(forge, SPEC)

    same = open_or_update(forge, SPEC)
    changed = open_or_update(forge, PullRequestSpec(SPEC.head, "main", "new title", "body v2"))

    assert same.action == "unchanged"
    assert changed.action == "updated" and changed.pr.number == same.pr.number
    assert len(fake.pulls) == 1
    assert fake.pulls[1]["title"] == "new title" and fake.pulls[1]["body"] == "body v2"
    assert len(fake.calls("POST", "/pulls")) == 1
    assert len(fake.calls("PATCH", "/pulls/1")) == 1


def test_github_422_already_exists_is_a_race_and_updates_the_existing_pr(
    fake: FakeForge,
) -> None:
    number = fake.open_pull(SPEC.head, "main", title="opened by a concurrent job")
    fake.hide_next_lists(1)  # our lookup misses it, as when the other job opens it just after

    outcome = open_or_update(github(fake), SPEC)

    assert outcome.action == "updated" and outcome.pr.number == number
    assert len(fake.pulls) == 1 and fake.pulls[number]["title"] == SPEC.title
    assert len(fake.calls("POST", "/pulls")) == 1  # answered 422


def test_github_enterprise_base_url_is_honoured(fake: FakeForge) -> None:
    outcome = open_or_update(github(fake, prefix="/api/v3"), SPEC)

    assert outcome.action == "opened"
    assert all(r.path.startswith("/api/v3/repos/acme/mesh/") for r in fake.requests)


def test_github_bad_credentials_is_exit_3_naming_the_variable(fake: FakeForge) -> None:
    with pytest.raises(ForgeError) as err:
        open_or_update(github(fake, token="wrong-token-value"), SPEC)

    assert err.value.exit_code == 3
    assert "HTTP 401 Bad credentials" in str(err.value) and "GITHUB_TOKEN" in str(err.value)
    assert "wrong-token-value" not in str(err.value)
    assert fake.pulls == {}


def test_github_5xx_is_retried_then_succeeds(fake: FakeForge) -> None:
    fake.fail_next(502, times=2)

    outcome = open_or_update(github(fake), SPEC)

    assert outcome.action == "opened" and len(fake.pulls) == 1
    assert len(fake.calls("GET", "/pulls")) == 3  # two 502s, then the real answer


def test_github_5xx_that_never_ends_is_exit_3(fake: FakeForge) -> None:
    fake.fail_next(503, times=10)

    with pytest.raises(ForgeError) as err:
        open_or_update(github(fake), SPEC)

    assert "failed after 4 attempts: HTTP 503" in str(err.value)
    assert len(fake.requests) == 4


def test_an_error_body_echoing_the_token_is_redacted(fake: FakeForge) -> None:
    fake.respond_next(400, {"message": f"header Authorization: Bearer {fake.token} is malformed"})

    with pytest.raises(ForgeError) as err:
        open_or_update(github(fake), SPEC)

    assert fake.token not in str(err.value)
    assert "Bearer *** is malformed" in str(err.value)


def test_unknown_repository_is_exit_3_with_a_hint(fake: FakeForge) -> None:
    target = ForgeTarget("github", fake.url, "acme/other")
    forge = connect(target, {"GITHUB_TOKEN": fake.token}, **FAST)

    with pytest.raises(ForgeError, match="HTTP 404 Not Found; wrong project"):
        open_or_update(forge, SPEC)


def test_unreachable_forge_is_exit_3(fake: FakeForge) -> None:
    target = ForgeTarget("github", "http://127.0.0.1:9", fake.project)  # discard port: refused
    forge = connect(target, {"GITHUB_TOKEN": fake.token}, attempts=2, backoff=0.01)

    with pytest.raises(ForgeError, match="failed after 2 attempts"):
        open_or_update(forge, SPEC)


# ----- GitLab ------------------------------------------------------------------------------------


def test_gitlab_opens_a_merge_request_with_private_token_and_encoded_project(
    fake: FakeForge,
) -> None:
    outcome = open_or_update(gitlab(fake), SPEC)

    assert outcome.action == "opened" and outcome.pr.number == 1
    [create] = fake.calls("POST", "/merge_requests")
    assert create.raw_path == "/api/v4/projects/acme%2Fmesh/merge_requests"
    assert create.headers["PRIVATE-TOKEN"] == fake.token
    assert create.body["source_branch"] == SPEC.head and create.body["target_branch"] == "main"
    assert create.body["description"] == "body v1" and create.body["labels"] == "istio-canary"


def test_gitlab_second_run_updates_and_409_race_is_handled(fake: FakeForge) -> None:
    forge = gitlab(fake)
    open_or_update(forge, SPEC)
    fake.hide_next_lists(1)

    outcome = open_or_update(forge, PullRequestSpec(SPEC.head, "main", "t2", "body v2"))

    assert outcome.action == "updated" and outcome.pr.number == 1
    assert len(fake.merge_requests) == 1 and fake.merge_requests[1]["description"] == "body v2"
    assert [r.method for r in fake.requests[-4:]] == ["GET", "POST", "GET", "PUT"]


def test_gitlab_bad_token_names_gitlab_token(fake: FakeForge) -> None:
    with pytest.raises(ForgeError, match=r"HTTP 401 401 Unauthorized; check GITLAB_TOKEN"):
        open_or_update(gitlab(fake, token="nope"), SPEC)


# ----- the forges' size limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "field", "size", "message"),
    [
        ("github", "title", 257, "title is too long (maximum is 256 characters)"),
        ("github", "body", 65_537, "body is too long (maximum is 65536 characters)"),
        ("gitlab", "title", 256, "title is too long (maximum is 255 characters)"),
        ("gitlab", "body", 1_048_577, "description is too long (maximum is 1048576 characters)"),
    ],
)
def test_a_text_over_the_forge_limit_is_refused_as_the_real_forge_does(
    fake: FakeForge, which: str, field: str, size: int, message: str
) -> None:
    forge = github(fake) if which == "github" else gitlab(fake)
    at_limit = {"title": SPEC.title, "body": SPEC.body, field: "x" * (size - 1)}
    over = {**at_limit, field: "x" * size}

    open_or_update(forge, PullRequestSpec(SPEC.head, "main", at_limit["title"], at_limit["body"]))
    with pytest.raises(ForgeError, match=re.escape(message)) as err:
        open_or_update(forge, PullRequestSpec(SPEC.head, "main", over["title"], over["body"]))

    assert err.value.exit_code == 3


# ----- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("git@github.com:acme/mesh.git", ("github.com", "acme/mesh")),
        ("https://github.com/acme/mesh", ("github.com", "acme/mesh")),
        ("https://x-access-token:abc@ghe.corp/acme/mesh.git", ("ghe.corp", "acme/mesh")),
        (
            "ssh://git@gitlab.corp:2222/platform/infra/mesh.git",
            ("gitlab.corp", "platform/infra/mesh"),
        ),
        ("/srv/git/mesh.git", None),
        ("file:///srv/git/mesh.git", None),
    ],
)
def test_parse_remote_url(url: str, expected: tuple[str, str] | None) -> None:
    assert parse_remote_url(url) == expected


@pytest.mark.parametrize(
    ("kind", "remote", "env", "api_url", "project"),
    [
        ("github", "git@github.com:acme/mesh.git", {}, "https://api.github.com", "acme/mesh"),
        ("github", "https://ghe.corp/acme/mesh.git", {}, "https://ghe.corp/api/v3", "acme/mesh"),
        (
            "github",
            "/local/bare.git",
            {"GITHUB_REPOSITORY": "acme/mesh", "GITHUB_API_URL": "https://ghe.corp/api/v3/"},
            "https://ghe.corp/api/v3",
            "acme/mesh",
        ),
        (
            "gitlab",
            "git@gitlab.com:grp/sub/mesh.git",
            {},
            "https://gitlab.com/api/v4",
            "grp/sub/mesh",
        ),
        (
            "gitlab",
            "https://gitlab.corp/grp/mesh.git",
            {"CI_API_V4_URL": "https://gitlab.corp/api/v4", "CI_PROJECT_PATH": "grp/mesh"},
            "https://gitlab.corp/api/v4",
            "grp/mesh",
        ),
    ],
)
def test_resolve_target(
    kind: str, remote: str, env: dict[str, str], api_url: str, project: str
) -> None:
    assert resolve_target(kind, remote, None, env) == ForgeTarget(kind, api_url, project)  # type: ignore[arg-type]


def test_api_url_flag_beats_the_environment() -> None:
    target = resolve_target(
        "github", "git@github.com:a/b", "http://127.0.0.1:1/", {"GITHUB_API_URL": "https://x"}
    )
    assert target.api_url == "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bitbucket", "git@x:a/b", None, {}), "expected one of github, gitlab"),
        (("github", "https://tok3n@host/solo", None, {}), "set GITHUB_REPOSITORY"),
        (("gitlab", "git@x:a/b", "ftp://x", {}), "must start with https://"),
    ],
)
def test_bad_configuration_is_a_usage_error(args: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        resolve_target(*args)
    assert err.value.exit_code == 2 and "tok3n" not in str(err.value)


def test_missing_token_is_a_usage_error_naming_the_variable() -> None:
    with pytest.raises(UsageError, match="GITLAB_TOKEN is not set") as err:
        connect(ForgeTarget("gitlab", "https://gitlab.com/api/v4", "a/b"), {"GITHUB_TOKEN": "x"})
    assert err.value.exit_code == 2


def test_redact_hides_plain_and_url_encoded_secrets() -> None:
    assert redact("a s/cr+t b s%2Fcr%2Bt", ("s/cr+t",)) == "a *** b ***"
