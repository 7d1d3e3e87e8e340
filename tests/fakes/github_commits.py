"""The fake GitHub's commits, read from the linked git repository: one commit, a listing, a comparison.

GitHub answers these from the repository's git objects; so does the fake, from the bare repository
linked with `FakeGitHub.use_git` (the origin pushed to), through real git. Without one the fake
has no commits: a commit is 422 "No commit found for SHA", a listing or comparison 404, as GitHub
answers for commits it does not have.

- `GET /repos/{o}/{r}/commits/{ref}`: the commit with `stats` and `files` (each with its `patch`,
  the hunks without the `diff --git` header, as GitHub serves it); `ref` may be a short sha or a branch.
- `GET /repos/{o}/{r}/commits?sha=&path=`: newest first, paginated, optionally only those touching a path.
- `GET /repos/{o}/{r}/compare/{base}...{head}`: `status` ahead/behind/identical/diverged, `ahead_by`,
  `behind_by`, the commits from the merge base to head (oldest first) and the files changed.
"""

from __future__ import annotations

import re
import subprocess

from tests.fakes import github_objects as objects
from tests.fakes.github_calls import Call, Reply, paginate
from tests.fakes.github_objects import Json
from tests.fakes.github_state import ApiError, RepoState

_REF = re.compile(r"^[\w./+-]{1,250}$")
_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}
COMPARE_PAGE = 250  # commits per page of a comparison, GitHub's default


def _git(gh: RepoState, *args: str) -> str | None:
    """Real git on the linked repository; None when there is none or git refuses."""
    git_dir = gh.branches.git_dir
    if git_dir is None:
        return None
    done = subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, text=True,
                          encoding="utf-8", errors="replace", check=False)
    return done.stdout if done.returncode == 0 else None


