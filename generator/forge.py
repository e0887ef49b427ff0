"""Open or update a stage's pull request (GitHub) or merge request (GitLab) over their REST APIs.

Why it looks like this:
- The token comes only from the environment (`GITHUB_TOKEN` / `GITLAB_TOKEN`), never from a flag,
  so it never lands in shell history or a CI log line; every error message is redacted through
  one function before it leaves this module.
- Opening is idempotent: look up the open PR with the same head and base first, update it when
  it exists, and treat the forge's "already exists" answer (GitHub 422, GitLab 409) as "someone
  raced us: find it and update it".
- Transient failures (5xx, 429, connection errors) are retried with a short backoff; everything
  else becomes a :class:`ForgeError` (exit 3) or, for missing configuration, a UsageError (exit 2).
- HTTP is stdlib `urllib`: two small JSON APIs do not justify an async client in a sync CLI.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from core.errors import ForgeError, UsageError
from generator import __version__

__all__ = [
    "FORGES",
    "TOKEN_ENV",
    "Forge",
    "ForgeTarget",
    "GitHub",
    "GitLab",
    "Outcome",
    "PullRequest",
    "PullRequestSpec",
    "connect",
    "open_or_update",
    "parse_remote_url",
    "redact",
    "resolve_target",
]

ForgeKind = Literal["github", "gitlab"]
FORGES: tuple[ForgeKind, ...] = ("github", "gitlab")
TOKEN_ENV: dict[str, str] = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}
# CI platforms export their own API base URL, which is also how GHE / self-hosted GitLab are found.
API_URL_ENV: dict[str, str] = {"github": "GITHUB_API_URL", "gitlab": "CI_API_V4_URL"}
PROJECT_ENV: dict[str, str] = {"github": "GITHUB_REPOSITORY", "gitlab": "CI_PROJECT_PATH"}
REDACTED = "***"


@dataclass(frozen=True)
class PullRequestSpec:
    """What we want the stage's PR to say; head and base are branch names."""

    head: str
    base: str
    title: str
    body: str
    labels: tuple[str, ...] = ("istio-canary",)


@dataclass(frozen=True)
class PullRequest:
    """An open PR/MR as the forge reports it (`number` is GitLab's `iid`)."""

    number: int
    url: str
    head: str
    base: str
    title: str
    body: str


@dataclass(frozen=True)
class Outcome:
    """What `open_or_update` did."""

    action: Literal["opened", "updated", "unchanged"]
    pr: PullRequest


class AlreadyExists(Exception):
    """The forge refused to create a PR because an open one for the head already exists."""


class Forge(Protocol):
    """The three calls idempotent opening needs; GitHub and GitLab implement them."""

    name: str

    def find_open(self, head: str, base: str) -> PullRequest | None:
        """The open PR from `head` into `base`, if any."""
        ...

    def create(self, spec: PullRequestSpec) -> PullRequest:
        """Open a PR; raise AlreadyExists when the forge says one exists."""
        ...

    def update(self, pr: PullRequest, spec: PullRequestSpec) -> PullRequest:
        """Replace title, body and labels of an existing PR."""
        ...


def open_or_update(forge: Forge, spec: PullRequestSpec) -> Outcome:
    """Make exactly one open PR for `spec.head` say `spec`, whatever ran before or concurrently."""
    existing = forge.find_open(spec.head, spec.base)
    if existing is None:
        try:
            return Outcome("opened", forge.create(spec))
        except AlreadyExists:
            existing = forge.find_open(spec.head, spec.base)
            if existing is None:
                raise ForgeError(
                    f"{forge.name}: a pull request for {spec.head} already exists, "
                    f"but none is open into {spec.base}; close or retarget it"
                ) from None
    if existing.title == spec.title and existing.body == spec.body:
        return Outcome("unchanged", existing)
    return Outcome("updated", forge.update(existing, spec))


# ----- where the forge is -----------------------------------------------------------------------


@dataclass(frozen=True)
class ForgeTarget:
    """Which forge, its API base URL, and the project (`owner/name` or `group/sub/name`)."""

    kind: ForgeKind
    api_url: str
    project: str


_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


def parse_remote_url(url: str) -> tuple[str, str] | None:
    """(host, project path) of a git remote URL, or None for a local path or file:// URL."""
    url = url.strip()
    if "://" in url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "file" or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
    else:
        m = _SCP_LIKE.match(url)
        if m is None:
            return None
        host, path = m.group("host"), m.group("path")
    path = path.strip("/").removesuffix(".git")
    return (host, path) if "/" in path else None


def resolve_target(
    kind: str, remote_url: str, api_url: str | None, env: Mapping[str, str]
) -> ForgeTarget:
    """Work out the API URL and project: flag, then the CI's own variables, then the remote."""
    if kind not in FORGES:
        raise UsageError(f"--open-pr {kind!r}: expected one of {', '.join(FORGES)}")
    forge: ForgeKind = kind
    remote = parse_remote_url(remote_url)
    project = env.get(PROJECT_ENV[forge]) or (remote[1] if remote else "")
    if not project:
        raise UsageError(
            f"cannot tell the {forge} project from remote URL {redact_url(remote_url)!r}; "
            f"set {PROJECT_ENV[forge]}"
        )
    url = api_url or env.get(API_URL_ENV[forge]) or _default_api_url(forge, remote)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise UsageError(f"forge API URL {url!r} must start with https:// (or http://)")
    return ForgeTarget(forge, url.rstrip("/"), project)


