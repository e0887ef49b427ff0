"""A stage as a pull request: its branch, the push (with race retries), and its title and body.

Everything the PR says is read back from git (the stage commit and its base), not from the
generator's in-memory edits, so a re-run on the same commit renders the same body byte for byte
and `open_or_update` can tell "unchanged" from "updated". The body ends with an HTML comment
holding JSON, so the tool (and anyone's script) can find its own PRs again.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2

from core.errors import (
    CanaryError,
    ConflictError,
    ForgeError,
    InputError,
    PreconditionError,
    UsageError,
)
from core.git import git_status
from core.plan import PLAN_PATH, Plan, Stage, load_plan
from core.trailers import STAGE_TRAILER, parse_stage
from generator.forge import (
    TOKEN_ENV,
    Forge,
    Outcome,
    PullRequestSpec,
    connect,
    open_or_update,
    redact,
    redact_url,
    resolve_target,
)
from generator.objectdiff import ChangedFile, semantic_diff
from generator.resources import templates_dir

__all__ = [
    "MARKER",
    "ChangedFile",
    "Published",
    "Pushed",
    "RemoteAuth",
    "branch_name",
    "changed_files",
    "open_next_stage",
    "parse_marker",
    "publish",
    "push_stage_branch",
    "render_body",
    "render_title",
    "stage_of_commit",
    "token_auth",
]

MARKER = "istio-canary"
BRANCH_PREFIX = "istio-canary"

Rebuild = Callable[[str], str]
"""Make the stage commit again on top of the given base sha; return the new commit's sha."""


# ----- naming ------------------------------------------------------------------------------------


def plan_id(plan: Plan) -> str:
    """The upgrade's short name: the new control plane's CR name is unique per upgrade."""
    return plan.target.name


def branch_name(plan: Plan, stage: Stage) -> str:
    """`istio-canary/<plan>/<stage>`, e.g. `istio-canary/istio-sample-v17x/namespaces-1`."""
    return f"{BRANCH_PREFIX}/{plan_id(plan)}/{stage.name}"


# ----- reading a stage back from git ------------------------------------------------------------


def changed_files(repo: Path, base: str, head: str) -> tuple[ChangedFile, ...]:
    """Files that differ between two commits, with both sides' text."""
    out = _git(repo, "diff", "--name-status", "--no-renames", "-z", base, head)
    parts = [p for p in out.split("\0") if p]
    files: list[ChangedFile] = []
    for status, path in zip(parts[::2], parts[1::2], strict=True):
        before = None if status == "A" else _git(repo, "show", f"{base}:{path}")
        after = None if status == "D" else _git(repo, "show", f"{head}:{path}")
        files.append(ChangedFile(path, before, after))
    return tuple(sorted(files, key=lambda f: f.path))


def stage_of_commit(repo: Path, commit: str) -> tuple[Plan, Stage]:
    """The plan at `commit` and the stage its `Istio-Canary-Stage` trailer names."""
    trailer = _git(
        repo, "log", "-1", f"--format=%(trailers:key={STAGE_TRAILER},valueonly)", commit
    ).strip()
    mark = parse_stage(trailer)
    if mark is None or mark.index == 0 or not mark.name:
        raise PreconditionError(
            f"commit {commit[:12]} is not a stage commit (no `{STAGE_TRAILER}: i/n name` trailer); "
            "run `istio-canary next` first"
        )
    plan = load_plan(_git(repo, "show", f"{commit}:{PLAN_PATH}"), f"{commit[:12]}:{PLAN_PATH}")
    stage = plan.stage(mark.index)
    if stage.name != mark.name:
        raise InputError(
            f"commit {commit[:12]}: trailer names stage {mark.name!r} but the plan's stage "
            f"{stage.index} is {stage.name!r}"
        )
    return plan, stage


# ----- rendering ---------------------------------------------------------------------------------


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["cell"] = lambda v: str(v).replace("|", "\\|").replace("\n", " ") or " "
    return env


def render_title(plan: Plan, stage: Stage) -> str:
    """One line: `istio-canary i/n stage: what it does`."""
    text = _env().get_template("pr-title.j2").render(plan=plan, stage=stage)
    return " ".join(text.split())


