"""JSON shapes of the GitHub REST API objects the fake serves, built field by field.

Every object carries the fields GitHub's OpenAPI description marks as required for it
(the contract test checks that), plus those PyGithub reads, so PyGithub never has to
"complete" an object with an extra GET. Every URL is rooted at the fake's base URL:
PyGithub asserts that each absolute URL it follows has the host, port and prefix of its
`base_url`. Links a browser would follow (`html_url`) point at the fake too.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

Json = dict[str, Any]

DOCS = "https://docs.github.com/rest"


def iso(timestamp: float | None) -> str | None:
    """GitHub's timestamp format: ISO 8601, UTC, whole seconds."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """Accepts what GitHub accepts for `since`: `YYYY-MM-DDTHH:MM:SSZ` or with an offset."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def fake_sha(*parts: object) -> str:
    """A stable 40-hex-digit commit id: the fake has no git objects, only names for them."""
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def error(message: str, status: int, documentation_url: str = DOCS) -> Json:
    """GitHub's `basic-error` body; since 2024 it also carries the status as a string."""
    return {"message": message, "documentation_url": documentation_url, "status": str(status)}


def validation_failed(resource: str, code: str, *, field: str | None = None, message: str | None = None,
                      documentation_url: str = DOCS) -> Json:
    """GitHub's 422 `validation-error` body with one entry in `errors`."""
    entry: Json = {"resource": resource, "code": code}
    if field is not None:
        entry["field"] = field
    if message is not None:
        entry["message"] = message
    return {"message": "Validation Failed", "errors": [entry], "documentation_url": documentation_url,
            "status": "422"}


def user(api: str, login: str, user_id: int, *, kind: str = "User") -> Json:
    """`simple-user`: what GitHub embeds wherever a user appears (author, assignee, owner)."""
    url = f"{api}/users/{login}"
    return {
        "login": login, "id": user_id, "node_id": f"U_fake{user_id}", "avatar_url": f"{api}/avatars/{login}",
        "gravatar_id": "", "url": url, "html_url": f"{api}/{login}", "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}", "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs", "repos_url": f"{url}/repos", "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events", "type": kind, "site_admin": False,
        "user_view_type": "public",
    }


def user_profile(simple: Json, created_at: float, *, private: bool) -> Json:
    """`public-user` (GET /users/{login}) or `private-user` (GET /user, the token's own account)."""
    profile = dict(simple)
    profile.update({
        "name": simple["login"], "company": None, "blog": "", "location": None, "email": None, "hireable": None,
        "bio": None, "twitter_username": None, "public_repos": 1, "public_gists": 0, "followers": 0,
        "following": 0, "created_at": iso(created_at), "updated_at": iso(created_at),
    })
    if private:
        profile.update({
            "user_view_type": "private", "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0,
            "disk_usage": 0, "collaborators": 0, "two_factor_authentication": True,
        })
    return profile


def collaborator(simple: Json, role: str) -> Json:
    """`collaborator`: a user with the repository permissions a role implies."""
    order = ["read", "triage", "write", "maintain", "admin"]
    rank = order.index(role) if role in order else -1
    flags = {"pull": rank >= 0, "triage": rank >= 1, "push": rank >= 2, "maintain": rank >= 3, "admin": rank >= 4}
    return {**simple, "permissions": flags, "role_name": role}


_REPO_TEMPLATES = {
    "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}", "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}", "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}", "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}", "contributors_url": "/contributors", "deployments_url": "/deployments",
    "downloads_url": "/downloads", "events_url": "/events", "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}", "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}",
    "languages_url": "/languages", "merges_url": "/merges", "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
    "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
}