def _default_api_url(forge: ForgeKind, remote: tuple[str, str] | None) -> str:
    host = remote[0] if remote else ("github.com" if forge == "github" else "gitlab.com")
    if forge == "github":
        return "https://api.github.com" if host == "github.com" else f"https://{host}/api/v3"
    return f"https://{host}/api/v4"


def connect(target: ForgeTarget, env: Mapping[str, str] | None = None, **http: Any) -> Forge:
    """A client for `target`, authenticated with the token from the environment."""
    env = os.environ if env is None else env
    var = TOKEN_ENV[target.kind]
    token = env.get(var, "").strip()
    if not token:
        raise UsageError(
            f"{var} is not set: export a token that may push and open pull requests "
            "(a GitHub App installation token or a PAT; see example-repo/README.md)"
        )
    if target.kind == "github":
        return GitHub(target, token, **http)
    return GitLab(target, token, **http)


# ----- HTTP boundary ----------------------------------------------------------------------------


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret (and its URL-encoded form) replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED).replace(
                urllib.parse.quote(secret, safe=""), REDACTED
            )
    return text


def redact_url(url: str) -> str:
    """A URL with any user:password part replaced by *** (remotes often embed a token)."""
    return re.sub(r"(://)[^/@]+@", r"\1" + REDACTED + "@", url)


