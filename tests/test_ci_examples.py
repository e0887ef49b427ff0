"""The CI examples in example-repo run only commands and flags our CLIs really have.

Every `istio-canary` / `istio-canary-verify` invocation in the GitHub workflows and the GitLab CI
file is parsed with shlex and walked through the real click command tree (found through the
console scripts in pyproject.toml), so renaming a flag breaks this test, not a user's pipeline.
"""

from __future__ import annotations

import importlib
import re
import shlex
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