def repository(api: str, owner: Json, name: str, repo_id: int, created_at: float, *, open_issues: int,
               full: bool) -> Json:
    """`full-repository` (GET /repos/{o}/{r}) or the shorter `repository` embedded in a PR's head/base."""
    full_name = f"{owner['login']}/{name}"
    url = f"{api}/repos/{full_name}"
    html = f"{api}/{full_name}"
    data: Json = {
        "id": repo_id, "node_id": f"R_fake{repo_id}", "name": name, "full_name": full_name, "owner": owner,
        "private": False, "html_url": html, "description": "Fake repository served by tests/fakes", "fork": False,
        "url": url, **{key: url + tail for key, tail in _REPO_TEMPLATES.items()},
        "git_url": f"{html}.git", "ssh_url": f"{html}.git", "clone_url": f"{html}.git", "svn_url": html,
        "mirror_url": None, "homepage": None, "language": "C++", "forks_count": 0, "stargazers_count": 0,
        "watchers_count": 0, "size": 1, "default_branch": "main", "open_issues_count": open_issues,
        "is_template": False, "topics": [], "has_issues": True, "has_projects": True, "has_wiki": True,
        "has_pages": False, "has_downloads": True, "has_discussions": False, "archived": False, "disabled": False,
        "visibility": "public", "pushed_at": iso(created_at), "created_at": iso(created_at),
        "updated_at": iso(created_at), "permissions": {"admin": True, "maintain": True, "push": True,
                                                        "triage": True, "pull": True},
        "allow_rebase_merge": True, "allow_squash_merge": True, "allow_auto_merge": False,
        "delete_branch_on_merge": False, "allow_merge_commit": True, "allow_forking": True,
        "web_commit_signoff_required": False, "license": None, "forks": 0, "open_issues": open_issues,
        "watchers": 0,
    }
    if full:
        data.update({"temp_clone_token": None, "subscribers_count": 0, "network_count": 0,
                     "allow_update_branch": False, "use_squash_pr_title_as_default": False})
        if owner["type"] == "Organization":
            data["organization"] = owner
    return data


def label(repo_url: str, label_id: int, name: str, color: str, description: str | None) -> Json:
    return {"id": label_id, "node_id": f"LA_fake{label_id}", "url": f"{repo_url}/labels/{_quote(name)}",
            "name": name, "color": color, "default": False, "description": description}


def reactions(url: str) -> Json:
    """`reaction-rollup`: the fake never has reactions, but PyGithub and the schema expect the rollup."""
    counts = dict.fromkeys(["+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"], 0)
    return {"url": f"{url}/reactions", "total_count": 0, **counts}


def issue(repo_url: str, html_repo: str, issue_id: int, number: int, *, title: str, body: str | None, author: Json,
          association: str, labels: list[Json], assignees: list[Json], created_at: float) -> Json:
    """`issue` as GET /repos/{o}/{r}/issues/{n} serves it; pull requests add a `pull_request` key."""
    url = f"{repo_url}/issues/{number}"
    return {
        "id": issue_id, "node_id": f"I_fake{issue_id}", "url": url, "repository_url": repo_url,
        "labels_url": f"{url}/labels{{/name}}", "comments_url": f"{url}/comments", "events_url": f"{url}/events",
        "html_url": f"{html_repo}/issues/{number}", "number": number, "state": "open", "state_reason": None,
        "title": title, "body": body, "user": author, "labels": labels,
        "assignee": assignees[0] if assignees else None, "assignees": assignees, "milestone": None,
        "locked": False, "active_lock_reason": None, "comments": 0, "closed_at": None,
        "created_at": iso(created_at), "updated_at": iso(created_at), "closed_by": None,
        "author_association": association, "type": None, "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None, "reactions": reactions(url),
    }


def comment(repo_url: str, html_repo: str, comment_id: int, number: int, *, body: str, author: Json,
            association: str, created_at: float) -> Json:
    url = f"{repo_url}/issues/comments/{comment_id}"
    return {
        "id": comment_id, "node_id": f"IC_fake{comment_id}", "url": url,
        "html_url": f"{html_repo}/issues/{number}#issuecomment-{comment_id}", "body": body, "user": author,
        "created_at": iso(created_at), "updated_at": iso(created_at), "issue_url": f"{repo_url}/issues/{number}",
        "author_association": association, "performed_via_github_app": None, "reactions": reactions(url),
    }


def issue_event(repo_url: str, event_id: int, *, event: str, actor: Json, label: Json | None,
                created_at: float, commit: str | None = None, state_reason: str | None = None) -> Json:
    """`issue-event-for-issue`: labeled/unlabeled (with the label), closed/reopened (a `closed` event names
    the commit that closed the issue, e.g. a merged PR's, and why): who changed what on an issue, and when."""
    prefix = {"labeled": "LE", "unlabeled": "UNLE", "closed": "CE", "reopened": "REE"}.get(event, "E")
    found = {"id": event_id, "node_id": f"{prefix}_fake{event_id}", "url": f"{repo_url}/issues/events/{event_id}",
             "actor": actor, "event": event, "commit_id": commit,
             "commit_url": f"{repo_url}/commits/{commit}" if commit else None, "created_at": iso(created_at),
             "performed_via_github_app": None}
    if label is not None:
        found["label"] = {"name": label["name"], "color": label["color"]}
    if event == "closed":
        found["state_reason"] = state_reason
    return found


