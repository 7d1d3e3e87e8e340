"""git, as the fixer needs it: a deterministic branch, a commit of only the edited files, a push.

Credentials are supplied to the one `git push` that needs them, through the process's
environment (`GIT_CONFIG_*`), never in a remote URL, `.git/config` or a command line,
and anything git prints passes through redaction. A checkout whose `.git/config` still
holds a token (actions/checkout's default) is refused before any build runs: the build
and the tests could read it.

The build runs project code that could also plant a `pre-push` hook, a `url.*.insteadOf`
or a `pushurl` in the checkout's `.git/config`, or a `~/.gitconfig`, to catch the token on
its way out. So every command carrying the token ignores the global and system config and
all hooks, and the push itself is made from a fresh bare repository outside the checkout
(borrowing its objects), to the remote URL recorded before the build ran.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from crashfix import procs
from crashfix.errors import CrashfixError
from crashfix.github.permissions import refusal_hint
from crashfix.scrub import redact

AUTHOR_NAME = "crashfix"
AUTHOR_EMAIL = "crashfix@users.noreply.github.com"
_CREDENTIAL_KEYS = re.compile(r"^(.*\.extraheader|credential\..*|url\..*insteadof|url\..*pushinsteadof)$", re.I)


class GitError(CrashfixError):
    """A git command failed; the message carries git's own (redacted) words."""


@dataclass(frozen=True)
class DiffStats:
    files: int
    insertions: int
    deletions: int

    def describe(self) -> str:
        return f"{self.files} file(s), +{self.insertions} −{self.deletions}"


