"""git, as the fixer needs it: a deterministic branch, a commit of exactly the verified contents, a push.

A build runs project code that can write anything into the checkout: hooks (`pre-commit`,
`post-commit`, `reference-transaction`), `core.fsmonitor`, a `pushurl` or `url.*.insteadOf`
in `.git/config`, a `~/.gitconfig`. So every git command crashfix runs, before and after a
build, gets an environment without any secret (the same scrub as the build's: tokens, action
inputs, webhooks, anything secret-named), no system or global config, `core.hooksPath` set to
an empty folder and `core.fsmonitor` off. The commit is not made by `git commit` in the
checkout at all: its blobs are written from the bytes the model wrote (`Workspace.written`),
into a fresh index in a scratch repository that has no config of its own, on top of the base
commit recorded before the build; then its tree is checked against those bytes (hashes
computed here, and the stored blobs read back). Nothing the build left can change what is
committed or pushed.

Credentials are supplied to the one command that talks to the remote, through its environment
(`GIT_CONFIG_*`), never in a remote URL, `.git/config` or a command line, and anything git
prints passes through redaction. The push goes from the scratch repository to the remote URL
recorded before the build ran. A checkout whose `.git/config` still holds a token
(actions/checkout's default) is refused before any build runs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from crashfix import procs
from crashfix.errors import CrashfixError
from crashfix.github.permissions import refusal_hint
from crashfix.scrub import redact, scrubbed_environment

AUTHOR_NAME = "crashfix"
AUTHOR_EMAIL = "crashfix@users.noreply.github.com"
_CREDENTIAL_KEYS = re.compile(r"^(.*\.extraheader|credential\..*|url\..*insteadof|url\..*pushinsteadof)$", re.I)
FILE_MODES = ("100644", "100755")  # a commit changes regular files only: no links, no submodules
IDENTITY = {"GIT_AUTHOR_NAME": AUTHOR_NAME, "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
            "GIT_COMMITTER_NAME": AUTHOR_NAME, "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL}  # the bot is the author


class GitError(CrashfixError):
    """A git command failed; the message carries git's own (redacted) words."""


class CheckoutNotReady(GitError):
    """Not a checkout crashfix can work in (not a git clone, uncommitted changes, a stored token): the user's to fix."""

    exit_code = 2  # a usage error, like a bad option


@dataclass(frozen=True)
class DiffStats:
    files: int
    insertions: int
    deletions: int

    def describe(self) -> str:
        return f"{self.files} file(s), +{self.insertions} −{self.deletions}"

    @classmethod
    def from_numstat(cls, text: str) -> DiffStats:
        files = insertions = deletions = 0
        for line in text.splitlines():
            added, removed, _ = line.split("\t", 2)
            files += 1
            insertions += int(added) if added.isdigit() else 0
            deletions += int(removed) if removed.isdigit() else 0
        return cls(files, insertions, deletions)


