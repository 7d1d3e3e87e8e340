"""A local fake of the GitHub REST API v3 over real HTTP, for driving the real PyGithub client.

    with FakeGitHub() as fake:
        gh = Github(base_url=fake.url, auth=Auth.Token("test-token"), retry=None)
        gh.get_repo("acme/worldserver").create_issue("crash", body="...")
        assert fake.writes()[0].json["title"] == "crash"

Why a server rather than mocks: crashfix's GitHub etiquette (retries, rate-limit waits,
never re-POSTing blindly, pagination) lives in PyGithub, urllib3 and our wrapper together;
only real HTTP exercises all three. The fake records every request and can fail on demand:
5xx answers, secondary and primary rate limits, a network outage, and a write that is
applied but never answered. Search lags behind writes by `search_delay`, as GitHub's does.

It is as strict as GitHub where crashfix could get it wrong: tokens and repository roles
decide what a request may do (github_access: 403s with GitHub's messages, labels dropped
for users without push access, the Actions setting on pull requests, the secondary limit on
content creation); a pull request needs existing head and base branches (github_branches,
real git when linked with `use_git`); merging one closes the issues its closing keywords
name. Its answers are checked against GitHub's OpenAPI description by
tests/fakes/test_fake_github_contract.py.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.fakes import github_access as access
from tests.fakes import github_objects as objects
from tests.fakes.github_access import RATE_DOCS
from tests.fakes.github_http import Bucket, Dropped, Fault, Handler, RecordedRequest, Server
from tests.fakes.github_objects import Json
from tests.fakes.github_routes import Call, Reply, resolve
from tests.fakes.github_state import ROLES, ApiError, RepoState, timestamp

__all__ = ["FakeGitHub", "RecordedRequest"]
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class FakeGitHub(RepoState):
    """One repository on a fake GitHub at `url` (http://127.0.0.1:PORT), plus failure switches.

    Seed after `start()` (objects carry URLs with the port). `token` is a classic token of
    `viewer` (admin on the repository); `add_token` and `actions_token` add others. Requests
    without a token may read, not write. As on GitHub, search has its own rate limit of 30
    requests a minute. Failure switches match `method` (a regex on the verb) and `path` (a
    regex searched in the path, without the query).
    """

    def __init__(self, *, owner: str = "acme", repo: str = "worldserver", token: str = "test-token",
                 per_page_max: int = 100, viewer: str = "crashfix-bot") -> None:
        super().__init__(owner=owner, repo=repo, viewer=viewer, per_page_max=per_page_max)
        self.token = token
        self.tokens: dict[str, access.Token] = {token: access.Token(viewer)}
        self.content_limit = access.ContentLimit(80)
        self.latency = 0.0
        self._rendezvous: list[tuple[re.Pattern[str], re.Pattern[str], threading.Barrier, list[int]]] = []
        self.requests: list[RecordedRequest] = []
        self.server_errors: list[str] = []  # tracebacks of bugs in the fake itself (answered with 500)
        self._faults: list[Fault] = []
        self._outage = False
        self._buckets = {"core": Bucket(5000, 3600), "search": Bucket(30, 60)}
        self._request_ids = itertools.count(1)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.api

    def start(self) -> FakeGitHub:
        server = Server(("127.0.0.1", 0), Handler)
        server.fake = self
        self._server = server
        self._api = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-github", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections, so no client hangs on a dead fake."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- seeding --------------------------------------------------------------------------------

    def seed_issue(self, title: str, body: str | None, labels: tuple[str, ...] | list[str] = (), state: str = "open",
                   user: str = "uploader-bot", created_at: Any = None, closed_at: Any = None,
                   state_reason: str | None = None) -> Json:
        """An issue as if filed earlier; `created_at`/`closed_at` take epoch seconds, ISO text or datetimes."""
        if state not in ("open", "closed"):
            raise ValueError(f"state must be 'open' or 'closed', not {state!r}")
        with self.lock:
            issue = self.new_issue(title=title, body=body, labels=list(labels), author=user,
                                   created_at=timestamp(created_at), index=False)
            if state == "closed":
                closed = timestamp(closed_at)
                issue.update(state="closed", closed_at=objects.iso(closed), closed_by=self.user(self.viewer),
                             state_reason=state_reason or "completed", updated_at=objects.iso(closed))
            self.reindex(issue["number"])
            return issue

    def label_issue(self, number: int, name: str, actor: str) -> None:
        """`actor` adds a label (as through the web UI): the issue event records who did it."""
        with self.lock:
            if self.find_label(name) is None:
                self.create_label(name)
            names = [label["name"] for label in self.issue(number)["labels"]]
            self.edit_issue(number, {"labels": [*names, name]}, actor=actor)

    def seed_label(self, name: str, color: str = "ededed", description: str | None = None) -> Json:
        with self.lock:
            return self.create_label(name, color, description)

    def seed_comment(self, number: int, body: str, user: str = "player-one", created_at: Any = None) -> Json:
        with self.lock:
            return self.add_comment(number, body, author=user, created_at=timestamp(created_at))

    def seed_pull(self, title: str, body: str | None, head: str, base: str = "main", user: str = "crashfix-bot",
                  draft: bool = True, created_at: Any = None, commits: tuple[str, ...] | list[str] = ()) -> Json:
        """A pull request as if opened earlier (its branches need not exist); `commits` are its commit
        messages, read for closing keywords when it is merged (with `use_git`, git's are read instead)."""
        with self.lock:
            pull = self.new_pull(title=title, body=body, head=head, base=base, draft=draft, author=user,
                                 created_at=None if created_at is None else timestamp(created_at), seeded=True)
            self.pulls[pull["number"]]["commit_messages"] = list(commits)
            return pull

    def close_pull(self, number: int, *, merged: bool, at: Any = None, user: str | None = None,
                   merge_commit: str | None = None) -> Json:
        """Merge (or close unmerged) a pull request at a given time, as a maintainer would; a merge into the
        default branch closes the issues its body and commits name with closing keywords. With a linked git
        repository the merge is a real merge commit, unless `merge_commit` names the commit it made (a squash)."""
        with self.lock:
            when, closer = timestamp(at), user or self.owner
            if merged:
                return self.merge_pull(number, when, closer, merge_commit)
            self.issue(number).update(state="closed", closed_at=objects.iso(when), closed_by=self.user(closer),
                                      updated_at=objects.iso(when))
            self.reindex(number)
            return self.pull(number)

    def seed_branch(self, name: str, sha: str | None = None) -> str:
        """A branch of the repository (without `use_git`); returns its tip commit."""
        with self.lock:
            return self.branches.seed(name, sha)

    def use_git(self, git_dir: Path | None) -> None:
        """Take branches, commits and merged commits' messages from this bare repository, e.g. the origin
        pushed to (None: no repository any more)."""
        with self.lock:
            self.branches.git_dir = Path(git_dir) if git_dir is not None else None

    def push_to_pull(self, number: int, sha: str) -> None:
        """Someone pushes to the pull request's branch: its head moves to `sha`."""
        with self.lock:
            head = self.pulls[number]["head"]
            self.pulls[number]["head"] = {**head, "sha": sha}

    def seed_review(self, number: int, user: str, state: str = "COMMENTED", body: str = "") -> Json:
        """A submitted review: APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED."""
        with self.lock:
            pull = self.pull(number)
            created = objects.review(pull, self.new_id(), author=self.user(user),
                                     association=self.association(user), state=state, body=body,
                                     submitted_at=time.time())
            self.reviews[number].append(created)
            return created

    def seed_review_comment(self, number: int, body: str, path: str, line: int, user: str = "reviewer") -> Json:
        with self.lock:
            pull = self.pull(number)
            created = objects.review_comment(self.repo_url, pull, self.new_id(), author=self.user(user),
                                             association=self.association(user), body=body, path=path, line=line,
                                             review_id=None, created_at=time.time())
            self.review_comments[number].append(created)
            return created

    def add_token(self, token: str, login: str, *, kind: str = "fine-grained",
                  permissions: Mapping[str, str] | None = None, scopes: tuple[str, ...] = ("repo",)) -> None:
        """Another token: `kind` classic (its user's role decides), fine-grained (the role and `permissions`)
        or installation (`permissions` only); `permissions` maps contents/issues/pull_requests to read/write;
        a classic token's `scopes` are reported in X-OAuth-Scopes."""
        with self.lock:
            self.tokens[token] = access.Token(login, kind, dict(permissions or {}), tuple(scopes))

    def actions_token(self, token: str, permissions: Mapping[str, str]) -> None:
        """The Actions GITHUB_TOKEN of a workflow with these `permissions:` (github-actions[bot]); it opens
        pull requests only if `actions_can_create_pulls` (the repository setting, off by default)."""
        self.add_token(token, access.ACTIONS_LOGIN, kind="installation", permissions=permissions)

    def git_refusal(self, token: str) -> str | None:
        """Why GitHub refuses a git push with this token (403), or None: it needs contents: write and, for a
        user's token, write access (the git smart-HTTP fake asks this)."""
        with self.lock:
            found = self.tokens.get(token)
            if found is None:
                return "Invalid username or token. Password authentication is not supported for Git operations."
            if not found.grants(("contents",), "write") or (
                    found.has_role and access.RANKS[self.permission(found.login)] < access.RANKS["write"]):
                return f"Permission to {self.full_name}.git denied to {found.login}."
            return None

    def knows_token(self, token: str) -> bool:
        with self.lock:
            return token in self.tokens

    def requests_with_token(self, token: str) -> list[RecordedRequest]:
        """Every request sent with `token` (in its Authorization header)."""
        with self.lock:
            return [r for r in self.requests
                    if {k.lower(): v for k, v in r.headers.items()}.get("authorization", "").split(" ")[-1] == token]

    def set_permission(self, login: str, permission: str) -> None:
        """A user's role on the repository: admin, maintain, write, triage, read or none."""
        if permission not in ROLES:
            raise ValueError(f"permission must be one of {', '.join(ROLES)}, not {permission!r}")
        with self.lock:
            self.permissions[login] = permission
            if self._api is not None:
                self.user(login)

    # -- inspection -----------------------------------------------------------------------------

    def writes(self) -> list[RecordedRequest]:
        with self.lock:
            return [request for request in self.requests if request.method in WRITE_METHODS]

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests with this method whose path matches the regex `path`."""
        with self.lock:
            return [r for r in self.requests if r.method == method.upper() and re.search(path, r.path)]

    # -- failure switches -----------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 502, *, method: str | None = None, path: str | None = None) -> None:
        """Answer the next `count` matching requests with `status` (e.g. 502, 503) instead of serving them."""
        with self.lock:
            self._faults.append(Fault("status", count, status=status, method=method, path=path))

    def secondary_rate_limit_next(self, count: int, retry_after: int = 1, *, method: str | None = None,
                                  path: str | None = None) -> None:
        """403 with `Retry-After` and GitHub's secondary-limit message, as for too many writes in a burst."""
        with self.lock:
            self._faults.append(Fault("secondary", count, status=403, retry_after=retry_after, method=method,
                                       path=path))

    def primary_rate_limit(self, remaining: int, reset_in: float = 1.0, *, resource: str = "core") -> None:
        """`remaining` more requests succeed, then 403 "API rate limit exceeded" until `reset_in` passes.

        `resource` is "core" (everything but search) or "search" (30 a minute on GitHub, and here).
        """
        with self.lock:
            bucket = self._buckets[resource]
            bucket.remaining = remaining
            bucket.reset = math.ceil(time.time() + reset_in)

    def outage(self, on: bool = True) -> None:
        """While on, every request's connection is closed without an answer: the network is gone."""
        with self.lock:
            self._outage = on

    def rendezvous(self, parties: int, *, method: str, path: str, timeout: float = 10.0) -> None:
        """Hold the next `parties` matching requests until all of them have arrived, then serve them.

        Makes a race deterministic: two uploaders creating the same issue both get past
        every earlier step before either creation is answered.
        """
        barrier = threading.Barrier(parties, timeout=timeout)
        with self.lock:
            self._rendezvous.append((re.compile(method), re.compile(path), barrier, [parties]))

    def drop_after_write_next(self, count: int = 1, *, method: str = "POST", path: str | None = None) -> None:
        """Apply the next `count` matching successful writes, then close the connection without an answer."""
        with self.lock:
            self._faults.append(Fault("drop", count, method=method, path=path))

    # -- serving (called from the handler threads) ----------------------------------------------

    def _serve(self, record: RecordedRequest, headers: dict[str, str]) -> Reply:
        """Everything between the parsed request and the answer; raises Dropped to answer nothing."""
        with self.lock:
            if self._outage:
                raise Dropped
        if self.latency:
            time.sleep(self.latency)
        self._wait_for_rendezvous(record)
        with self.lock:
            resource = "search" if record.path.startswith("/search/") else "core"
            bucket = self._buckets[resource]
            bucket.refresh(time.time())
            reply = self._gate(record, headers, bucket)
            if reply is None:
                reply = self._dispatch(record, headers)
                if reply.status < 400 and any(f.kind == "drop" and f.take(record.method, record.path)
                                              for f in self._faults):
                    raise Dropped  # applied, but the client never learns it
                if (record.method == "GET" and reply.status == 200 and self._not_modified(reply, headers)
                        and record.path != "/rate_limit"):
                    bucket.remaining += 1  # GitHub does not charge conditional hits to the rate limit
            reply.headers.update(bucket.headers(resource))
            token = self._token(headers)
            if isinstance(token, access.Token) and token.kind == "classic":  # as GitHub: a classic token's scopes
                reply.headers["X-OAuth-Scopes"] = ", ".join(token.scopes)
            return reply

    def _wait_for_rendezvous(self, record: RecordedRequest) -> None:
        barrier = None
        with self.lock:
            for method, path, candidate, left in self._rendezvous:
                if left[0] > 0 and method.fullmatch(record.method) and path.search(record.path):
                    left[0] -= 1
                    barrier = candidate
                    break
        if barrier is not None:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass  # the others never came: serve anyway, the test will notice

    @staticmethod
    def _not_modified(reply: Reply, headers: dict[str, str]) -> bool:
        """Give a GET answer its ETag; turn it into 304 when the client already has that version."""
        etag = f'W/"{hashlib.sha256(json.dumps(reply.body).encode()).hexdigest()[:40]}"'
        reply.headers.update({"ETag": etag, "Cache-Control": "private, max-age=60, s-maxage=60"})
        wanted = {tag.strip() for tag in headers.get("if-none-match", "").split(",")}
        if etag in wanted or etag[2:] in wanted:
            reply.status, reply.body = 304, None
            return True
        return False

    def _gate(self, record: RecordedRequest, headers: dict[str, str], bucket: Bucket) -> Reply | None:
        """Injected failures, authentication and the primary rate limit, in the order GitHub meets them."""
        for fault in self._faults:
            if fault.kind in ("status", "secondary") and fault.take(record.method, record.path):
                if fault.kind == "status":
                    return Reply(fault.status, objects.error("Server Error" if fault.status >= 500 else "Injected",
                                                             fault.status))
                message = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                           "again. If you reach out to GitHub Support for help, please include the request ID "
                           f"{self._request_id()}.")
                body = objects.error(message, 403, f"{RATE_DOCS}#about-secondary-rate-limits")
                return Reply(403, body, {"Retry-After": str(fault.retry_after)})
        token = self._token(headers)
        if token is None:
            return Reply(401, objects.error("Bad credentials", 401))
        if not token and (record.method != "GET" or record.path == "/user"):
            return Reply(401, objects.error("Requires authentication", 401))
        if record.path == "/rate_limit":
            return None  # free of charge, as on GitHub
        if bucket.remaining <= 0:
            who = self.user(token.login)["id"] if token else 0
            message = (f"API rate limit exceeded for user ID {who}. If you reach out to "
                       f"GitHub Support for help, please include the request ID {self._request_id()}.")
            return Reply(403, objects.error(message, 403, f"{RATE_DOCS}#about-the-primary-rate-limit"))
        bucket.remaining -= 1
        return None

    def _token(self, headers: dict[str, str]) -> access.Token | None | str:
        """The caller's token; "" when anonymous; None for a wrong token (GitHub: 401 everywhere)."""
        value = headers.get("authorization", "")
        if not value:
            return ""
        scheme, _, token = value.partition(" ")
        return self.tokens.get(token.strip()) if scheme.lower() in ("token", "bearer") else None

    def _dispatch(self, record: RecordedRequest, headers: dict[str, str]) -> Reply:
        if (record.method, record.path) == ("GET", "/rate_limit"):
            return Reply(200, self._rate_limit_overview())
        found = resolve(record.method, record.path)
        if found is None:
            return Reply(404, objects.error("Not Found", 404))
        handler, params = found
        if "owner" in params and f"{params['owner']}/{params['repo']}".casefold() != self.full_name.casefold():
            return Reply(404, objects.error("Not Found", 404))
        token = self._token(headers)
        token = token if isinstance(token, access.Token) else None
        name, now = handler.__name__, time.time()
        call = Call(record.method, record.path, params, record.query, record.json, token.login if token else "",
                    can_push=access.may_push(self, token), app=token is not None and not token.has_role)
        try:
            if token is not None:
                access.check(self, token, name, params, record.json)
                limited = self.content_limit.refusal(token.login, now) if name in access.CREATING else None
                if limited is not None:
                    raise limited
            reply = handler(self, call)
            if token is not None and name in access.CREATING and reply.status < 400:
                self.content_limit.record(token.login, now)
            return reply
        except ApiError as problem:
            return Reply(problem.status, problem.body, dict(problem.headers))
        except Exception:  # a bug in the fake: answer like GitHub would, and keep the evidence
            self.server_errors.append(traceback.format_exc())
            return Reply(500, objects.error("fake GitHub failed; see FakeGitHub.server_errors", 500))

    def _rate_limit_overview(self) -> Json:
        now = time.time()
        for bucket in self._buckets.values():
            bucket.refresh(now)
        core, found = self._buckets["core"], self._buckets["search"]
        resources = {"core": objects.rate_limit(core.limit, core.remaining, core.reset),
                     "search": objects.rate_limit(found.limit, found.remaining, found.reset),
                     "graphql": objects.rate_limit(5000, 5000, int(now) + 3600)}
        return {"resources": resources, "rate": resources["core"]}

    def _request_id(self) -> str:
        number = next(self._request_ids)
        return f"FAKE:{number:04X}:{number * 7919:06X}:{number * 104729:07X}:{int(time.time()):08X}"
