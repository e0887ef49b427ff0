"""The CI examples in example-repo run only commands and flags our CLIs really have, and run
unchanged on both Helm example repos (examples/helm-argocd, examples/helm-flux-tags).

Every `istio-canary` / `istio-canary-verify` invocation in the GitHub workflows and the GitLab CI
file is parsed with shlex and walked through the real click command tree (found through the
console scripts in pyproject.toml), so renaming a flag breaks this test, not a user's pipeline.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "example-repo"
WORKFLOWS = sorted((EXAMPLE / ".github/workflows").glob("*.yml"))
GITLAB = EXAMPLE / ".gitlab-ci.yml"
OURS = ("istio-canary", "istio-canary-verify")


# ----- extracting commands -----------------------------------------------------------------------


def shell_commands(script: str) -> Iterator[list[str]]:
    """Simple commands of a shell snippet: continuations joined, split at ; && || | and newlines."""
    text = script.replace("\\\n", " ")
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        command: list[str] = []
        for token in lexer:
            if token and set(token) <= set(";&|"):
                if command:
                    yield command
                command = []
            else:
                command.append(token)
        if command:
            yield command


def github_scripts(path: Path) -> Iterator[tuple[str, str]]:
    workflow = yaml.safe_load(path.read_text())
    for job_name, job in workflow["jobs"].items():
        for i, step in enumerate(job.get("steps", [])):
            if "run" in step:
                yield f"{path.name}:jobs.{job_name}.steps[{i}]", step["run"]


def gitlab_scripts(path: Path) -> Iterator[tuple[str, str]]:
    config = yaml.safe_load(path.read_text())
    for name, job in config.items():
        if not isinstance(job, dict):
            continue
        for key in ("before_script", "script", "after_script"):
            lines = job.get(key) or []
            for i, line in enumerate([lines] if isinstance(lines, str) else lines):
                yield f"{path.name}:{name}.{key}[{i}]", line


def our_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in WORKFLOWS:
        for where, script in github_scripts(path):
            found += [(where, argv) for argv in shell_commands(script) if argv[0] in OURS]
    for where, script in gitlab_scripts(GITLAB):
        found += [(where, argv) for argv in shell_commands(script) if argv[0] in OURS]
    return found


# ----- checking them against click ---------------------------------------------------------------


def console_script(name: str) -> Any:
    """The object a console script of pyproject.toml points at."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def problems(cli: click.Command, argv: list[str]) -> list[str]:
    """What is wrong with `argv` for `cli`: unknown commands/options, bad choices, missing args."""
    found: list[str] = []
    cmd, args = cli, list(argv[1:])
    ctx = click.Context(cli, info_name=argv[0])
    while isinstance(cmd, click.Group):
        if not args:
            return [f"{argv[0]}: no subcommand"]
        sub = cmd.get_command(ctx, args[0])
        if sub is None:
            return [f"{argv[0]}: no subcommand {args[0]!r}"]
        cmd, args = sub, args[1:]
    options = {opt: p for p in cmd.params if isinstance(p, click.Option) for opt in p.opts}
    positionals = [p for p in cmd.params if isinstance(p, click.Argument)]
    seen: set[str] = set()
    given = 0
    while args:
        token = args.pop(0)
        if not token.startswith("-") or token == "-":
            given += 1
            continue
        name, eq, inline = token.partition("=")
        param = options.get(name)
        if param is None:
            return [*found, f"{cmd.name}: no option {name}"]  # its arity is unknown: stop
        seen.add(param.name or "")
        if param.is_flag:
            continue
        value = inline if eq else (args.pop(0) if args else None)
        if value is None:
            found.append(f"{cmd.name}: {name} needs a value")
        elif "$" not in value:
            try:
                param.type.convert(value, param, ctx)
            except click.BadParameter as e:
                found.append(f"{cmd.name}: {name} {value!r}: {e.message}")
    wanted = sum(max(p.nargs, 0) for p in positionals)
    if given < sum(1 for p in positionals if p.required) or (
        given > wanted and not any(p.nargs == -1 for p in positionals)
    ):
        found.append(f"{cmd.name}: takes {wanted} arguments, got {given}")
    for p in cmd.params:
        if isinstance(p, click.Option) and p.required and p.name not in seen:
            found.append(f"{cmd.name}: missing required {p.opts[0]}")
    return found


def built(cli: Any) -> bool:
    return isinstance(cli, click.Group) and bool(cli.commands)


def test_the_examples_run_both_clis_with_the_commands_the_issue_names() -> None:
    commands = [" ".join(argv) for _, argv in our_commands()]
    assert any(c.startswith("istio-canary next --repo . --open-pr github") for c in commands)
    assert any(c.startswith("istio-canary next --repo . --open-pr gitlab") for c in commands)
    gates = [c for c in commands if c.startswith("istio-canary-verify gate")]
    assert any("--output markdown --report $GITHUB_STEP_SUMMARY" in c for c in gates)
    assert len(gates) == 2  # GitHub and GitLab