def render_body(
    plan: Plan,
    stage: Stage,
    files: Iterable[ChangedFile],
    base_sha: str = "",
    head_sha: str = "",
) -> str:
    """The markdown body: why, what changed, where we are, how to gate, how to go back."""
    files = tuple(files)
    marker = {
        "v": 1,
        "plan": plan_id(plan),
        "stage": stage.index,
        "name": stage.name,
        "total": plan.total,
        "base": base_sha,
        "head": head_sha,
    }
    rows = [
        {
            "name": ns.name,
            "before": plan.expected_revision(ns.name, stage.index - 1),
            "after": plan.expected_revision(ns.name, stage.index),
            "rolled_back": ns.name in plan.rolled_back,
            "proxy": plan.target.version
            if plan.expected_revision(ns.name, stage.index) == plan.target.revision
            else plan.source.version,
        }
        for ns in plan.namespaces
    ]
    return (
        _env()
        .get_template("pr-body.md.j2")
        .render(
            plan=plan,
            stage=stage,
            files=files,
            objects=semantic_diff(files),
            timeline=_timeline(plan, stage),
            rows=rows,
            marker=f"<!-- {MARKER} {json.dumps(marker, sort_keys=True)} -->",
            migrated=plan.migrated_namespaces(stage.index - 1),
            base_sha=base_sha,
            head_sha=head_sha,
        )
    )


def _timeline(plan: Plan, current: Stage) -> str:
    """A Mermaid flowchart of all stages, done ones green, this one highlighted."""
    nodes = ['  s0(["0 plan"])']
    for s in plan.stages:
        detail = ", ".join(s.namespaces or s.gateways)
        label = f"{s.index} {s.name}" + (f"<br/>{detail}" if detail else "")
        nodes.append(f'  s{s.index}["{label}"]')
    chain = " --> ".join(f"s{i}" for i in range(plan.total + 1))
    done = ",".join(f"s{i}" for i in range(current.index))
    todo = ",".join(f"s{s.index}" for s in plan.stages if s.index > current.index)
    lines = [
        "flowchart LR",
        *nodes,
        f"  {chain}",
        "  classDef done fill:#d3f9d8,stroke:#2b8a3e",
        "  classDef current fill:#fff3bf,stroke:#f08c00,stroke-width:4px",
        "  classDef todo fill:#f1f3f5,stroke:#adb5bd,stroke-dasharray:4 2",
        f"  class {done} done",
        f"  class s{current.index} current",
    ]
    if todo:
        lines.append(f"  class {todo} todo")
    return "\n".join(lines)


def parse_marker(body: str) -> dict[str, Any] | None:
    """The JSON of the tool's marker comment in a PR body, or None when it has none."""
    m = re.search(r"<!-- " + re.escape(MARKER) + r" (\{.*?\}) -->", body)
    if m is None:
        return None
    try:
        data = json.loads(m.group(1))
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


# ----- pushing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteAuth:
    """Extra environment for git's own talk to the remote, and the secrets to keep out of errors."""

    env: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()

    def environ(self) -> dict[str, str]:
        """The process environment with our additions; git must fail, not prompt, without auth."""
        return {**os.environ, "GIT_TERMINAL_PROMPT": "0", **self.env}


_BASIC_USER = {"github": "x-access-token", "gitlab": "oauth2"}


def token_auth(repo: Path, remote: str, forge: str, token: str) -> RemoteAuth:
    """Let git push over HTTPS with the forge token, without writing it to config or a URL.

    The header goes in through `GIT_CONFIG_COUNT` variables (git >= 2.31), scoped to the remote's
    origin, so it never shows up in `ps`, the repo config or a log line. SSH remotes and remotes
    that already carry an `http.*.extraheader` (actions/checkout's persisted credentials) are left
    alone: git would send both headers.
    """
    url = _git(repo, "remote", "get-url", remote).strip()
    parts = urllib.parse.urlsplit(url)
    configured = _git(repo, "config", "--get-regexp", r"^http\..*extraheader$", check=False)
    if parts.scheme not in ("http", "https") or not parts.hostname or configured.strip():
        return RemoteAuth(secrets=(token,))
    port = f":{parts.port}" if parts.port else ""
    credentials = base64.b64encode(f"{_BASIC_USER[forge]}:{token}".encode()).decode()
    index = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    env = {
        "GIT_CONFIG_COUNT": str(index + 1),
        f"GIT_CONFIG_KEY_{index}": f"http.{parts.scheme}://{parts.hostname}{port}/.extraheader",
        f"GIT_CONFIG_VALUE_{index}": f"Authorization: Basic {credentials}",
    }
    return RemoteAuth(env, (token, credentials))


@dataclass(frozen=True)
class Pushed:
    """Where the stage branch ended up on the remote."""

    branch: str
    base_sha: str
    head_sha: str
    action: Literal["created", "updated", "unchanged"]
    rebuilt: int = 0