@dataclass
class _Http:
    """JSON over HTTP with retries; the one place urllib errors become ForgeError."""

    forge: str
    base_url: str
    headers: dict[str, str]
    secrets: tuple[str, ...]
    attempts: int = 4
    backoff: float = 0.5
    timeout: float = 30.0
    sleep: Any = field(default=time.sleep, repr=False)

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; return (status, decoded JSON) for any answer below 500."""
        url = self.base_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(url, data=data, method=method)
            for key, value in self.headers.items():
                request.add_header(key, value)
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.status, _json(response.read())
            except urllib.error.HTTPError as e:
                payload = _json(e.read())
                if e.code < 500 and e.code != 429:
                    return e.code, payload
                last = f"HTTP {e.code} {_message(payload) or e.reason}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = str(getattr(e, "reason", e))
        raise self.error(
            f"{method} {self.base_url}{path} failed after {self.attempts} attempts: {last}"
        )

    def error(self, message: str) -> ForgeError:
        """A ForgeError whose message cannot carry the token."""
        return ForgeError(redact(f"{self.forge}: {message}", self.secrets))

    def refuse(self, status: int, payload: Any, what: str) -> ForgeError:
        """Explain an unexpected status in one line, naming the likely fix for auth failures."""
        detail = _message(payload) or "no message"
        hint = {
            401: f"; check {TOKEN_ENV.get(self.forge, 'the token')}",
            403: "; the token lacks permission (contents + pull requests write)",
            404: "; wrong project, API URL, or the token cannot see the project",
        }.get(status, "")
        return self.error(f"{what}: HTTP {status} {detail}{hint}")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode() or "null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"message": raw[:200].decode(errors="replace")}


def _message(payload: Any) -> str:
    """The human part of a GitHub/GitLab error body, both of which nest it differently."""
    if not isinstance(payload, Mapping):
        return ""
    parts: list[str] = []
    message = payload.get("message")
    if isinstance(message, list):
        parts.extend(str(m) for m in message)
    elif isinstance(message, Mapping):  # GitLab validation: {"title": ["is too long ..."]}
        parts.extend(
            f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in message.items()
        )
    elif message:
        parts.append(str(message))
    for err in payload.get("errors") or ():
        if isinstance(err, Mapping) and err.get("message"):
            parts.append(str(err["message"]))
        elif isinstance(err, str):
            parts.append(err)
    if payload.get("error") and not parts:
        parts.append(str(payload["error"]))
    return "; ".join(parts)


def _user_agent() -> str:
    return f"istio-canary/{__version__}"


# ----- GitHub ------------------------------------------------------------------------------------


class GitHub:
    """GitHub / GitHub Enterprise pulls API (`POST /repos/{owner}/{repo}/pulls`)."""

    name = "github"

    def __init__(self, target: ForgeTarget, token: str, **http: Any) -> None:
        self.owner, _, self.repo = target.project.partition("/")
        self.http = _Http(
            "github",
            target.api_url,
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "Authorization": f"Bearer {token}",
                "User-Agent": _user_agent(),
            },
            (token,),
            **http,
        )
        self.prefix = f"/repos/{self.owner}/{self.repo}"

    def find_open(self, head: str, base: str) -> PullRequest | None:
        """GitHub filters by `owner:branch`; we only ever push to the repo itself."""
        query = {"state": "open", "head": f"{self.owner}:{head}", "base": base}
        status, payload = self.http.call("GET", f"{self.prefix}/pulls", query)
        if status != 200 or not isinstance(payload, list):
            raise self.http.refuse(status, payload, f"listing pull requests of {head}")
        found = [self._pr(p) for p in payload if isinstance(p, Mapping)]
        found = [p for p in found if p.head == head and p.base == base]
        return min(found, key=lambda p: p.number) if found else None

    def create(self, spec: PullRequestSpec) -> PullRequest:
        """Open the PR, then label it (labels live on the issue side of the API)."""
        body = {"title": spec.title, "head": spec.head, "base": spec.base, "body": spec.body}
        status, payload = self.http.call("POST", f"{self.prefix}/pulls", body=body)
        if status == 422 and "already exists" in _message(payload).lower():
            raise AlreadyExists(_message(payload))
        if status != 201:
            raise self.http.refuse(status, payload, f"opening a pull request from {spec.head}")
        pr = self._pr(payload)
        self._label(pr, spec.labels)
        return pr

    def update(self, pr: PullRequest, spec: PullRequestSpec) -> PullRequest:
        """PATCH title and body; re-adding labels is harmless and restores removed ones."""
        status, payload = self.http.call(
            "PATCH",
            f"{self.prefix}/pulls/{pr.number}",
            body={"title": spec.title, "body": spec.body},
        )
        if status != 200:
            raise self.http.refuse(status, payload, f"updating pull request #{pr.number}")
        updated = self._pr(payload)
        self._label(updated, spec.labels)
        return updated

    def _label(self, pr: PullRequest, labels: tuple[str, ...]) -> None:
        if not labels:
            return
        status, payload = self.http.call(
            "POST", f"{self.prefix}/issues/{pr.number}/labels", body={"labels": list(labels)}
        )
        if status != 200:
            raise self.http.refuse(status, payload, f"labelling pull request #{pr.number}")

    def _pr(self, raw: Any) -> PullRequest:
        try:
            return PullRequest(
                number=int(raw["number"]),
                url=str(raw.get("html_url") or ""),
                head=str(raw["head"]["ref"]),
                base=str(raw["base"]["ref"]),
                title=str(raw.get("title") or ""),
                body=str(raw.get("body") or ""),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise self.http.error(f"unexpected pull request in the answer: missing {e}") from None


# ----- GitLab ------------------------------------------------------------------------------------


class GitLab:
    """GitLab merge requests API (`POST /projects/:id/merge_requests`), gitlab.com or self-hosted."""

    name = "gitlab"

    def __init__(self, target: ForgeTarget, token: str, **http: Any) -> None:
        self.http = _Http(
            "gitlab",
            target.api_url,
            {"PRIVATE-TOKEN": token, "User-Agent": _user_agent()},
            (token,),
            **http,
        )
        project = target.project
        self.prefix = "/projects/" + (
            project if project.isdigit() else urllib.parse.quote(project, safe="")
        )

    def find_open(self, head: str, base: str) -> PullRequest | None:
        """Open MRs from `head` into `base`."""
        query = {"state": "opened", "source_branch": head, "target_branch": base}
        status, payload = self.http.call("GET", f"{self.prefix}/merge_requests", query)
        if status != 200 or not isinstance(payload, list):
            raise self.http.refuse(status, payload, f"listing merge requests of {head}")
        found = [self._mr(m) for m in payload if isinstance(m, Mapping)]
        found = [m for m in found if m.head == head and m.base == base]
        return min(found, key=lambda m: m.number) if found else None

    def create(self, spec: PullRequestSpec) -> PullRequest:
        """GitLab answers 409 when an open MR for the source branch exists."""
        body = {
            "source_branch": spec.head,
            "target_branch": spec.base,
            "title": spec.title,
            "description": spec.body,
            "labels": ",".join(spec.labels),
            "remove_source_branch": True,
        }
        status, payload = self.http.call("POST", f"{self.prefix}/merge_requests", body=body)
        if status == 409 and "already exists" in _message(payload).lower():
            raise AlreadyExists(_message(payload))
        if status != 201:
            raise self.http.refuse(status, payload, f"opening a merge request from {spec.head}")
        return self._mr(payload)

    def update(self, pr: PullRequest, spec: PullRequestSpec) -> PullRequest:
        """PUT title, description and labels."""
        body = {"title": spec.title, "description": spec.body, "labels": ",".join(spec.labels)}
        status, payload = self.http.call(
            "PUT", f"{self.prefix}/merge_requests/{pr.number}", body=body
        )
        if status != 200:
            raise self.http.refuse(status, payload, f"updating merge request !{pr.number}")
        return self._mr(payload)

    def _mr(self, raw: Any) -> PullRequest:
        try:
            return PullRequest(
                number=int(raw["iid"]),
                url=str(raw.get("web_url") or ""),
                head=str(raw["source_branch"]),
                base=str(raw["target_branch"]),
                title=str(raw.get("title") or ""),
                body=str(raw.get("description") or ""),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise self.http.error(f"unexpected merge request in the answer: missing {e}") from None
