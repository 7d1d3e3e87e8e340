"""Which frame an engineer would blame, and which frames are not the project's code.

Rules come from `data/skip_frames.txt` (reviewed like code) plus the project's own
additions from config. Two rules need the stack around a frame and live here:

- an *inline helper*, a template or unqualified function from a header inlined into
  its caller (a container's `append`, a storage's `LookupEntry`), is skipped: the
  caller passed the bad state;
- in a stack overflow, the recursing frame is blamed, not whatever frame happened to
  touch the guard page.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from crashfix.analysis.models import CrashReport, Frame
from crashfix.analysis.symbols import is_unknown_function, normalize_module

MAX_MATCHED_CHARS = 4096
_HEADER_EXTENSIONS = (".h", ".hh", ".hpp", ".hxx", ".inl", ".ipp", ".tcc", ".tpp", ".inc")
_TEMPLATE = re.compile(r"<(?!<|=)")


@dataclass(frozen=True)
class Rule:
    field: str
    category: str
    library: bool
    pattern: re.Pattern[str]
    unsourced: bool = False  # applies only to frames without a source file (exports)


class SkipRules:
    """The skip list, compiled into one alternation per field for speed.

    Rules are tried in order (project rules, then function, module and file rules as
    listed); the first that matches anywhere in its field decides. Each alternative
    is `.*?(?:pattern)` matched at position 0, which keeps that order exactly.
    """

    _FIELDS = ("function", "module", "file")
    # The function rules that apply only to frames without a source file: tried between the
    # function and the module rules, and only when the frame has no file.
    _UNSOURCED = "function-unsourced"

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self._combined: dict[str, tuple[re.Pattern[str], list[Rule]]] = {}
        for field_name in (*self._FIELDS, self._UNSOURCED):
            chosen = [rule for rule in rules if _slot(rule) == field_name]
            if chosen:
                alternation = "|".join(f"(?P<r{i}>(?s:.*?)(?:{rule.pattern.pattern}))" for i, rule in enumerate(chosen))
                self._combined[field_name] = (re.compile(alternation), chosen)
        self._cache: dict[tuple[str, str, str], Rule | None] = {}

    def match(self, frame: Frame) -> Rule | None:
        """The first rule that says this frame is not to blame, if any."""
        key = (frame.function or "", normalize_module(frame.module) or "", (frame.file or "").replace("\\", "/"))
        if max(len(value) for value in key) > MAX_MATCHED_CHARS:  # rules look at the start; keep hostile input cheap
            key = (key[0][:MAX_MATCHED_CHARS], key[1][:MAX_MATCHED_CHARS], key[2][-MAX_MATCHED_CHARS:])
        if key in self._cache:
            return self._cache[key]
        found = None
        unsourced = key[0] if not key[2] else ""
        slots = (self._FIELDS[0], self._UNSOURCED, *self._FIELDS[1:])
        for field_name, value in zip(slots, (key[0], unsourced, *key[1:])):
            compiled = self._combined.get(field_name)
            if value and compiled is not None:
                hit = compiled[0].match(value)
                if hit is not None and hit.lastgroup is not None:
                    found = compiled[1][int(hit.lastgroup[1:])]
                    break
        if len(self._cache) < 100_000:
            self._cache[key] = found
        return found

    def extended(
        self, functions: tuple[str, ...] = (), modules: tuple[str, ...] = (), files: tuple[str, ...] = ()
    ) -> SkipRules:
        """These rules plus a project's own, which win (they are checked first)."""
        extra = [
            Rule(field, "project-config", False, re.compile(pattern))
            for field, patterns in (("function", functions), ("module", modules), ("file", files))
            for pattern in patterns
        ]
        return SkipRules(tuple(extra) + self.rules)


def _slot(rule: Rule) -> str:
    return SkipRules._UNSOURCED if rule.unsourced else rule.field


def parse_rules(text: str) -> SkipRules:
    """Read the skip-list format (see the header of `data/skip_frames.txt`)."""
    rules: list[Rule] = []
    header: tuple[str, str, bool, bool] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            words = line[1:-1].split()
            flags = set(words[2:])
            known = flags <= {"library", "unsourced"} and ("unsourced" not in flags or words[0] == "function")
            if len(words) < 2 or words[0] not in ("function", "module", "file") or not known:
                raise ValueError(f"skip list line {number}: bad section header {line!r}")
            header = (words[0], words[1], "library" in flags, "unsourced" in flags)
            continue
        if header is None:
            raise ValueError(f"skip list line {number}: pattern before any section header")
        rules.append(Rule(header[0], header[1], header[2], re.compile(line), unsourced=header[3]))
    return SkipRules(tuple(rules))


@lru_cache(maxsize=1)
def default_rules() -> SkipRules:
    """The rules shipped in the package."""
    text = resources.files("crashfix").joinpath("data/skip_frames.txt").read_text(encoding="utf-8")
    return parse_rules(text)