def push_stage_branch(
    repo: Path,
    branch: str,
    *,
    remote: str = "origin",
    base: str = "main",
    rebuild: Rebuild | None = None,
    attempts: int = 3,
    auth: RemoteAuth | None = None,
    before_push: Callable[[int], None] | None = None,
) -> Pushed:
    """Push local `branch` so it is one stage on top of the remote's newest `base`.

    When the remote base moved since the stage was made, the stage is rebuilt on it (default:
    cherry-picked in a scratch worktree); when another push wins the race for the branch, the
    lease fails and we fetch and try again. `before_push` is a test seam that runs just before
    each push attempt (a racing writer in tests).
    """
    auth = auth or RemoteAuth()
    rebuild = rebuild or (lambda new_base: _cherry_pick_onto(repo, branch, new_base))
    rebuilt = 0
    last_error = ""
    for attempt in range(attempts):
        refspec = f"+refs/heads/{base}:refs/remotes/{remote}/{base}"
        _git(repo, "fetch", "--quiet", remote, refspec, auth=auth, error=ForgeError)
        base_sha = _git(repo, "rev-parse", f"refs/remotes/{remote}/{base}^{{commit}}").strip()
        head_sha = _git(repo, "rev-parse", f"refs/heads/{branch}^{{commit}}").strip()
        if not _is_ancestor(repo, base_sha, head_sha):
            head_sha = rebuild(base_sha)
            rebuilt += 1
        if head_sha == base_sha:
            raise PreconditionError(
                f"{remote}/{base} already contains the stage on {branch}; nothing to propose"
            )
        remote_sha = _remote_sha(repo, remote, branch, auth)
        if remote_sha == head_sha:
            return Pushed(branch, base_sha, head_sha, "unchanged", rebuilt)
        if before_push is not None:
            before_push(attempt)
        code, out, err = git_status(
            "push",
            "--quiet",
            "--porcelain",
            f"--force-with-lease=refs/heads/{branch}:{remote_sha}",
            remote,
            f"{head_sha}:refs/heads/{branch}",
            cwd=repo,
            env=auth.environ(),
        )
        if code == 0:
            return Pushed(
                branch, base_sha, head_sha, "updated" if remote_sha else "created", rebuilt
            )
        last_error = _clean(err + out, auth.secrets)
        if not re.search(r"stale info|rejected|failed to update ref|fetch first", last_error):
            raise ForgeError(f"git push {redact_url(remote)} {branch} failed: {last_error}")
    raise ForgeError(
        f"git push {branch} lost the race to other pushes {attempts} times: {last_error}"
    )


def _remote_sha(repo: Path, remote: str, branch: str, auth: RemoteAuth) -> str:
    out = _git(repo, "ls-remote", remote, f"refs/heads/{branch}", auth=auth, error=ForgeError)
    return out.split()[0] if out.strip() else ""


def _is_ancestor(repo: Path, ancestor: str, commit: str) -> bool:
    code, _, _ = git_status("merge-base", "--is-ancestor", ancestor, commit, cwd=repo)
    return code == 0


def _cherry_pick_onto(repo: Path, branch: str, new_base: str) -> str:
    """Replay the branch's own commits on `new_base` without touching the user's work tree."""
    old_head = _git(repo, "rev-parse", f"refs/heads/{branch}").strip()
    fork = _git(repo, "merge-base", old_head, new_base).strip()
    with tempfile.TemporaryDirectory(prefix="istio-canary-rebuild-") as scratch:
        tree = Path(scratch) / "tree"
        _git(repo, "worktree", "add", "--quiet", "--detach", str(tree), new_base)
        try:
            picked, _, _ = git_status("cherry-pick", f"{fork}..{old_head}", cwd=tree)
            if picked != 0:
                conflicted = _git(tree, "diff", "--name-only", "--diff-filter=U").split()
                git_status("cherry-pick", "--abort", cwd=tree)
                if not conflicted:
                    raise PreconditionError(
                        f"the stage on {branch} is already part of the new base {new_base[:12]}"
                    )
                raise ConflictError(
                    f"the stage on {branch} does not apply on the new base {new_base[:12]} "
                    f"(conflicts in {', '.join(conflicted)}); run `istio-canary next` again"
                )
            new_head = _git(tree, "rev-parse", "HEAD").strip()
        finally:
            _git(repo, "worktree", "remove", "--force", str(tree))
    current = _git(repo, "symbolic-ref", "-q", "HEAD", check=False).strip()
    if current == f"refs/heads/{branch}":
        _git(repo, "reset", "--quiet", "--keep", new_head)
    else:
        _git(repo, "update-ref", f"refs/heads/{branch}", new_head, old_head)
    return new_head