def blob_hash(data: bytes) -> str:
    """The git object name of a blob with this content (SHA-1), computed without git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's object names


def git_environment(environ: Mapping[str, str], secrets: Iterable[str] = ()) -> dict[str, str]:
    """What every git child gets: no secret of any kind, no `GIT_*` from outside, no system or global config."""
    proxies = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")  # crashfix's own push may need a proxy's password
    env = {k: v for k, v in scrubbed_environment(environ, proxies, secrets).items() if not k.upper().startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="", GIT_CONFIG_NOSYSTEM="1",
               GIT_CONFIG_GLOBAL=os.devnull, GIT_ATTR_NOSYSTEM="1", GIT_OPTIONAL_LOCKS="0")
    return env


class Git:
    def __init__(self, root: Path, environ: Mapping[str, str], *, secrets: Iterable[str] = (),
                 timeout: float = 300.0) -> None:
        self.root = root
        self.secrets = [s for s in secrets if s]
        self.timeout = timeout
        self._env = git_environment(environ, self.secrets)
        self._remote_urls: dict[str, str] = {}
        self._no_hooks: str | None = None
        self.continued = False  # start_branch found the branch on the remote and continues it

    def run(self, *args: str, extra_env: Mapping[str, str] | None = None, check: bool = True,
            cwd: Path | None = None, stdin: bytes | None = None) -> str:
        return self.output(*args, extra_env=extra_env, check=check, cwd=cwd, stdin=stdin).decode("utf-8", "replace")

    def output(self, *args: str, extra_env: Mapping[str, str] | None = None, check: bool = True,
               cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
        """A git command's standard output as bytes (redacted when it decodes as text)."""
        env = {**self._env, **(extra_env or {})}
        hardened = ("-c", f"core.hooksPath={self._empty_hooks()}", "-c", "core.fsmonitor=false",
                    "-c", "commit.gpgSign=false", "-c", "gc.auto=0", "-c", "maintenance.auto=false",
                    "-c", "protocol.ext.allow=never")
        try:
            done = procs.run(["git", *hardened, *args], timeout=self.timeout, env=env, cwd=cwd or self.root,
                             stdin=stdin)
        except FileNotFoundError:
            raise GitError("git is not installed or not on PATH", "install git on the runner") from None
        if check and not done.ok:
            said = redact(done.stderr.decode("utf-8", "replace"), self.secrets).strip().splitlines()
            detail = said[-1] if said else ("timed out" if done.timed_out else f"exit {done.returncode}")
            remote = [line.removeprefix("remote: ").strip() for line in said if line.startswith("remote: ")]
            if remote and remote[-1] and remote[-1] not in detail:  # what the server said, e.g. why it refused
                detail += f" (the remote said: {remote[-1]})"
            raise GitError(f"git {_subcommand(args)} failed: {detail}")
        if any(secret.encode() in done.stdout for secret in self.secrets):
            return redact(done.stdout.decode("utf-8", "replace"), self.secrets).encode()
        return done.stdout

    # -- state -----------------------------------------------------------------------------------

    def ensure_repository(self) -> None:
        if self.run("rev-parse", "--is-inside-work-tree", check=False).strip() != "true":
            raise CheckoutNotReady(f"{self.root} is not a git checkout",
                                   "run crashfix fix inside a clone, or pass --checkout")

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
                       extra_env=self.auth(token))
        return bool(out.strip())

    # -- before the build ------------------------------------------------------------------------

    def start_branch(self, branch: str, *, remote: str, base: str, token: str | None = None) -> str:
        """Check out `branch`: its remote tip when it exists (a re-run continues it), else `remote/base`.

        Returns the commit the work starts from. The token (if any) authenticates the fetch the way
        it does the push: a private repository checked out with `persist-credentials: false` wants it.
        """
        auth = self.auth(token)
        self.remember_remote(remote)
        self.continued = self.remote_branch_exists(remote, branch, token)
        if self.continued:
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
        """`--local`: a new branch off whatever is checked out now (an existing one is never reset); that commit."""
        start = self.head()
        self.run("checkout", "--quiet", "-b", branch, start)
        return start

    def remote_branches(self, remote: str, pattern: str, token: str | None = None) -> list[str]:
        """Branch names on `remote` (its URL recorded before the build) matching the ref pattern `pattern`."""
        url = self._remote_urls.get(remote) or self.remember_remote(remote)
        out = self.run("ls-remote", "--heads", url, pattern, extra_env=self.auth(token))
        return [line.split("refs/heads/", 1)[1] for line in out.splitlines() if "refs/heads/" in line]

    # -- after the build: only plumbing, in a scratch repository ------------------------------------

    @contextmanager
    def scratch(self, *, own_objects: bool = False) -> Iterator[ScratchRepo]:
        """A fresh bare repository outside the checkout, without config, hooks or index of the checkout's.

        It reads and writes objects in the checkout's object store, or (`own_objects`) in its own.
        """
        objects = None if own_objects else \
            Path(self.run("rev-parse", "--path-format=absolute", "--git-common-dir").strip()) / "objects"
        folder = Path(tempfile.mkdtemp(prefix="crashfix-git-"))
        try:
            bare = folder / "repo.git"
            self.run("init", "--quiet", "--bare", "--template=", str(bare), cwd=folder)
            env = {"GIT_DIR": str(bare), "GIT_INDEX_FILE": str(folder / "index")}
            if objects is not None:
                env["GIT_OBJECT_DIRECTORY"] = str(objects)
            yield ScratchRepo(self, folder, env)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def line_ends(self, base: str, contents: Mapping[str, bytes]) -> dict[str, bytes]:
        """`contents` with the line ends the repository keeps: a file whose blob in `base` has no CRLF is
        committed with LF, as `core.autocrlf` would have it (a Windows checkout holds CRLF in the working tree;
        crashfix ignores the system config that says so, and a whole-file diff must not come of it)."""
        kept = {}
        for path, data in contents.items():
            stored = self.output("cat-file", "blob", f"{base}:{path}", check=False)  # empty for a new file
            kept[path] = data if b"\r\n" in stored else data.replace(b"\r\n", b"\n")
        return kept

    def commit_contents(self, base: str, contents: Mapping[str, bytes], message: str,
                        branch: str | None = None, check: Callable[[str], None] | None = None) -> str:
        """Commit exactly `contents` (their line ends as `line_ends` keeps them) on top of `base`; the local
        `branch` then points at the commit, which is returned. `check(commit)` runs before the branch moves."""
        if not contents:
            raise GitError("nothing to commit: the fix changed no file")
        with self.scratch() as repo:
            commit = repo.commit(base, self.line_ends(base, contents), message)
        if check is not None:
            check(commit)
        if branch:
            self.run("update-ref", f"refs/heads/{branch}", commit)
            if self.run("symbolic-ref", "--quiet", "HEAD", check=False).strip() == f"refs/heads/{branch}":
                self.run("read-tree", commit)  # the index follows the branch; the files already hold the edits
                # read-tree drops the files' stat info: without a refresh the next `checkout -f` / `reset --hard`
                # (actions/checkout) rewrites every file, and a kept build folder rebuilds everything
                self.run("update-index", "-q", "--refresh", check=False)
        return commit

    def diff_stats(self, base: str, head: str) -> DiffStats:
        return DiffStats.from_numstat(self.run("diff-tree", "-r", "--numstat", "--no-renames", base, head))

    def diff(self, base: str, head: str, limit: int | None = 20_000) -> str:
        """The change as a patch git applies: full blob names, no renames, no external diff or text conversion."""
        text = self.run("diff-tree", "-p", "--full-index", "--no-renames", "--no-ext-diff", "--no-textconv",
                        "--no-color", base, head)
        return text if limit is None or len(text) <= limit else text[:limit] + "\n[... diff cut ...]\n"

    def push(self, remote: str, branch: str, token: str | None, commit: str | None = None,
             expect: str | None = None) -> None:
        """Push `commit` (default HEAD) to `branch` from a scratch repository to the URL recorded before the build.

        `expect`: the commit the remote branch must be at now ("" for absent), or the push is refused.
        """
        url = self._remote_urls.get(remote)
        if url is None:
            raise GitError(f"no push URL was recorded for {remote!r} before the build",
                           "call remember_remote (start_branch does) before anything runs in the checkout")
        commit = commit or self.head()
        try:
            with self.scratch() as repo:
                repo.push(url, commit, branch, self.auth(token), expect)
        except GitError as error:
            if " 403" not in error.message:
                raise
            raise GitError(f"the token may not push {branch} ({error.message})",
                           refusal_hint("contents", error.message)) from None

    def _empty_hooks(self) -> str:
        """An empty folder outside the checkout, as `core.hooksPath`: no hook runs, whatever the build planted."""
        if self._no_hooks is None or not Path(self._no_hooks).is_dir():
            self._no_hooks = tempfile.mkdtemp(prefix="crashfix-nohooks-")
        return self._no_hooks

    def auth(self, token: str | None) -> dict[str, str]:
        """The per-process credential for one git command talking to the remote (never on disk)."""
        extra = _credential_env(token) if token else {}
        if extra and extra["GIT_CONFIG_VALUE_0"].split(" ")[-1] not in self.secrets:
            self.secrets.append(extra["GIT_CONFIG_VALUE_0"].split(" ")[-1])  # git may echo the header
        return extra

    def reset_hard(self, commit: str) -> None:
        self.run("reset", "--quiet", "--hard", commit)