@dataclass
class Blame:
    """The blamed frame, and why the frames above it were passed over."""

    index: int | None
    fallback: bool = False
    skipped: dict[int, str] = field(default_factory=dict)
    recursion: bool = False


def is_inline_helper(frame: Frame) -> bool:
    """A generic helper from a header, inlined into its caller (see module docstring)."""
    if frame.trust != "inline" or not frame.file or not frame.function:
        return False
    path = frame.file.lower()
    if not path.endswith(_HEADER_EXTENSIONS):
        return False
    name = frame.function
    return "::" not in name or bool(_TEMPLATE.search(name.split("operator")[0]))


def skip_reason(frame: Frame, rules: SkipRules) -> str | None:
    """Why this frame is not to blame, or None when it could be.

    A frame standing for an assertion message is never skipped: the message says
    where the failure was detected, which is exactly what the skip list guesses at.
    """
    if frame.trust == "assertion":
        return None
    rule = rules.match(frame)
    if rule is not None:
        return rule.category
    if is_inline_helper(frame):
        return "inline-helper"
    return None


def mark_project_frames(report: CrashReport, rules: SkipRules) -> None:
    """Set `in_project` from the library rules: runtime, system modules, sanitizers."""
    for frame in report.frames:
        rule = rules.match(frame)
        frame.in_project = not (rule is not None and rule.library)


SIGNAL_HANDLER = "<signal handler called>"
# Where the crash handler's own frames end and the crashed code's begin: gdb's signal frame,
# and Windows' user-mode exception dispatcher (a stack taken without `.ecxr`, WER, a debugger).
_HANDLER_BOUNDARY = frozenset({SIGNAL_HANDLER, "KiUserExceptionDispatcher", "KiUserExceptionDispatch"})


def blameable_frames(frames: list[Frame]) -> list[Frame]:
    """Frames that may be blamed: not scanned guesses, not the crash handler's own frames."""
    trusted = [f for f in frames if f.trust != "scan"] or frames
    for position, frame in enumerate(trusted):
        if frame.function in _HANDLER_BOUNDARY:
            return trusted[position + 1 :] or trusted
    return trusted


def is_idle_stack(frames: list[Frame]) -> bool:
    """A thread that was waiting, not crashing: its top frame waits and no handler boundary follows."""
    if not frames or any(f.function in _HANDLER_BOUNDARY for f in frames):
        return False
    rule = default_rules().match(frames[0])
    return rule is not None and rule.category == "wait"


def _recursing_frame(frames: list[Frame]) -> Frame | None:
    """In a stack overflow, the frame repeated most (at least three times)."""
    keys = [(f.module, f.function, f.offset if f.function is None or f.symbols != "full" else None)
            for f in frames]
    counts = Counter(keys)
    if not counts:
        return None
    key, count = counts.most_common(1)[0]
    if count < 3:
        return None
    return frames[keys.index(key)]


def find_blame(report: CrashReport, rules: SkipRules) -> Blame:
    """Pick the blamed frame of a parsed report."""
    frames = blameable_frames(report.frames)
    if not frames:
        return Blame(index=None)
    crash_class = report.exception.crash_class if report.exception else None
    if crash_class == "stack-overflow":
        recursing = _recursing_frame(frames)
        if recursing is not None:
            return Blame(index=recursing.index, recursion=True)
    blame = Blame(index=None)
    for position, frame in enumerate(frames):
        reason = skip_reason(frame, rules) or _unplaced(frame) or _unnamed_above_named(frame, frames[position + 1 :])
        if reason is None:
            blame.index = frame.index
            return blame
        blame.skipped[frame.index] = reason
    named = [f for f in frames if not is_unknown_function(f.function)]
    placed = [f for f in frames if f.module]
    blame.index = (named or placed or frames)[0].index
    blame.fallback = True
    return blame


def _unnamed_above_named(frame: Frame, below: list[Frame]) -> str | None:
    """A frame without a name above named frames of the same binary (or of the program's own source):
    the symbols could not place this one (a handler's trampoline, code built without debug
    information, a broken unwind), so the first named frame below is the one an engineer can read."""
    if not is_unknown_function(frame.function) or not frame.module or frame.trust == "assertion":
        return None
    module = normalize_module(frame.module)
    for other in below:
        if is_unknown_function(other.function) or other.symbols != "full":
            continue  # export-relative guesses are not names either
        if normalize_module(other.module) == module or (other.module is None and other.file):
            return "no-symbol"
    return None


def _unplaced(frame: Frame) -> str | None:
    """A bare address with no symbol and no module: a call through a bad pointer (`#0 0x0 in ?? ()`),
    DEP/NX or JIT code. The caller that made the call is the one to blame."""
    if frame.module is None and is_unknown_function(frame.function) and frame.trust != "assertion":
        return "bad-address"
    return None