@pytest.mark.parametrize(
    ("where", "argv"), our_commands(), ids=[f"{w}:{a[0]} {a[1]}" for w, a in our_commands()]
)
def test_every_command_in_the_examples_exists_with_those_flags(where: str, argv: list[str]) -> None:
    cli = console_script(argv[0])
    assert built(cli), f"{argv[0]} is not a click group with commands"
    assert problems(cli, argv) == [], f"{where}: {shlex.join(argv)}"


def test_the_checker_catches_wrong_commands() -> None:
    @click.group()
    def cli() -> None: ...

    @cli.command("next")
    @click.option("--repo", default=".")
    @click.option("--open-pr", type=click.Choice(["github", "gitlab"]))
    @click.option("--timeout", type=float)
    @click.option("--dry-run", is_flag=True)
    def next_(repo: str, open_pr: str, timeout: float, dry_run: bool) -> None: ...

    @cli.command()
    @click.argument("n", type=int)
    def stage(n: int) -> None: ...

    assert problems(cli, ["x", "next", "--dry-run", "--open-pr", "gitlab", "--timeout=$T"]) == []
    assert problems(cli, ["x", "nxt"]) == ["x: no subcommand 'nxt'"]
    assert problems(cli, ["x", "next", "--open-pr", "bitbucket"]) == [
        "next: --open-pr 'bitbucket': 'bitbucket' is not one of 'github', 'gitlab'."
    ]
    assert problems(cli, ["x", "next", "--remote", "o"]) == ["next: no option --remote"]
    assert problems(cli, ["x", "next", "--timeout", "soon"])[0].startswith("next: --timeout")
    assert problems(cli, ["x", "stage"]) == ["stage: takes 1 arguments, got 0"]
    assert problems(cli, ["x", "stage", "1", "2"]) == ["stage: takes 1 arguments, got 2"]


def test_shell_commands_are_split_like_a_shell_would() -> None:
    script = 'a --x "$Y" && istio-canary next \\\n  --repo .  # comment\nb | c; d\n'
    assert list(shell_commands(script)) == [
        ["a", "--x", "$Y"],
        ["istio-canary", "next", "--repo", "."],
        ["b"],
        ["c"],
        ["d"],
    ]


# ----- what makes the workflows work at all ------------------------------------------------------


def workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLE / ".github/workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_next_workflow_is_dispatched_and_never_uses_the_default_actions_token() -> None:
    wf = workflow("istio-canary-next.yml")
    assert set(wf["on"]) == {"workflow_dispatch"}
    text = (EXAMPLE / ".github/workflows/istio-canary-next.yml").read_text()
    assert "secrets.GITHUB_TOKEN" not in text and "github.token" not in text
    [job] = wf["jobs"].values()
    opener = next(s for s in job["steps"] if "--open-pr github" in s.get("run", ""))
    assert opener["env"]["GITHUB_TOKEN"] == "${{ steps.app-token.outputs.token }}"
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False  # else git would send two tokens
    assert checkout["with"]["fetch-depth"] == 0


def test_gate_workflow_runs_on_stage_prs_and_writes_the_step_summary() -> None:
    wf = workflow("istio-canary-gate.yml")
    assert set(wf["on"]) == {"pull_request"}
    job = wf["jobs"]["gate"]
    assert job["if"] == "startsWith(github.head_ref, 'istio-canary/')"
    assert wf["permissions"] == {"contents": "read"}
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"


def test_gitlab_gate_runs_on_stage_merge_requests_and_reports_junit() -> None:
    config = yaml.safe_load(GITLAB.read_text())
    gate = config["istio-canary-gate"]
    [rule] = gate["rules"]
    assert '$CI_PIPELINE_SOURCE == "merge_request_event"' in rule["if"]
    assert re.search(r"=~ /\^istio-canary\\/", rule["if"])
    [argv] = [a for s in gate["script"] for a in shell_commands(s) if a[0] == "istio-canary-verify"]
    assert argv[argv.index("--report") + 1] == gate["artifacts"]["reports"]["junit"]
    assert config["variables"]["GIT_DEPTH"] == "0"
    [rule] = config["istio-canary-next"]["rules"]
    assert '$CI_PIPELINE_SOURCE == "web"' in rule["if"]


# ----- the workflows, unchanged, on both Helm example repos --------------------------------------
#
# Each workflow step is run as the runner would run it (bash -eo pipefail; GitLab's script lines
# one by one), its text as written except for the `${{ expr }}` GitHub fills in, against a copy of
# the example synced by simcluster, with the fake forge standing in for GitHub and GitLab. The
# steps that install istio-canary are skipped: this checkout's console scripts are on PATH.

HELM_EXAMPLES = ("helm-argocd", "helm-flux-tags")


