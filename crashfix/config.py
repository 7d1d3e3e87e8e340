"""crashfix's configuration: one typed, frozen object built once from a TOML file.

Only the CLI reads the environment and decides which file to load; everything else
receives the resulting `Config`.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from crashfix.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


# GitHub's spelling: an owner (letters, digits, `-`, `_` for managed users) and a name (also `.`), no `..`.
REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")
REPO_NAME_HINT = "OWNER/NAME, e.g. acme/worldserver"


def repo_name_problem(name: str) -> str | None:
    """Why `name` is not a GitHub repository's OWNER/NAME, or None when it is one."""
    if REPO_NAME.match(name):
        return None
    why = ""
    if name.startswith(("http://", "https://", "git@")) or name.count("/") > 1:
        why = " (a URL or a path; give only the last two parts)"
    elif "/" not in name:
        why = " (the owner is missing)"
    return f"{name!r} is not {REPO_NAME_HINT}{why}"


def _repo_name(value: str | None) -> str | None:
    problem = None if value is None else repo_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # schemas built on first use: fast start


class AnalysisSettings(Section):
    """Project additions to the frame skip list (see crashfix/data/skip_frames.txt)."""

    skip_functions: tuple[str, ...] = Field(default=(), description="Regexes on function names.")
    skip_modules: tuple[str, ...] = Field(default=(), description="Regexes on module names (lowercase, no extension).")
    skip_files: tuple[str, ...] = Field(default=(), description="Regexes on source paths (forward slashes).")


DEFAULT_CDB_COMMAND = ("{cdb}", "-z", "{dump}", "-lines", "-c", "!analyze -v; .ecxr; kn 64; q")


class CdbSettings(Section):
    """How the uploader runs CDB on a new dump (Windows)."""

    path: str | None = Field(default=None, description="cdb.exe; default: PATH, then the Windows Kits folders.")
    command: tuple[str, ...] = Field(
        default=DEFAULT_CDB_COMMAND, description="Argument template; {cdb} and {dump} are filled in."
    )
    symbol_path: str | None = Field(
        default=None, description="Symbol path for CDB; default: _NT_SYMBOL_PATH from the environment."
    )
    timeout_seconds: float = Field(default=600.0, gt=0, description="Kill CDB and its children after this.")
    enabled: bool = True


