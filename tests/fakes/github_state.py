"""The fake's repository: issues, pull requests, comments, labels, users and a lagging search index.

Kept apart from HTTP so seeding (tests) and routes (clients) change state through the same
operations, under one lock. The dicts hold the JSON exactly as it is served, so a test can
inspect or tweak `fake.issues[3]["body"]` directly (holding `fake.lock` if a client runs;
call `fake.reindex(3)` if search should see the tweak).
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from datetime import datetime

from tests.fakes import github_objects as objects
from tests.fakes.github_branches import Branches, closing_references
from tests.fakes.github_objects import Json

ROLES = ("admin", "maintain", "write", "triage", "read", "none")
MAX_LABEL = 50  # characters in a label's name


class ApiError(Exception):
    """An error answer: raised anywhere below a route, turned into a response by the server."""

    def __init__(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body.get('message')}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    @classmethod
    def not_found(cls, message: str = "Not Found") -> ApiError:
        return cls(404, objects.error(message, 404))

    @classmethod
    def invalid(cls, resource: str, code: str, *, field: str | None = None, message: str | None = None) -> ApiError:
        return cls(422, objects.validation_failed(resource, code, field=field, message=message))

    @classmethod
    def invalid_value(cls, resource: str, field: str, value: object) -> ApiError:
        """422 naming the refused value, as GitHub answers an unknown assignee or a bad label name."""
        body = objects.validation_failed(resource, "invalid", field=field)
        body["errors"][0]["value"] = value
        return cls(422, body)

    @classmethod
    def unprocessable(cls, message: str) -> ApiError:
        """GitHub's answer to a malformed request, e.g. a required parameter missing."""
        return cls(422, objects.error(message, 422))


def timestamp(value: float | str | datetime | None) -> float:
    """Seed timestamps may be given as epoch seconds, ISO 8601 text or datetimes; default now."""
    if value is None:
        return time.time()
    if isinstance(value, datetime):
        return objects.parse_iso(value.isoformat())
    if isinstance(value, str):
        return objects.parse_iso(value)
    return float(value)