def resolve(gh: RepoState, ref: str) -> str | None:
    """A full commit id for a sha (short or full), a branch or a tag; None when unknown."""
    if not _REF.match(ref) or ref.startswith("-") or ".." in ref:
        return None
    found = _git(gh, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return found.strip() if found else None


def _info(gh: RepoState, sha: str) -> Json:
    out = _git(gh, "show", "-s", "--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B", sha) or ""
    tree, parents, aname, amail, adate, cname, cmail, cdate, message = (out.split("\0") + [""] * 9)[:9]
    return {"tree": tree, "parents": parents.split(), "message": message.rstrip("\n"),
            "author": {"name": aname, "email": amail, "date": _utc(adate)},
            "committer": {"name": cname, "email": cmail, "date": _utc(cdate)}}


def _utc(text: str) -> str:
    return objects.iso(objects.parse_iso(text)) or "" if text else ""


def commit_json(gh: RepoState, sha: str, *, with_files: bool) -> Json:
    """`commit`: what GitHub serves for one commit (a listing or comparison leaves out stats and files)."""
    info = _info(gh, sha)
    url, html = f"{gh.repo_url}/commits/{sha}", f"{gh.html_repo}/commit/{sha}"
    data: Json = {
        "url": url, "sha": sha, "node_id": f"C_fake{sha[:12]}", "html_url": html, "comments_url": f"{url}/comments",
        "commit": {"url": f"{gh.repo_url}/git/commits/{sha}", "author": info["author"],
                   "committer": info["committer"], "message": info["message"], "comment_count": 0,
                   "tree": {"sha": info["tree"], "url": f"{gh.repo_url}/git/trees/{info['tree']}"},
                   "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                                    "verified_at": None}},
        "author": None, "committer": None,  # git identities that map to no GitHub account
        "parents": [{"sha": parent, "url": f"{gh.repo_url}/commits/{parent}",
                     "html_url": f"{gh.html_repo}/commit/{parent}"} for parent in info["parents"]],
    }
    if with_files:
        parent = info["parents"][0] if info["parents"] else None
        files = diff_entries(gh, parent, sha)
        additions = sum(entry["additions"] for entry in files)
        deletions = sum(entry["deletions"] for entry in files)
        data["stats"] = {"additions": additions, "deletions": deletions, "total": additions + deletions}
        data["files"] = files
    return data


def diff_entries(gh: RepoState, base: str | None, head: str) -> list[Json]:
    """`diff-entry` per file changed from `base` (None: the empty tree) to `head`, with its patch."""
    since = base or _git(gh, "hash-object", "-t", "tree", "/dev/null") or ""
    since = since.strip()
    numstat = _git(gh, "diff", "--numstat", "-M", "-z", since, head) or ""
    names = _git(gh, "diff", "--name-status", "-M", "-z", since, head) or ""
    patches = _patches(_git(gh, "diff", "-M", "--no-color", since, head) or "")
    entries = []
    fields = names.split("\0")
    stats = numstat.split("\0")
    position = 0
    stat_position = 0
    while position < len(fields) and fields[position]:
        code = fields[position][0]
        if code in "RC":
            previous, filename = fields[position + 1], fields[position + 2]
            position += 3
        else:
            previous, filename = None, fields[position + 1]
            position += 2
        counts = stats[stat_position].split("\t")
        stat_position += 3 if code in "RC" else 1
        added = int(counts[0]) if counts[0].isdigit() else 0
        removed = int(counts[1]) if len(counts) > 1 and counts[1].isdigit() else 0
        blob = None if code == "D" else (_git(gh, "rev-parse", f"{head}:{filename}") or "").strip() or None
        entry: Json = {
            "sha": blob, "filename": filename, "status": _STATUS.get(code, "modified"), "additions": added,
            "deletions": removed, "changes": added + removed,
            "blob_url": f"{gh.html_repo}/blob/{head}/{filename}", "raw_url": f"{gh.html_repo}/raw/{head}/{filename}",
            "contents_url": f"{gh.repo_url}/contents/{filename}?ref={head}",
        }
        if filename in patches:
            entry["patch"] = patches[filename]
        if previous is not None:
            entry["previous_filename"] = previous
        entries.append(entry)
    return entries


def _patches(diff: str) -> dict[str, str]:
    """Per file, the hunks of a unified diff (GitHub's `patch` starts at the first `@@`)."""
    found: dict[str, str] = {}
    for chunk in re.split(r"^diff --git ", diff, flags=re.M)[1:]:
        target = re.search(r"^\+\+\+ b/(.+)$", chunk, re.M) or re.search(r"^rename to (.+)$", chunk, re.M)
        hunks = chunk.find("\n@@")
        if target and hunks >= 0:
            found[target.group(1)] = chunk[hunks + 1:].rstrip("\n")
    return found


# -- routes ------------------------------------------------------------------------------------


def get_commit(gh: RepoState, call: Call) -> Reply:
    ref = call.params["ref"]
    sha = resolve(gh, ref)
    if sha is None:
        raise ApiError(422, objects.error(f"No commit found for SHA: {ref}", 422))
    return Reply(200, commit_json(gh, sha, with_files=True))


def list_commits(gh: RepoState, call: Call) -> Reply:
    start = call.query.get("sha") or gh.branches.default
    sha = resolve(gh, start)
    if sha is None:
        raise ApiError.not_found()
    path = call.query.get("path")
    listed = _git(gh, "rev-list", sha, *(["--", path] if path else [])) or ""
    return paginate(gh, call, [commit_json(gh, line, with_files=False) for line in listed.split()])


def compare(gh: RepoState, call: Call) -> Reply:
    base_ref, separator, head_ref = call.params["basehead"].partition("...")
    base, head = resolve(gh, base_ref), resolve(gh, head_ref)
    if not separator or base is None or head is None:
        raise ApiError.not_found()
    merge_base = (_git(gh, "merge-base", base, head) or "").strip()
    ahead = int((_git(gh, "rev-list", "--count", f"{base}..{head}") or "0").strip())
    behind = int((_git(gh, "rev-list", "--count", f"{head}..{base}") or "0").strip())
    status = ("identical" if ahead == behind == 0 else "ahead" if behind == 0 else "behind" if ahead == 0
              else "diverged")
    listed = (_git(gh, "rev-list", "--reverse", f"{base}..{head}") or "").split()
    try:
        per_page = max(1, min(int(call.query.get("per_page", COMPARE_PAGE)), 1000))
        page = max(1, int(call.query.get("page", 1)))
    except ValueError:
        per_page, page = COMPARE_PAGE, 1
    chunk = listed[(page - 1) * per_page: page * per_page]
    url = f"{gh.repo_url}/compare/{base_ref}...{head_ref}"
    html = f"{gh.html_repo}/compare/{base_ref}...{head_ref}"
    body: Json = {
        "url": url, "html_url": html, "diff_url": f"{html}.diff", "patch_url": f"{html}.patch",
        "permalink_url": f"{gh.html_repo}/compare/{gh.owner}:{base}...{gh.owner}:{head}",
        "base_commit": commit_json(gh, base, with_files=False),
        "merge_base_commit": commit_json(gh, merge_base, with_files=False) if merge_base else
        commit_json(gh, base, with_files=False),
        "status": status, "ahead_by": ahead, "behind_by": behind, "total_commits": len(listed),
        "commits": [commit_json(gh, sha, with_files=False) for sha in chunk],
        "files": diff_entries(gh, merge_base or base, head)[:300] if page == 1 else [],
    }
    return Reply(200, body)