# ----- the whole thing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """The pushed branch, and the PR when a forge was asked to open one."""

    pushed: Pushed
    title: str
    body: str
    outcome: Outcome | None


def publish(
    repo: Path,
    *,
    commit: str = "HEAD",
    remote: str = "origin",
    base: str = "main",
    forge: Forge | None = None,
    rebuild: Rebuild | None = None,
    auth: RemoteAuth | None = None,
    before_push: Callable[[int], None] | None = None,
) -> Published:
    """Push the stage commit `commit` as its stage branch and open or update its PR."""
    sha = _git(repo, "rev-parse", f"{commit}^{{commit}}").strip()
    plan, stage = stage_of_commit(repo, sha)
    branch = branch_name(plan, stage)
    current = _git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{branch}", check=False)
    if current.strip() != sha:
        _git(repo, "branch", "--force", branch, sha)
    pushed = push_stage_branch(
        repo,
        branch,
        remote=remote,
        base=base,
        rebuild=rebuild,
        auth=auth,
        before_push=before_push,
    )
    plan, stage = stage_of_commit(repo, pushed.head_sha)
    files = changed_files(repo, pushed.base_sha, pushed.head_sha)
    title = render_title(plan, stage)
    body = render_body(plan, stage, files, pushed.base_sha, pushed.head_sha)
    outcome = None
    if forge is not None:
        outcome = open_or_update(forge, PullRequestSpec(branch, base, title, body))
    return Published(pushed, title, body, outcome)


CommitStage = Callable[[str], str]
"""Commit the plan's next stage on a new branch of the given name; return the commit's sha."""


def open_next_stage(
    repo: Path,
    forge_kind: str,
    commit_stage: CommitStage,
    *,
    remote: str = "origin",
    base: str = "main",
    api_url: str | None = None,
    env: Mapping[str, str] | None = None,
    **http: Any,
) -> Published:
    """`next --open-pr`: check the forge setup, commit the next stage on its branch, publish it.

    Everything that can be wrong with the configuration (forge, token, project, remote, a
    checkout behind the remote) is refused before the stage is committed, so nothing is written.
    """
    env = os.environ if env is None else env
    root = Path(_git(repo, "rev-parse", "--show-toplevel").strip())
    remote_url = _git(root, "remote", "get-url", remote, error=UsageError).strip()
    target = resolve_target(forge_kind, remote_url, api_url, env)
    forge = connect(target, env, **http)
    token = env[TOKEN_ENV[target.kind]].strip()
    auth = token_auth(root, remote, target.kind, token)
    refspec = f"+refs/heads/{base}:refs/remotes/{remote}/{base}"
    _git(root, "fetch", "--quiet", remote, refspec, auth=auth, error=ForgeError)
    head = _git(root, "rev-parse", "HEAD").strip()
    upstream = _git(root, "rev-parse", f"refs/remotes/{remote}/{base}").strip()
    if head != upstream:
        raise PreconditionError(
            f"HEAD {head[:12]} is not {remote}/{base} ({upstream[:12]}); the next stage must be "
            f"made on the newest {base}: `git checkout -B {base} {remote}/{base}`"
        )
    plan = load_plan(
        _git(root, "show", f"HEAD:{PLAN_PATH}", error=PreconditionError), f"HEAD:{PLAN_PATH}"
    )
    stage = plan.next_stage
    if stage is None:
        raise PreconditionError("the upgrade is complete: every stage is applied")
    commit = commit_stage(branch_name(plan, stage))
    return publish(root, commit=commit, remote=remote, base=base, forge=forge, auth=auth)


# ----- git ---------------------------------------------------------------------------------------


def _git(
    repo: Path,
    *args: str,
    auth: RemoteAuth | None = None,
    check: bool = True,
    error: type[CanaryError] = PreconditionError,
) -> str:
    env = auth.environ() if auth else None
    code, out, err = git_status(*args, cwd=repo, env=env)
    if check and code != 0:
        cmd = redact_url(" ".join(args[:3]))
        raise error(f"git {cmd} failed: {_clean(err, auth.secrets if auth else ())}")
    return out


def _clean(text: str, secrets: tuple[str, ...]) -> str:
    return redact(redact_url(" ".join(text.split())), secrets)[:500]