class RepoState:
    """One GitHub repository (plus the users it mentions) as the fake serves it."""

    def __init__(self, *, owner: str, repo: str, viewer: str, per_page_max: int = 100) -> None:
        self.owner = owner
        self.per_page_max = per_page_max
        self.repo = repo
        self.viewer = viewer
        self.lock = threading.RLock()
        self.issues: dict[int, Json] = {}
        self.comments: dict[int, list[Json]] = {}
        self.labels: dict[str, Json] = {}
        self.pulls: dict[int, Json] = {}  # number -> PR-only fields; shared ones live in `issues`
        self.reviews: dict[int, list[Json]] = {}
        self.events: dict[int, list[Json]] = {}  # number -> labeled/unlabeled events, oldest first
        self.review_comments: dict[int, list[Json]] = {}
        self.users: dict[str, Json] = {}
        self.permissions: dict[str, str] = {viewer: "admin"}
        self.branches = Branches(f"{owner}/{repo}")
        self.actions_can_create_pulls = False  # "Allow GitHub Actions to create and approve pull requests"
        self.search_delay = 0.0
        self.comment_listing_pages: int | None = None  # GitHub's cap on paging through all of a repo's comments
        self.clone_url: str | None = None  # where git serves the repository (a git smart-HTTP fake), if set
        self.created_at = time.time() - 86400
        self._search_versions: dict[int, list[tuple[float, Json]]] = {}
        self._ids = itertools.count(1001)
        self._numbers = itertools.count(1)
        self._api: str | None = None

    # -- identity -------------------------------------------------------------------------------

    @property
    def api(self) -> str:
        if self._api is None:
            raise RuntimeError("start() the fake first: its objects' URLs need the port it listens on")
        return self._api

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def repo_url(self) -> str:
        return f"{self.api}/repos/{self.full_name}"

    @property
    def html_repo(self) -> str:
        return f"{self.api}/{self.full_name}"

    def new_id(self) -> int:
        return next(self._ids)

    def user(self, login: str) -> Json:
        """The `simple-user` for a login, made on first mention (GitHub knows everyone)."""
        if login not in self.users:
            kind = "Organization" if login == self.owner else "Bot" if login.endswith("[bot]") else "User"
            self.users[login] = objects.user(self.api, login, self.new_id(), kind=kind)
        return self.users[login]

    def association(self, login: str) -> str:
        if login == self.owner:
            return "OWNER"
        return "COLLABORATOR" if self.permissions.get(login, "none") not in ("none", "read") else "NONE"

    def repository(self, *, full: bool = True) -> Json:
        open_count = sum(1 for issue in self.issues.values() if issue["state"] == "open")
        served = objects.repository(self.api, self.user(self.owner), self.repo, 1, self.created_at,
                                    open_issues=open_count, full=full)
        if self.clone_url is not None:
            served["clone_url"] = self.clone_url
        return served

    # -- labels ---------------------------------------------------------------------------------

    def find_label(self, name: str) -> Json | None:
        """Label names are case-insensitive on GitHub."""
        wanted = name.casefold()
        return next((label for key, label in self.labels.items() if key.casefold() == wanted), None)

    def create_label(self, name: str, color: str = "ededed", description: str | None = None) -> Json:
        if not name.strip():
            raise ApiError.invalid("Label", "missing_field", field="name")
        if len(name) > MAX_LABEL:
            raise ApiError.invalid_value("Label", "name", name)
        if self.find_label(name) is not None:
            raise ApiError.invalid("Label", "already_exists", field="name")
        created = objects.label(self.repo_url, self.new_id(), name, color.lstrip("#").lower(), description)
        self.labels[name] = created
        return created

    def labels_for(self, names: list[str]) -> list[Json]:
        """Labels by name, creating the unknown ones (default colour) as GitHub does for a user with push
        access; a name GitHub would refuse for a new label (empty, over 50 characters) is a 422."""
        result: list[Json] = []
        for name in names:
            found = self.find_label(name) or self.create_label(name)
            if all(existing["id"] != found["id"] for existing in result):
                result.append(dict(found))
        return result

    # -- issues ---------------------------------------------------------------------------------

    def issue(self, number: int) -> Json:
        if number not in self.issues:
            raise ApiError.not_found()
        return self.issues[number]

    def assignable(self, login: str, number: int | None = None) -> bool:
        """GitHub assigns the owner, people with write access and, on an existing issue, its commenters."""
        if login == self.owner or self.permissions.get(login) in ("write", "maintain", "admin"):
            return True
        return number is not None and any(c["user"]["login"] == login for c in self.comments.get(number, []))

    def check_assignees(self, logins: list[str], number: int | None = None) -> None:
        for login in logins:
            if not self.assignable(login, number):
                raise ApiError.invalid_value("Issue", "assignees", login)

    def new_issue(self, *, title: str, body: str | None, labels: list[str], author: str,
                  assignees: list[str] | None = None, created_at: float | None = None, index: bool = True) -> Json:
        """A new issue; labels set at creation are recorded as `labeled` events by the author, as on GitHub."""
        applied = self.labels_for(list(labels))
        number = next(self._numbers)
        created = time.time() if created_at is None else created_at
        issue = objects.issue(
            self.repo_url, self.html_repo, self.new_id(), number, title=title, body=body, author=self.user(author),
            association=self.association(author), labels=applied,
            assignees=[self.user(login) for login in assignees or []], created_at=created)
        self.issues[number] = issue
        self.comments[number] = []
        self._label_events(number, set(), applied, author, created)
        if index:
            self.reindex(number)
        return issue

    def edit_issue(self, number: int, changes: Json, *, actor: str) -> Json:
        """Apply a validated PATCH: closing records who and when, reopening clears `closed_at`."""
        issue = self.issue(number)
        for key in ("title", "body"):
            if key in changes:
                issue[key] = changes[key]
        if "labels" in changes:
            before = {label["name"] for label in issue["labels"]}
            issue["labels"] = self.labels_for(changes["labels"])
            self._label_events(number, before, issue["labels"], actor)
        if "assignees" in changes:
            issue["assignees"] = [self.user(login) for login in changes["assignees"]]
            issue["assignee"] = issue["assignees"][0] if issue["assignees"] else None
        state = changes.get("state")
        now = time.time()
        if state == "closed" and issue["state"] != "closed":
            self.close_issue(number, actor, now, reason=changes.get("state_reason") or "completed")
        elif state == "open" and issue["state"] != "open":
            issue.update(state="open", closed_at=None, closed_by=None, state_reason="reopened")
            self._event(number, "reopened", actor, now)
        elif changes.get("state_reason") and issue["state"] == "closed":
            issue["state_reason"] = changes["state_reason"]
        self.touch(number, now)
        return issue

    def close_issue(self, number: int, actor: str, when: float, *, reason: str = "completed",
                    commit: str | None = None) -> None:
        """Close with who, when and why, and the `closed` event (naming the commit that closed it, if any)."""
        self.issues[number].update(state="closed", closed_at=objects.iso(when), closed_by=self.user(actor),
                                   state_reason=reason, updated_at=objects.iso(when))
        self._event(number, "closed", actor, when, commit=commit, state_reason=reason)

    def _label_events(self, number: int, before: set[str], after: list[Json], actor: str,
                      when: float | None = None) -> None:
        """GitHub records a `labeled`/`unlabeled` event per label change, with the user who made it."""
        now_names = {label["name"] for label in after}
        changes = [("labeled", label) for label in after if label["name"] not in before]
        changes += [("unlabeled", self.find_label(name) or {"name": name, "color": "ededed"})
                    for name in sorted(before - now_names)]
        for event, label in changes:
            self._event(number, event, actor, time.time() if when is None else when, label=label)

    def _event(self, number: int, event: str, actor: str, when: float, *, label: Json | None = None,
               commit: str | None = None, state_reason: str | None = None) -> None:
        self.events.setdefault(number, []).append(objects.issue_event(
            self.repo_url, self.new_id(), event=event, actor=self.user(actor), label=label, created_at=when,
            commit=commit, state_reason=state_reason))

    def touch(self, number: int, when: float | None = None) -> None:
        self.issues[number]["updated_at"] = objects.iso(time.time() if when is None else when)
        self.reindex(number)

    # -- comments -------------------------------------------------------------------------------

    def add_comment(self, number: int, body: str, *, author: str, created_at: float | None = None) -> Json:
        issue = self.issue(number)
        created = objects.comment(self.repo_url, self.html_repo, self.new_id(), number, body=body,
                                  author=self.user(author), association=self.association(author),
                                  created_at=time.time() if created_at is None else created_at)
        self.comments[number].append(created)
        issue["comments"] = len(self.comments[number])
        self.touch(number)
        return created

    def find_comment(self, comment_id: int) -> tuple[int, Json]:
        for number, comments in self.comments.items():
            for found in comments:
                if found["id"] == comment_id:
                    return number, found
        raise ApiError.not_found()

    def delete_comment(self, comment_id: int) -> None:
        number, found = self.find_comment(comment_id)
        self.comments[number].remove(found)
        self.issues[number]["comments"] = len(self.comments[number])
        self.touch(number)

    # -- pull requests --------------------------------------------------------------------------

    def new_pull(self, *, title: str, body: str | None, head: str, base: str, draft: bool, author: str,
                 maintainer_can_modify: bool = True, created_at: float | None = None, seeded: bool = False) -> Json:
        """A pull request; through the API its head and base must be branches of this repository (422 else)."""
        head_owner, _, head_ref = head.rpartition(":")
        head_owner = head_owner or self.owner
        shas = {"head": self.branches.sha(head_ref) if head_owner.casefold() == self.owner.casefold() else None,
                "base": self.branches.sha(base)}
        for field in ("head", "base"):
            if shas[field] is None and not seeded:
                raise ApiError.invalid("PullRequest", "invalid", field=field)
        for number, extra in self.pulls.items():
            if (self.issues[number]["state"] == "open" and extra["head"]["label"] == f"{head_owner}:{head_ref}"
                    and extra["base"]["ref"] == base):
                raise ApiError.invalid("PullRequest", "custom",
                                       message=f"A pull request already exists for {head_owner}:{head_ref}.")
        issue = self.new_issue(title=title, body=body, labels=[], author=author, index=False, created_at=created_at)
        number = issue["number"]
        issue["html_url"] = f"{self.html_repo}/pull/{number}"
        issue["pull_request"] = objects.issue_pull_link(self.repo_url, self.html_repo, number)
        issue["draft"] = draft
        repo = self.repository(full=False)
        self.pulls[number] = {
            "id": self.new_id(), "draft": draft, "merged_at": None, "merge_commit_sha": None,
            "maintainer_can_modify": maintainer_can_modify,
            "head": objects.branch_ref(repo, self.user(head_owner), head_ref, shas["head"]),
            "base": objects.branch_ref(repo, self.user(self.owner), base, shas["base"]),
            "commit_messages": [],  # what seeding says the PR's commits are; not served
        }
        self.reviews[number] = []
        self.review_comments[number] = []
        self.reindex(number)
        return self.pull(number)

    def merge_pull(self, number: int, when: float, merger: str, sha: str | None = None) -> Json:
        """Merge: the PR closes, and closing keywords in its body and commits close issues (default branch only).

        `sha` is the commit the merge made (a squash commit already on the base branch); by default a
        real merge commit in the linked repository, else a made-up id."""
        issue, extra = self.issues[number], self.pulls[number]
        base, head = extra["base"]["ref"], extra["head"]["ref"]
        messages = extra["commit_messages"] or self.branches.messages(base, head)  # before the merge moves base
        if sha is None:
            sha = self.branches.merge(base, head, f"Merge pull request #{number} from {extra['head']['label']}\n\n"
                                                  f"{issue['title']}") or objects.fake_sha("merge", number)
        issue.update(state="closed", closed_at=objects.iso(when), closed_by=self.user(merger),
                     updated_at=objects.iso(when))
        extra.update(merged_at=objects.iso(when), merge_commit_sha=sha)
        issue["pull_request"]["merged_at"] = extra["merged_at"]
        if base == self.branches.default:
            for target in closing_references(issue["body"], messages, self.full_name):
                found = self.issues.get(target)
                if found is not None and "pull_request" not in found and found["state"] == "open":
                    self.close_issue(target, merger, when, commit=sha)
                    self.reindex(target)
        self.reindex(number)
        return self.pull(number)

    def pull(self, number: int) -> Json:
        if number not in self.pulls:
            raise ApiError.not_found()
        return objects.pull_request(self.issues[number], self.pulls[number], self.repo_url,
                                    review_comments=len(self.review_comments[number]))

    # -- search ---------------------------------------------------------------------------------

    def reindex(self, number: int) -> None:
        """Queue the issue's current version for search; it becomes visible after `search_delay`."""
        version = copy.deepcopy(self.issues[number])
        self._search_versions.setdefault(number, []).append((time.time() + self.search_delay, version))

    def searchable(self) -> list[Json]:
        """What search sees now: per issue, the newest version that the index has caught up with."""
        now = time.time()
        visible: list[Json] = []
        for versions in self._search_versions.values():
            ready = [version for when, version in versions if when <= now]
            if ready:
                visible.append(ready[-1])
        return visible

    def permission(self, login: str) -> str:
        """Explicit roles; everyone else has the implicit `read` every user has on a public repository."""
        return self.permissions.get(login, "read")