class ServerSettings(Section):
    """`[uploader.server]`: the game server the uploader watches, for hours of uptime per revision.

    The revision of a crash comes from the crash text when it says (a `Revision:` line, a
    `rev. <hash>` banner), else from here: `revision_file` (the first commit id in it, else its
    first line) or `revision_command` (its output, read the same way), read once per server process.
    """

    process: str | None = Field(default=None, description="The server's process name, e.g. worldserver.exe "
                                "(case-insensitive; `.exe` optional); unset: no uptime is recorded.")
    revision_file: Path | None = Field(default=None, description="A file naming the running build's commit.")
    revision_command: tuple[str, ...] = Field(default=(), description="A command printing it (argv; no shell), "
                                              "run with a scrubbed environment and a timeout.")
    command_timeout_seconds: float = Field(default=10.0, gt=0)
    sample_seconds: float = Field(default=60.0, gt=0, description="How often the process is looked for.")

    @field_validator("revision_command", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return tuple(shlex.split(value)) if isinstance(value, str) else value


class UploaderSettings(Section):
    """`crashfix watch` / `crashfix file`: where crashes appear and how they are filed."""

    repo: Annotated[str | None, AfterValidator(_repo_name)] = Field(
        default=None, description="OWNER/NAME of the repository.")
    directories: tuple[Path, ...] = ()
    dump_patterns: tuple[str, ...] = ("*.dmp", "*.mdmp")
    text_patterns: tuple[str, ...] = ("*.txt", "*.log")
    recursive: bool = False
    host_name: str | None = Field(default=None, description="How this machine appears in issues; default: hostname.")
    host_id: str | None = Field(default=None, description="Keys this machine's counted crash files on issues; "
                                "default: a hash of the OS machine id. Set it when several machines share one.")
    login: str | None = Field(default=None, description="The account the uploader files as; only its issues are "
                              "used. Default: the token's user (set it for GitHub App tokens: name[bot]).")
    labels: tuple[str, ...] = ("crash",)
    regression_label: str = "regression"
    low_quality_label: str = "crashfix:low-quality"
    source_roots: tuple[str, ...] = Field(
        default=(), description="Build-machine path prefixes to strip when linking frames to the repository."
    )
    settle_seconds: float = Field(default=0.25, gt=0, description="A file is complete when unchanged this long.")
    incomplete_grace_seconds: float = Field(
        default=60.0, ge=0, description="A crash text that looks unfinished (no stack yet, cut short) and is younger "
        "than this is analysed again when it changes, and filed as it is once this has passed.")
    rescan_interval_seconds: float = Field(default=30.0, gt=0)
    comment_interval_seconds: float = Field(default=3600.0, ge=0, description="At most one repeat comment per issue.")
    write_interval_seconds: float = Field(default=1.0, ge=0, description="Spacing of GitHub writes (GitHub asks 1 s).")
    content_per_minute: int = Field(default=80, ge=1, description="Issues and comments created a minute (GitHub: 80).")
    content_per_hour: int = Field(default=500, ge=1, description="Issues and comments created an hour (GitHub: 500).")
    retry_initial_seconds: float = Field(default=5.0, gt=0)
    retry_max_seconds: float = Field(default=600.0, gt=0)
    once_give_up_seconds: float = Field(default=120.0, ge=0, description="--once: stop retrying GitHub after this.")
    retention_days: float = Field(default=30.0, gt=0, description="Keep filed spool entries this long.")
    state_dir: Path | None = None
    share_paths: dict[str, str] = Field(
        default_factory=dict, description="Crash folder -> the same folder as a fix runner reads it (a share): "
                                          "the issue records where the dump is, for a dump-inspecting tool server.")
    cdb: CdbSettings = Field(default_factory=CdbSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    verify_after_hours: float = Field(default=72.0, gt=0, description="A recorded fix is verified after this many "
                                      "hours of server uptime on revisions containing it without the crash.")
    suspect_after_hours: float = Field(default=24.0, gt=0, description="A new crash's regression range starts at "
                                       "the last revision the server ran this long without it.")
    fix_watch_interval_seconds: float = Field(default=3600.0, gt=0, description="How often closed crash issues are "
                                              "checked for fixes, and fixes for verification.")
    max_suspect_commits: int = Field(default=10, ge=0, description="Suspect commits listed on a new crash issue.")
    fix_label_prefix: str = Field(default="fixed-in:", description="A label `fixed-in:<commit>` records a fix by "
                                  "hand.")
    ineffective_label: str = "crashfix:fix-ineffective"
    verified_label: str = "crashfix:verified-fixed"


Command = tuple[str, ...]


def _commands(value: object) -> object:
    """Commands from TOML: `"cmake --build build"`; `["cmake", "--build", "build"]` (one argv);
    `["cmake -S . -B build", "cmake --build build"]` (command lines, recognised by a space in the first);
    or a list of argv lists."""
    if isinstance(value, str):
        return (tuple(shlex.split(value)),)
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, str) for item in value):
        if any(ch.isspace() for ch in value[0]):
            return tuple(tuple(shlex.split(item)) for item in value)
        return (tuple(value),)
    if isinstance(value, (list, tuple)):
        return tuple(tuple(shlex.split(item)) if isinstance(item, str) else item for item in value)
    return value


Commands = Annotated[tuple[Command, ...], BeforeValidator(_commands)]


