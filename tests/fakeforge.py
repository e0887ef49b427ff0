"""A fake GitHub + GitLab REST server on 127.0.0.1 for forge tests (real HTTP, real clients).

It answers the handful of endpoints istio-canary uses the way the real forges do, including their
error shapes: GitHub 401 "Bad credentials", 422 "A pull request already exists for owner:branch",
GitLab 401 "401 Unauthorized" and 409 "Another open merge request already exists ...". Scripted
faults (`fail_next`) return 5xx; `hide_next_lists` makes list calls miss an open PR, which is
exactly what a concurrent job opening the same PR looks like. When given the bare git repo that
plays the remote, creating a PR for a branch that was never pushed fails like GitHub does.

Both forges refuse a title or body longer than the real ones accept, with the real error shapes
(GitHub 422 "title is too long (maximum is 256 characters)", body 65,536; GitLab 400
{"message": {"title": ["is too long (maximum is 255 characters)"]}}, description 1,048,576),
so a PR that would fail on the real forge fails here too.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from core.git import git_status

GITHUB_PREFIXES = ("", "/api/v3")  # api.github.com and GitHub Enterprise
GITHUB_LIMITS = {"title": 256, "body": 65_536}
GITLAB_LIMITS = {"title": 255, "description": 1_048_576}


class _Background:
    """An aiohttp app served on 127.0.0.1:0 from its own loop thread, as a context manager."""

    def _serve(self, app: web.Application) -> str:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner = web.AppRunner(app)
        return asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> str:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: CIMultiDict[str]  # case-insensitive, like HTTP
    body: Any


@dataclass
class FakeForge(_Background):
    """Start with `with FakeForge() as forge:`; `forge.url` is the API root."""

    token: str = "fake-forge-token-5ecret"
    project: str = "acme/mesh"
    bare_repo: Path | None = None
    requests: list[Recorded] = field(default_factory=list)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    merge_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    _faults: list[tuple[int, Any]] = field(default_factory=list)
    _hidden_lists: int = 0
    url: str = ""

    # ----- scripting -----------------------------------------------------------------------------

    def fail_next(self, status: int = 502, times: int = 1) -> None:
        """The next `times` requests answer `status` with an HTML error page, as proxies do."""
        self._faults.extend([(status, None)] * times)

    def respond_next(self, status: int, payload: Any) -> None:
        """The next request gets this JSON answer, whatever it asked (misbehaving proxies)."""
        self._faults.append((status, payload))

    def hide_next_lists(self, times: int = 1) -> None:
        """The next `times` list calls return [] even when a matching PR is open."""
        self._hidden_lists += times

    def calls(self, method: str, suffix: str = "") -> list[Recorded]:
        """Recorded requests with `method` whose path ends with `suffix`."""
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def open_pull(self, head: str, base: str, title: str = "opened by hand", body: str = "") -> int:
        """Seed an open GitHub PR as if another run (or a human) opened it."""
        number = len(self.pulls) + len(self.merge_requests) + 1
        self.pulls[number] = self._github_pull(number, head, base, title, body)
        return number

    # ----- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> FakeForge:
        # Room for a description over GitLab's limit, so the limit (not aiohttp's) refuses it.
        app = web.Application(middlewares=[self._middleware], client_max_size=8 * 1024 * 1024)
        for prefix in GITHUB_PREFIXES:
            repo = prefix + "/repos/{owner}/{repo}"
            app.router.add_get(repo + "/pulls", self._gh_list)
            app.router.add_post(repo + "/pulls", self._gh_create)
            app.router.add_patch(repo + "/pulls/{number}", self._gh_update)
            app.router.add_post(repo + "/issues/{number}/labels", self._gh_labels)
        project = "/api/v4/projects/{project:.+}/merge_requests"
        app.router.add_get(project, self._gl_list)
        app.router.add_post(project, self._gl_create)
        app.router.add_put(project + "/{iid:[0-9]+}", self._gl_update)
        self.url = self._serve(app)
        return self

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        body = await request.json() if raw else None
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                request.raw_path,
                dict(request.query),
                CIMultiDict(request.headers),
                body,
            )
        )
        if self._faults:
            status, payload = self._faults.pop(0)
            if payload is not None:
                return web.json_response(payload, status=status)
            return web.Response(status=status, text="<html>upstream error</html>")
        response: web.StreamResponse = await handler(request)
        return response

    # ----- GitHub ---------------------------------------------------------------------------------

    def _gh_auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if header in (f"Bearer {self.token}", f"token {self.token}"):
            if f"{request.match_info['owner']}/{request.match_info['repo']}" != self.project:
                return web.json_response({"message": "Not Found", "status": "404"}, status=404)
            return None
        return web.json_response(
            {
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401",
            },
            status=401,
        )

    def _github_pull(self, number: int, head: str, base: str, title: str, body: str) -> dict:
        owner = self.project.split("/")[0]
        return {
            "number": number,
            "state": "open",
            "html_url": f"https://github.example/{self.project}/pull/{number}",
            "title": title,
            "body": body,
            "head": {"ref": head, "label": f"{owner}:{head}", "sha": self._sha(head)},
            "base": {"ref": base, "label": f"{owner}:{base}"},
            "labels": [],
        }

    async def _gh_list(self, request: web.Request) -> web.Response:
        if (denied := self._gh_auth(request)) is not None:
            return denied
        if self._hidden_lists:
            self._hidden_lists -= 1
            return web.json_response([])
        q = request.query
        found = [
            p
            for p in self.pulls.values()
            if p["state"] == q.get("state", "open")
            and ("head" not in q or p["head"]["label"] == q["head"])
            and ("base" not in q or p["base"]["ref"] == q["base"])
        ]
        return web.json_response(found)

    async def _gh_create(self, request: web.Request) -> web.Response:
        if (denied := self._gh_auth(request)) is not None:
            return denied
        data = await request.json()
        if (too_long := self._gh_too_long(data)) is not None:
            return too_long
        head, base = data.get("head", ""), data.get("base", "")
        owner = self.project.split("/")[0]
        if any(
            p["state"] == "open" and p["head"]["ref"] == head and p["base"]["ref"] == base
            for p in self.pulls.values()
        ):
            return self._gh_invalid(f"A pull request already exists for {owner}:{head}.")
        if self.bare_repo is not None and not self._sha(head):
            return self._gh_invalid(None, field_name="head")
        number = len(self.pulls) + len(self.merge_requests) + 1
        pull = self._github_pull(number, head, base, data.get("title", ""), data.get("body", ""))
        self.pulls[number] = pull
        return web.json_response(pull, status=201)

    def _gh_too_long(self, data: dict[str, Any]) -> web.Response | None:
        for key, limit in GITHUB_LIMITS.items():
            if len(data.get(key) or "") > limit:
                error = {
                    "resource": "Issue",
                    "code": "custom",
                    "field": key,
                    "message": f"{key} is too long (maximum is {limit} characters)",
                }
                return web.json_response(
                    {"message": "Validation Failed", "errors": [error], "status": "422"},
                    status=422,
                )
        return None

    def _gh_invalid(self, message: str | None, field_name: str = "") -> web.Response:
        error: dict[str, str] = {"resource": "PullRequest"}
        if message:
            error |= {"code": "custom", "message": message}
        else:
            error |= {"code": "invalid", "field": field_name}
        return web.json_response(
            {"message": "Validation Failed", "errors": [error], "status": "422"}, status=422
        )

    async def _gh_update(self, request: web.Request) -> web.Response:
        if (denied := self._gh_auth(request)) is not None:
            return denied
        pull = self.pulls.get(int(request.match_info["number"]))
        if pull is None:
            return web.json_response({"message": "Not Found"}, status=404)
        data = await request.json()
        if (too_long := self._gh_too_long(data)) is not None:
            return too_long
        for key in ("title", "body", "state"):
            if key in data:
                pull[key] = data[key]
        pull["head"]["sha"] = self._sha(pull["head"]["ref"])
        return web.json_response(pull)

    async def _gh_labels(self, request: web.Request) -> web.Response:
        if (denied := self._gh_auth(request)) is not None:
            return denied
        pull = self.pulls[int(request.match_info["number"])]
        names = {label["name"] for label in pull["labels"]}
        names.update((await request.json())["labels"])
        pull["labels"] = [{"name": n} for n in sorted(names)]
        return web.json_response(pull["labels"])

    # ----- GitLab ---------------------------------------------------------------------------------

    def _gl_auth(self, request: web.Request) -> web.Response | None:
        token = request.headers.get("PRIVATE-TOKEN") or request.headers.get(
            "Authorization", ""
        ).removeprefix("Bearer ")
        if token != self.token:
            return web.json_response({"message": "401 Unauthorized"}, status=401)
        project = urllib.parse.unquote(request.match_info["project"])
        if project != self.project:
            return web.json_response({"message": "404 Project Not Found"}, status=404)
        return None

    def _gl_too_long(self, data: dict[str, Any]) -> web.Response | None:
        errors = {
            key: [f"is too long (maximum is {limit} characters)"]
            for key, limit in GITLAB_LIMITS.items()
            if len(data.get(key) or "") > limit
        }
        return web.json_response({"message": errors}, status=400) if errors else None

    async def _gl_list(self, request: web.Request) -> web.Response:
        if (denied := self._gl_auth(request)) is not None:
            return denied
        if self._hidden_lists:
            self._hidden_lists -= 1
            return web.json_response([])
        q = request.query
        found = [
            m
            for m in self.merge_requests.values()
            if m["state"] == q.get("state", "opened")
            and ("source_branch" not in q or m["source_branch"] == q["source_branch"])
            and ("target_branch" not in q or m["target_branch"] == q["target_branch"])
        ]
        return web.json_response(found)

    async def _gl_create(self, request: web.Request) -> web.Response:
        if (denied := self._gl_auth(request)) is not None:
            return denied
        data = await request.json()
        if (too_long := self._gl_too_long(data)) is not None:
            return too_long
        for m in self.merge_requests.values():
            if m["state"] == "opened" and m["source_branch"] == data["source_branch"]:
                return web.json_response(
                    {
                        "message": [
                            "Another open merge request already exists for this source "
                            f"branch: !{m['iid']}"
                        ]
                    },
                    status=409,
                )
        iid = len(self.merge_requests) + 1
        mr = {
            "iid": iid,
            "id": 1000 + iid,
            "state": "opened",
            "web_url": f"https://gitlab.example/{self.project}/-/merge_requests/{iid}",
            "source_branch": data["source_branch"],
            "target_branch": data["target_branch"],
            "title": data.get("title", ""),
            "description": data.get("description", ""),
            "labels": [x for x in data.get("labels", "").split(",") if x],
            "sha": self._sha(data["source_branch"]),
        }
        self.merge_requests[iid] = mr
        return web.json_response(mr, status=201)

    async def _gl_update(self, request: web.Request) -> web.Response:
        if (denied := self._gl_auth(request)) is not None:
            return denied
        mr = self.merge_requests.get(int(request.match_info["iid"]))
        if mr is None:
            return web.json_response({"message": "404 Not found"}, status=404)
        data = await request.json()
        if (too_long := self._gl_too_long(data)) is not None:
            return too_long
        for key in ("title", "description"):
            if key in data:
                mr[key] = data[key]
        if "labels" in data:
            mr["labels"] = [x for x in data["labels"].split(",") if x]
        mr["sha"] = self._sha(mr["source_branch"])
        return web.json_response(mr)

    # ----- the remote -----------------------------------------------------------------------------

    def _sha(self, branch: str) -> str:
        """Head commit of `branch` in the bare repo ('' when absent or no repo was given)."""
        if self.bare_repo is None:
            return ""
        _, out, _ = git_status(
            "rev-parse", "--verify", "-q", f"refs/heads/{branch}", cwd=self.bare_repo
        )
        return out.strip()


@dataclass
class GitHttpServer(_Background):
    """Serves bare repos under `root` over git's smart HTTP (`git http-backend` as CGI).

    Every request must carry `Authorization: Basic base64(<user>:<token>)`, the way GitHub
    (`x-access-token`) and GitLab (`oauth2`) accept tokens; anything else gets 401.
    """

    root: Path
    token: str
    user: str = "oauth2"
    url: str = ""
    authorized: int = 0
    refused: int = 0

    def __enter__(self) -> GitHttpServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/git/{path:.*}", self._handle)
        self.url = self._serve(app) + "/git"
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        expected = base64.b64encode(f"{self.user}:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            self.refused += 1
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        self.authorized += 1
        body = await request.read()
        env = {
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": "/" + request.match_info["path"],
            "QUERY_STRING": request.query_string,
            "REQUEST_METHOD": request.method,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
            "REMOTE_USER": self.user,
            "REMOTE_ADDR": "127.0.0.1",
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        }
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate(body)
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, {}
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers[key] = value.strip()
        return web.Response(status=status, body=payload, headers=headers)