def _expand(text: str, values: dict[str, str]) -> str:
    """GitHub's `${{ expr }}` filled in; an expression this test does not know fails it."""

    def one(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        assert expr in values, f"the workflow uses ${{{{ {expr} }}}}, which this test cannot fill"
        return values[expr]

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def _bash(script: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _github_job(name: str, job: str, cwd: Path, env: dict[str, str], values: dict[str, str]) -> str:
    """Every `run` step of a workflow's job whose `if` holds, as GitHub runs it; their output."""
    steps = workflow(name)["jobs"][job]["steps"]
    out = []
    for step in steps:
        if "run" not in step or "pip install" in step["run"]:
            continue
        if step.get("if") == "inputs.dry-run" and values.get("inputs.dry-run") != "true":
            continue
        step_env = {k: _expand(str(v), values) for k, v in (step.get("env") or {}).items()}
        out.append(_bash(_expand(step["run"], values), cwd, {**env, **step_env}))
    return "".join(out)


def _gitlab_job(job: str, cwd: Path, env: dict[str, str]) -> str:
    """A GitLab job's script lines, one shell each as the runner does, after none of its
    before_script (the pip install); their output."""
    config = yaml.safe_load(GITLAB.read_text())
    return "".join(_bash(line, cwd, env) for line in config[job]["script"])


def _checkout(origin: Path, dest: Path, ref: str) -> Path:
    """What actions/checkout (fetch-depth 0) and GitLab's clone leave: origin's history, `ref`."""
    subprocess.run(["git", "clone", "-q", str(origin), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", ref], check=True)
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("example", HELM_EXAMPLES)
def test_the_ci_examples_run_unchanged_on_the_helm_example(example: str, tmp_path: Path) -> None:
    from rehearsal.demo import EXAMPLES
    from rehearsal.pipeline import simulated_cluster
    from rehearsal.repos import make_repos
    from tests.fakeforge import FakeForge

    scenario = EXAMPLES[example][1]
    repos = make_repos(tmp_path / "origin", tmp_path / "work", populate=scenario.populate)
    subprocess.run(
        [Path(sys.executable).parent / "istio-canary", "init", "--to-version", scenario.target],
        cwd=repos.work,
        check=True,
        capture_output=True,
    )
    repos.push_main()
    (tmp_path / "origin.git").symlink_to(repos.origin)  # what GitLab's "$CI_PROJECT_URL.git" is
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    with simulated_cluster(repos.origin, tmp_path / "sim") as sim, FakeForge() as forge:
        base_env = {"PATH": path, "HOME": str(tmp_path), "RUNNER_TEMP": str(tmp_path)}
        gh = {
            **base_env,
            "GITHUB_API_URL": forge.url,
            "GITHUB_REPOSITORY": forge.project,
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        }
        values = {
            "steps.app-token.outputs.token": forge.token,
            "github.event.repository.default_branch": "main",
            "github.base_ref": "main",
            "secrets.ISTIO_CANARY_KUBECONFIG": Path(sim.kubeconfig).read_text(),
            "inputs.dry-run": "true",
        }
        # GitHub: the dispatched job shows the plan and the dry run, then opens stage 1's PR
        next_out = _github_job("istio-canary-next.yml", "open-stage-pr", repos.work, gh, values)
        assert "0/" in next_out and "+++ b/" in next_out
        [pull] = forge.pulls.values()
        assert pull["title"].startswith("istio-canary 1/") and pull["base"]["ref"] == "main"
        head = pull["head"]["ref"]
        # ... and the required check on it passes against the live cluster
        values["github.event.pull_request.head.sha"] = head
        gate_dir = _checkout(repos.origin, tmp_path / "gate-gh", f"origin/{head}")
        _github_job("istio-canary-gate.yml", "gate", gate_dir, gh, values)
        summary = (tmp_path / "summary.md").read_text()
        assert "passed" in summary.lower() and "stage 0" in summary, summary

        # merged; GitLab's web pipeline opens stage 2's merge request, and its gate passes
        subprocess.run(
            ["git", "-C", str(repos.origin), "merge", "-q", "--ff-only", head], check=True
        )
        sim.sync_now()
        sim.wait_settled(timeout=60)
        gl = {
            **base_env,
            "GITLAB_TOKEN": forge.token,
            "CI_API_V4_URL": forge.url + "/api/v4",
            "CI_PROJECT_PATH": forge.project,
            "CI_PROJECT_URL": str(tmp_path / "origin"),
            "CI_DEFAULT_BRANCH": "main",
            "CI_SERVER_HOST": "gitlab.example.com",
            "ISTIO_CANARY_KUBECONFIG": str(sim.kubeconfig),
        }
        runner = _checkout(repos.origin, tmp_path / "next-gl", "main")
        _gitlab_job("istio-canary-next", runner, gl)
        [mr] = forge.merge_requests.values()
        assert mr["title"].startswith("istio-canary 2/") and mr["target_branch"] == "main"
        branch = mr["source_branch"]
        gate_gl = _checkout(repos.origin, tmp_path / "gate-gl", f"origin/{branch}")
        gl["CI_MERGE_REQUEST_TARGET_BRANCH_NAME"] = "main"
        _gitlab_job("istio-canary-gate", gate_gl, gl)
        junit = (gate_gl / "gate-report.xml").read_text()
        assert "<testsuite" in junit and "<failure" not in junit, junit