def issue_pull_link(repo_url: str, html_repo: str, number: int) -> Json:
    """The `pull_request` key that marks an issue-shaped object as a pull request."""
    html = f"{html_repo}/pull/{number}"
    return {"url": f"{repo_url}/pulls/{number}", "html_url": html, "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch", "merged_at": None}


def branch_ref(repo: Json, owner: Json, ref: str, sha: str | None = None) -> Json:
    """A PR's `head` or `base`: the branch, its tip commit (made up unless known), and the repository."""
    return {"label": f"{owner['login']}:{ref}", "ref": ref, "sha": sha or fake_sha(repo["full_name"], ref),
            "user": owner, "repo": repo}


def pull_request(issue_json: Json, extra: Json, repo_url: str, *, review_comments: int) -> Json:
    """`pull-request`: the issue's shared fields (title, body, state, labels) plus the PR's own."""
    number = issue_json["number"]
    url = f"{repo_url}/pulls/{number}"
    html = f"{re.split(r'/(?:issues|pull)/', issue_json['html_url'])[0]}/pull/{number}"
    head_sha = extra["head"]["sha"]
    links = {"self": url, "html": html, "issue": issue_json["url"], "comments": issue_json["comments_url"],
             "review_comments": f"{url}/comments", "review_comment": f"{repo_url}/pulls/comments{{/number}}",
             "commits": f"{url}/commits", "statuses": f"{repo_url}/statuses/{head_sha}"}
    shared = ("number", "state", "locked", "title", "user", "body", "labels", "milestone", "active_lock_reason",
              "created_at", "updated_at", "closed_at", "assignee", "assignees", "author_association", "comments")
    data: Json = {
        "url": url, "id": extra["id"], "node_id": f"PR_fake{extra['id']}", "html_url": html,
        "diff_url": f"{html}.diff", "patch_url": f"{html}.patch", "issue_url": issue_json["url"],
        "commits_url": links["commits"], "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"], "comments_url": issue_json["comments_url"],
        "statuses_url": links["statuses"], **{key: issue_json[key] for key in shared},
        "merged_at": extra["merged_at"], "merge_commit_sha": extra["merge_commit_sha"],
        "requested_reviewers": [], "requested_teams": [], "head": extra["head"], "base": extra["base"],
        "_links": {key: {"href": value} for key, value in links.items()}, "auto_merge": None,
        "draft": extra["draft"], "merged": extra["merged_at"] is not None, "mergeable": None, "rebaseable": None,
        "mergeable_state": "unknown", "merged_by": None, "review_comments": review_comments,
        "maintainer_can_modify": extra["maintainer_can_modify"], "commits": 1, "additions": 0, "deletions": 0,
        "changed_files": 0,
    }
    return data


def review(pull: Json, review_id: int, *, author: Json, association: str, state: str, body: str,
           submitted_at: float) -> Json:
    html = f"{pull['html_url']}#pullrequestreview-{review_id}"
    return {
        "id": review_id, "node_id": f"PRR_fake{review_id}", "user": author, "body": body, "state": state,
        "html_url": html, "pull_request_url": pull["url"],
        "_links": {"html": {"href": html}, "pull_request": {"href": pull["url"]}},
        "submitted_at": iso(submitted_at), "commit_id": pull["head"]["sha"], "author_association": association,
    }


def review_comment(repo_url: str, pull: Json, comment_id: int, *, author: Json, association: str, body: str,
                   path: str, line: int, review_id: int | None, created_at: float) -> Json:
    url = f"{repo_url}/pulls/comments/{comment_id}"
    html = f"{pull['html_url']}#discussion_r{comment_id}"
    sha = pull["head"]["sha"]
    return {
        "url": url, "pull_request_review_id": review_id, "id": comment_id, "node_id": f"PRRC_fake{comment_id}",
        "diff_hunk": f"@@ -{line},1 +{line},1 @@", "path": path, "position": 1, "original_position": 1,
        "commit_id": sha, "original_commit_id": sha, "user": author, "body": body, "created_at": iso(created_at),
        "updated_at": iso(created_at), "html_url": html, "pull_request_url": pull["url"],
        "author_association": association,
        "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pull["url"]}},
        "start_line": None, "original_start_line": None, "start_side": None, "line": line, "original_line": line,
        "side": "RIGHT", "subject_type": "line", "reactions": reactions(url),
    }


def rate_limit(limit: int, remaining: int, reset: int) -> Json:
    return {"limit": limit, "remaining": remaining, "reset": reset, "used": limit - remaining}


def _quote(text: str) -> str:
    return quote(text, safe="")
