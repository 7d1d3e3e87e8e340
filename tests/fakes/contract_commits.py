"""The contract test's scenario for commits (tests/fakes/test_fake_github_contract.py): a real git history
linked to the fake, read through the real PyGithub client, so every answer is checked against GitHub's
OpenAPI description like the rest."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.git_history import GitHistory
from tests.fakes.github_server import FakeGitHub


def exercise_commits(fake: FakeGitHub, repo: Any, expect_error: Callable[[int, Any], None]) -> None:
    """Commits, listings and comparisons (every status) read from a linked git repository; a real merge."""
    history = GitHistory(Path(tempfile.mkdtemp(prefix="fake-github-git-")))
    base = history.commit("game server", {"src/Game.cpp": "int main() {}\n", "README": "hi\n"})
    fix = history.commit("Null check in Game\n\nFixes #2", {"src/Game.cpp": "int main() { return 0; }\n"})
    docs = history.commit("Docs", {"README": "hello\n"})
    history.branch("feature", base)
    side = history.commit("Side work", {"src/Other.cpp": "void f() {}\n"}, branch="feature")
    fake.use_git(history.origin)
    commit = repo.get_commit(fix[:7])
    assert commit.sha == fix and [f.filename for f in commit.files] == ["src/Game.cpp"]
    assert commit.files[0].patch.startswith("@@") and commit.stats.total == 2
    expect_error(422, lambda: repo.get_commit("0" * 40).sha)
    assert [c.sha for c in repo.get_commits(sha="main", path="src/Game.cpp")] == [fix, base]
    expect_error(404, lambda: list(repo.get_commits(sha="no-such-branch")))
    ahead = repo.compare(base, "main")
    assert (ahead.status, ahead.ahead_by, ahead.behind_by) == ("ahead", 2, 0)
    assert [c.sha for c in ahead.commits] == [fix, docs]
    assert {f.filename for f in ahead.files} == {"src/Game.cpp", "README"}
    assert repo.compare("main", base).status == "behind"
    assert repo.compare(fix, fix).status == "identical"
    assert repo.compare(side, "main").status == "diverged"
    expect_error(404, lambda: repo.compare("no-such-branch", "main").status)
    pull = repo.create_pull(title="Side work", body="Closes #3", head="feature", base="main")
    fake.close_pull(pull.number, merged=True)
    merged = repo.get_pull(pull.number).merge_commit_sha
    assert [p.sha for p in repo.get_commit(merged).parents][1] == side  # a real merge commit on main
    closed = [e for e in repo.get_issue(3).get_events() if e.event == "closed"]
    assert closed[-1].commit_id == merged
    fake.use_git(None)  # the history goes; what was answered stays recorded
    shutil.rmtree(history.origin.parent, ignore_errors=True)