class BudgetSettings(Section):
    """Limits on one `crashfix fix` run; each fails closed (no model call starts that could cross one)."""

    max_turns: int = Field(default=40, ge=1, description="Model calls in the whole run, repairs included.")
    max_output_tokens: int = Field(default=64_000, ge=1024, description="Output tokens over the whole run.")
    max_cost_usd: float = Field(default=5.0, ge=0, description="Dollars over the whole run; 0 disables the limit.")
    max_cost_per_issue_usd: float = Field(
        default=5.0, ge=0, description="Dollars over every attempt on one issue (reanalyze retries included), "
                                       "from the sticky comment's record; 0 disables the limit.")
    max_wall_seconds: float = Field(default=2400.0, gt=0, description="The whole run: model, build and tests.")
    response_max_tokens: int = Field(default=16_000, ge=1024, description="max_tokens of one model call.")
    thinking_tokens: int = Field(default=0, ge=0, description="Extended thinking budget per call; 0 = off.")


_SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$")


class ToolServerSettings(Section):
    """One `[[fix.mcp]]` entry: an MCP server (code navigation, game knowledge, dump inspection) whose
    allow-listed tools the model may call during a fix. Nothing is exposed unless `tools` names it."""

    name: str = Field(description="Short name; the model sees its tools as NAME__TOOL.")
    command: str | None = Field(default=None, description="A stdio server: the program to start.")
    args: tuple[str, ...] = Field(default=(), description="Its arguments; {checkout} is the checkout's path.")
    url: str | None = Field(default=None, pattern=r"^https?://", description="An HTTP (streamable) server instead.")
    tools: tuple[str, ...] = Field(description="The tools the model may see and call (required).")
    env: dict[str, str] = Field(default_factory=dict, description="Variables set for the server, literally.")
    pass_env: tuple[str, ...] = Field(
        default=(), description="Variables copied from the runner's environment (crashfix's own tokens never are).")
    headers_env: dict[str, str] = Field(
        default_factory=dict, description="HTTP servers: header name -> the variable that holds its value.")
    cwd: str = Field(default="{checkout}", description="Where a stdio server starts.")
    timeout_seconds: float = Field(default=60.0, gt=0, description="One call, at most (and the wall clock left).")
    start_timeout_seconds: float = Field(default=60.0, gt=0, description="Start, initialize and list the tools.")
    max_result_chars: int = Field(default=20_000, ge=500, le=200_000, description="Longer results are cut.")
    allow_writes: bool = Field(default=False, description="May its tools edit files in the checkout (jailed)?")
    write_tools: tuple[str, ...] = Field(
        default=(), description="Tools that edit files although their annotations do not say so.")
    ignore_paths: tuple[str, ...] = Field(
        default=(), description="Checkout folders where the server keeps its own files (caches), e.g. .serena/.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SERVER_NAME.match(value) or "__" in value:
            raise ValueError("a name is 1-24 letters, digits, '-' or '_' (no '__'), e.g. serena or game-knowledge")
        return value

    @field_validator("tools")
    @classmethod
    def _allow_list(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or not all(name.strip() for name in value):
            raise ValueError('name the tools the model may use, e.g. tools = ["find_symbol"]: nothing is exposed '
                             "by default")
        return value

    @field_validator("ignore_paths")
    @classmethod
    def _ignored(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = []
        for path in value:
            parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
            if not parts or ".." in parts or path.startswith(("/", "\\")) or ":" in path or \
                    parts[0].lower().rstrip(". ") in (".git", ".github"):
                raise ValueError(f"{path!r}: give a folder inside the checkout, not .git/ or .github/")
            cleaned.append("/".join(parts) + "/")
        return tuple(cleaned)

    @model_validator(mode="after")
    def _transport(self) -> ToolServerSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"[[fix.mcp]] {self.name}: give either command (a stdio server) or url (HTTP), not both")
        if self.url is not None and (self.args or self.env or self.pass_env):
            raise ValueError(f"[[fix.mcp]] {self.name}: args, env and pass_env are for stdio servers (command)")
        if self.command is not None and self.headers_env:
            raise ValueError(f"[[fix.mcp]] {self.name}: headers_env is for HTTP servers (url)")
        return self


class FixSettings(Section):
    """`crashfix fix`: how the target repository is built and tested, and what the model may spend.

    Read from `.github/crashfix.toml` in the checkout (section `[fix]`), overridden by CLI flags.
    """

    model: str = "claude-sonnet-5-5"
    build: Commands = Field(default=(), description="Commands run in order from the checkout root.")
    test: Commands = Field(default=(), description="Commands run after a successful build.")
    build_timeout_seconds: float = Field(default=1800.0, gt=0)
    test_timeout_seconds: float = Field(default=900.0, gt=0)
    repair_rounds: int = Field(default=3, ge=1, le=10, description="Build/test rounds, the first included.")
    regression_test: Literal["auto", "off", "required"] = Field(
        default="auto", description="Ask the model for a test that crashes on the base and passes on the fix: "
                                    "auto (when the repository has a test framework), off, or required (a fix "
                                    "without such a test is not delivered as verified).")
    path_mappings: dict[str, str] = Field(
        default_factory=dict, description="Build-machine path prefix -> repository-relative prefix."
    )
    uploader_login: str | None = Field(default=None, description="The account the uploader files issues as.")
    instructions_file: str | None = Field(
        default=None, description="Project notes for the model; default: the first of CLAUDE.md, AGENTS.md, "
                                  ".github/crashfix-instructions.md that exists."
    )
    context_tokens: int = Field(default=12_000, ge=1000, description="Budget for the code shown up front.")
    branch_prefix: str = "crashfix/issue-"
    base_branch: str | None = Field(default=None, description="Default: the repository's default branch.")
    reanalyze_label: str = "reanalyze"
    fix_proposed_label: str = "crashfix:fix-proposed"
    needs_human_label: str = "crashfix:needs-human"
    keep_env: tuple[str, ...] = Field(
        default=(), description="Variables to pass to builds even though their names look secret."
    )
    build_dir: str | None = Field(
        default=None, description="Warm builds: a folder outside the checkout, kept between runs; commands get "
        "<build_dir>/<key> as {build_dir} (key: repository and build commands). Default: {build_dir} is "
        "<checkout>/build.")
    build_dir_wait_seconds: float = Field(
        default=600.0, ge=0, description="How long a run waits for another using the same build folder, then "
        "builds in a fresh temporary one.")
    compiler_cache: Literal["auto", "ccache", "sccache", "off"] = Field(
        default="off", description="Adds CMAKE_<LANG>_COMPILER_LAUNCHER to cmake configure commands when found.")
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    mcp: tuple[ToolServerSettings, ...] = Field(
        default=(), description="MCP tool servers the model may use ([[fix.mcp]] entries); none by default.")

    @field_validator("mcp")
    @classmethod
    def _unique_servers(cls, value: tuple[ToolServerSettings, ...]) -> tuple[ToolServerSettings, ...]:
        names = [entry.name.lower() for entry in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"two [[fix.mcp]] entries are named {twice[0]!r}; each needs its own name")
        return value


class NotifySettings(Section):
    """Chat notifications (Discord or Slack webhook). Prefer the CRASHFIX_WEBHOOK_URL secret to a URL in a file."""

    webhook_url: str | None = Field(default=None, description="Overridden by $CRASHFIX_WEBHOOK_URL.")
    service: Literal["discord", "slack"] | None = Field(default=None, description="Default: from the URL's host.")
    timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    events: tuple[Literal["new-signature", "pr-opened", "fix-failed", "regression"], ...] = (
        "new-signature", "pr-opened", "fix-failed", "regression")


class Config(Section):
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    uploader: UploaderSettings = Field(default_factory=UploaderSettings)
    fix: FixSettings = Field(default_factory=FixSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)


REPO_CONFIG = Path(".github") / "crashfix.toml"
"""Where a repository keeps its crashfix settings (the fixer, the gate, init and doctor read it)."""


def repo_config_path(checkout: Path, explicit: Path | None) -> Path | None:
    """`explicit` when given, else the checkout's `.github/crashfix.toml` when it exists (else defaults)."""
    if explicit is not None:
        return explicit
    default = checkout / REPO_CONFIG
    return default if default.is_file() else None


def load_config(path: Path | None) -> Config:
    """The config in `path`, or the defaults when no file is given."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"config file {path}: {where}: {first['msg'].removeprefix('Value error, ')}") from None