@dataclass
class ScratchRepo:
    """A config-free repository for plumbing: a fresh index, objects shared with a checkout (or its own)."""

    git: Git
    folder: Path
    env: dict[str, str]

    def run(self, *args: str, stdin: bytes | None = None, extra: Mapping[str, str] | None = None) -> str:
        return self.git.run(*args, extra_env={**self.env, **(extra or {})}, cwd=self.folder, stdin=stdin)

    def commit(self, base: str, contents: Mapping[str, bytes], message: str) -> str:
        """A commit of `base` with `contents` written over it, checked blob by blob and path by path."""
        self.run("read-tree", base)
        for path, data in sorted(contents.items()):
            mode = self.mode(base, path)
            blob = self.run("hash-object", "-w", "--stdin", stdin=data).strip()
            if blob != blob_hash(data):
                raise GitError(f"git stored {path} as {blob}, not as the content's hash {blob_hash(data)}")
            self.run("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}")
        commit = self.commit_tree(self.run("write-tree").strip(), base, message)
        self.check(base, commit, {path: blob_hash(data) for path, data in contents.items()})
        return commit

    def commit_tree(self, tree: str, parent: str, message: str) -> str:
        return self.run("commit-tree", tree, "-p", parent, stdin=message.encode(), extra=IDENTITY).strip()

    def mode(self, base: str, path: str) -> str:
        """The file's mode in `base` (a new file is 100644); a link or submodule there is refused."""
        listed = self.run("ls-tree", base, "--", path).split()
        mode = listed[0] if listed else "100644"
        if mode not in FILE_MODES:
            raise GitError(f"{path} is not a regular file in the base commit (mode {mode}); crashfix changes "
                           "regular files only")
        return mode

    def check(self, base: str, head: str, hashes: Mapping[str, str]) -> None:
        """`head` (a commit or tree) changes exactly these paths of `base`, each to the blob named, as a regular
        file; and the object store really holds those bytes under those names (read back, hashed here)."""
        changed = sorted(self.run("diff-tree", "-r", "--name-only", "--no-renames", "-z", base, head)
                         .strip("\0").split("\0"))
        if changed != sorted(hashes):
            raise GitError(f"the commit changes {changed}, not exactly the verified files {sorted(hashes)}")
        for path, name in hashes.items():
            listed = self.run("ls-tree", head, "--", path).split()
            if len(listed) < 3 or listed[2] != name or listed[0] not in FILE_MODES:
                raise GitError(f"{path} in the commit is not the verified content")
            if blob_hash(self.git.output("cat-file", "blob", name, extra_env=self.env, cwd=self.folder)) != name:
                raise GitError(f"the object store holds other bytes for {path} than its name says (planted "
                               "by the build?)")

    def tree(self, commit: str) -> str:
        return self.run("rev-parse", f"{commit}^{{tree}}").strip()

    def push(self, url: str, commit: str, branch: str, auth: Mapping[str, str], expect: str | None) -> None:
        self.run("update-ref", f"refs/heads/{branch}", commit)
        lease = [f"--force-with-lease=refs/heads/{branch}:{expect}"] if expect is not None else []
        self.run("push", "--quiet", *lease, url, f"refs/heads/{branch}:refs/heads/{branch}", extra=auth)


def _subcommand(args: tuple[str, ...]) -> str:
    """`push` in `git --git-dir X push ...`: the word a user knows the command by."""
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