class Git:
    def __init__(self, root: Path, environ: Mapping[str, str], *, secrets: Iterable[str] = (),
                 timeout: float = 300.0) -> None:
        self.root = root
        self.secrets = [s for s in secrets if s]
        self.timeout = timeout
        # git itself never needs the tokens; it gets a clean environment without prompts.
        self._env = {k: v for k, v in environ.items() if not k.upper().startswith("GIT_")}
        self._env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="")
        for name in ("GITHUB_TOKEN", "GH_TOKEN", "ANTHROPIC_API_KEY"):
            self._env.pop(name, None)
        self._remote_urls: dict[str, str] = {}
        self._no_hooks: str | None = None

    def run(self, *args: str, extra_env: Mapping[str, str] | None = None, check: bool = True,
            cwd: Path | None = None) -> str:
        env = {**self._env, **(extra_env or {})}
        if "GIT_CONFIG_VALUE_0" in env:  # carries the token: only the config crashfix gives, no hooks
            env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
            args = ("-c", f"core.hooksPath={self._empty_hooks()}", *args)
        try:
            done = procs.run(["git", *args], timeout=self.timeout, env=env, cwd=cwd or self.root)
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH", "install git on the runner") from None
        output = redact(done.stdout.decode("utf-8", "replace"), self.secrets)
        if check and not done.ok:
            said = redact(done.stderr.decode("utf-8", "replace"), self.secrets).strip().splitlines()
            detail = said[-1] if said else ("timed out" if done.timed_out else f"exit {done.returncode}")
            remote = [line.removeprefix("remote: ").strip() for line in said if line.startswith("remote: ")]
            if remote and remote[-1] and remote[-1] not in detail:  # what the server said, e.g. why it refused
                detail += f" (the remote said: {remote[-1]})"
            raise GitError(f"git {_subcommand(args)} failed: {detail}")
        return output

    # -- state -----------------------------------------------------------------------------------

    def ensure_repository(self) -> None:
        if self.run("rev-parse", "--is-inside-work-tree", check=False).strip() != "true":
            raise GitError(f"{self.root} is not a git checkout", "run crashfix fix inside a clone, or pass --checkout")

    def head(self) -> str:
        return self.run("rev-parse", "HEAD").strip()

    def dirty_paths(self) -> list[str]:
        lines = self.run("status", "--porcelain", "--untracked-files=all").splitlines()
        return [line[3:] for line in lines if line.strip()]

    def file_at(self, rev: str, path: str) -> bytes | None:
        """A file's bytes at `rev`, or None when it does not exist there (what a tool server's edit started from)."""
        try:
            done = procs.run(["git", "cat-file", "blob", f"{rev}:{path}"], timeout=self.timeout, env=self._env,
                             cwd=self.root)
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH", "install git on the runner") from None
        return done.stdout if done.ok else None

    def persisted_credentials(self) -> list[str]:
        """Config keys or remote URLs through which a build could read a push credential (included files too)."""
        found = []
        for line in self.run("config", "--local", "--includes", "--list", check=False).splitlines():
            key, _, value = line.partition("=")
            if _CREDENTIAL_KEYS.match(key) or (key.startswith("remote.") and key.endswith(".url")
                                               and re.match(r"^[a-z]+://[^/@]+@", value)):
                found.append(key)
        return found

    def remote_branch_exists(self, remote: str, branch: str, token: str | None = None) -> bool:
        out = self.run("ls-remote", "--heads", remote, f"refs/heads/{branch}", check=False,
                       extra_env=self._auth(token))
        return bool(out.strip())

    # -- changes ---------------------------------------------------------------------------------

    def start_branch(self, branch: str, *, remote: str, base: str, token: str | None = None) -> str:
        """Check out `branch`: its remote tip when it exists (a re-run continues it), else `remote/base`.

        Returns the commit the work starts from. The token (if any) authenticates the fetch the way
        it does the push: a private repository checked out with `persist-credentials: false` wants it.
        """
        auth = self._auth(token)
        self.remember_remote(remote)
        if self.remote_branch_exists(remote, branch, token):
            self.run("fetch", "--quiet", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
                     extra_env=auth)
            start = f"{remote}/{branch}"
        else:
            self.run("fetch", "--quiet", remote, f"+refs/heads/{base}:refs/remotes/{remote}/{base}", extra_env=auth)
            start = f"{remote}/{base}"
        self.run("checkout", "--quiet", "-B", branch, start)
        return self.head()

    def remember_remote(self, remote: str) -> str:
        """Record where `remote` pushes to, before any build could rewrite `.git/config`; the push goes there."""
        url = self.run("remote", "get-url", "--push", remote).strip()
        self._remote_urls[remote] = url
        return url

    def start_local_branch(self, branch: str) -> str:
        """`--local`: branch off whatever is checked out now; returns that commit."""
        start = self.head()
        self.run("checkout", "--quiet", "-B", branch, start)
        return start

    def commit(self, paths: list[str], message: str) -> str:
        """Commit exactly `paths` (nothing else that may be lying around) and return the new commit."""
        if not paths:
            raise GitError("nothing to commit: the fix changed no file")
        self.run("add", "--", *paths)
        identity = ["-c", f"user.name={AUTHOR_NAME}", "-c", f"user.email={AUTHOR_EMAIL}"]  # the bot is the author
        self.run(*identity, "commit", "--quiet", "--only", "-m", message, "--", *paths)
        return self.head()

    def diff_stats(self, base: str, head: str = "HEAD") -> DiffStats:
        files = insertions = deletions = 0
        for line in self.run("diff", "--numstat", base, head).splitlines():
            added, removed, _ = line.split("\t", 2)
            files += 1
            insertions += int(added) if added.isdigit() else 0
            deletions += int(removed) if removed.isdigit() else 0
        return DiffStats(files, insertions, deletions)

    def diff(self, base: str, head: str = "HEAD", limit: int = 20_000) -> str:
        text = self.run("diff", base, head)
        return text if len(text) <= limit else text[:limit] + "\n[... diff cut ...]\n"

    def push(self, remote: str, branch: str, token: str | None) -> None:
        """Push HEAD to `branch` from a clean bare repository; the token lives only in that process's environment."""
        url = self._remote_urls.get(remote)
        if url is None:
            raise GitError(f"no push URL was recorded for {remote!r} before the build",
                           "call remember_remote (start_branch does) before anything runs in the checkout")
        commit = self.head()
        objects = Path(self.run("rev-parse", "--path-format=absolute", "--git-common-dir").strip()) / "objects"
        scratch = Path(tempfile.mkdtemp(prefix="crashfix-push-"))
        try:
            bare = scratch / "push.git"
            clean = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
            self.run("init", "--quiet", "--bare", str(bare), extra_env=clean, cwd=scratch)
            (bare / "objects" / "info" / "alternates").write_text(str(objects) + "\n", encoding="utf-8")
            self.run("--git-dir", str(bare), "update-ref", f"refs/heads/{branch}", commit, extra_env=clean,
                     cwd=scratch)
            self.run("--git-dir", str(bare), "push", "--quiet", url, f"refs/heads/{branch}:refs/heads/{branch}",
                     extra_env={**clean, **self._auth(token)}, cwd=scratch)
        except GitError as error:
            if " 403" not in error.message:
                raise
            raise GitError(f"the token may not push {branch} ({error.message})",
                           refusal_hint("contents", error.message)) from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _empty_hooks(self) -> str:
        """An empty folder outside the checkout, as `core.hooksPath`: no hook runs where the token is."""
        if self._no_hooks is None or not Path(self._no_hooks).is_dir():
            self._no_hooks = tempfile.mkdtemp(prefix="crashfix-nohooks-")
        return self._no_hooks

    def _auth(self, token: str | None) -> dict[str, str]:
        """The per-process credential for one git command talking to the remote (never on disk)."""
        extra = _credential_env(token) if token else {}
        if extra and extra["GIT_CONFIG_VALUE_0"].split(" ")[-1] not in self.secrets:
            self.secrets.append(extra["GIT_CONFIG_VALUE_0"].split(" ")[-1])  # git may echo the header
        return extra

    def reset_hard(self, commit: str) -> None:
        self.run("reset", "--quiet", "--hard", commit)


def _subcommand(args: tuple[str, ...]) -> str:
    """`push` in `git -c core.hooksPath=... --git-dir X push ...`: the word a user knows the command by."""
    words = iter(args)
    for word in words:
        if word in ("-c", "-C", "--git-dir", "--work-tree"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return args[0] if args else "?"


def _credential_env(token: str) -> dict[str, str]:
    """`http.extraheader` for this process only, as actions/checkout would set it, but not on disk."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraheader",
            "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}"}

