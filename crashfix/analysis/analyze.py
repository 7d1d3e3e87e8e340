"""From a file or text to a blamed, signed `CrashReport`: detection, parsing, blame, signature.

This is the one entry point the uploader, the fixer and `crashfix analyze` share.
"""

from __future__ import annotations

import mmap
import re
from pathlib import Path

from crashfix.analysis.blame import SkipRules, default_rules, find_blame, mark_project_frames
from crashfix.analysis.build_banner import find_build
from crashfix.analysis.models import MAX_FRAMES, CrashReport, SourceFormat, replace_index
from crashfix.analysis.parsers import BINARY_PARSERS, MIN_CONFIDENCE, TEXT_PARSERS, rank_text_formats
from crashfix.analysis.parsers.assertion import assertion_frame
from crashfix.analysis.signature import compute_signature
from crashfix.analysis.textclean import clean_text, decode
from crashfix.config import AnalysisSettings
from crashfix.errors import ParseError

MAX_TEXT_BYTES = 32 * 1024 * 1024
MAX_NAME_CHARS = 4096
MAX_PATH_CHARS = 1024
_TRIED = (
    "CDB !analyze output, a TrinityCore/AzerothCore crash log, a gdb backtrace, a sanitizer report, "
    "minidump_stackwalk output, a glibc or Visual Studio backtrace, an assertion message, a Windows "
    "Application Error event, a kernel segfault line, a minidump"
)


def rules_for(settings: AnalysisSettings | None) -> SkipRules:
    """The packaged skip list plus a project's additions."""
    rules = default_rules()
    if settings is None:
        return rules
    if settings.skip_functions or settings.skip_modules or settings.skip_files:
        try:
            return rules.extended(settings.skip_functions, settings.skip_modules, settings.skip_files)
        except re.error as error:
            raise ParseError(f"a skip pattern in the config is not a valid regex: {error}") from None
    return rules


def finish(report: CrashReport, rules: SkipRules) -> CrashReport:
    """Mark project frames, blame one, and sign the report."""
    _bound(report)
    mark_project_frames(report, rules)
    blame = find_blame(report, rules)
    if (blame.index is None or blame.fallback) and _add_assertion_site(report):
        # The stack shows only runtime frames (or nothing): the assertion message names the site.
        mark_project_frames(report, rules)
        blame = find_blame(report, rules)
    report.blamed_frame_index = blame.index
    report.signature = compute_signature(report, blame, rules)
    return report


def _bound(report: CrashReport) -> None:
    """Hostile or broken input stays cheap: no stack deeper, no name longer than any real one.

    A real C++ frame name (templates included) stays well under 4,096 characters and a
    real stack under a few thousand frames (a deep recursion repeats itself long before).
    """
    if len(report.frames) > MAX_FRAMES:
        report.frames = report.frames[:MAX_FRAMES]
        report.warn("truncated", f"the stack has more than {MAX_FRAMES} frames; the first {MAX_FRAMES} were read")
    for frame in report.frames:
        if frame.function and len(frame.function) > MAX_NAME_CHARS:
            frame.function, frame.cut = frame.function[:MAX_NAME_CHARS], True
            report.warn("damaged-input", f"a frame name longer than {MAX_NAME_CHARS} characters was cut")
        if frame.file and len(frame.file) > MAX_PATH_CHARS:
            frame.file = frame.file[:MAX_PATH_CHARS]
        if frame.module and len(frame.module) > MAX_PATH_CHARS:
            frame.module = frame.module[:MAX_PATH_CHARS]


def _add_assertion_site(report: CrashReport) -> bool:
    """Put the assertion's site on top of the stack, when there is one and it is not there yet."""
    if report.assertion is None or any(f.trust == "assertion" for f in report.frames):
        return False
    site = assertion_frame(report.assertion)
    if site is None or not site.function:
        return False
    report.frames = [site, *(replace_index(f, i + 1) for i, f in enumerate(report.frames))]
    return True


def analyze_text(text: str, fmt: SourceFormat | None = None, rules: SkipRules | None = None) -> CrashReport:
    """Parse crash text (already decoded) in the given or detected format."""
    rules = rules or default_rules()
    text = clean_text(text)
    if not text.strip():
        raise ParseError("the input is empty")
    if fmt is not None:
        if fmt not in TEXT_PARSERS:
            raise ParseError(f"'{fmt.value}' is a binary format; give the file itself, not its text")
        return finish(_parse(fmt, text), rules)
    candidates = [(score, f) for score, f in rank_text_formats(text) if score >= MIN_CONFIDENCE]
    if not candidates:
        raise ParseError(f"not a crash report crashfix recognises (looked for {_TRIED})",
                         hint="use --format to force a parser")
    first_error: ParseError | None = None
    for _, candidate in candidates:
        try:
            return finish(_parse(candidate, text), rules)
        except ParseError as error:
            first_error = first_error or error
    assert first_error is not None
    raise first_error


def _parse(fmt: SourceFormat, text: str) -> CrashReport:
    """One parser's reading; the build a `Revision:` line or version banner names, where the parser found none."""
    report = TEXT_PARSERS[fmt].parse(text)
    if report.build is None or not report.build.revision:
        found = find_build(text)
        if found is not None:
            report.build = found if report.build is None else report.build.model_copy(
                update={key: value for key, value in found.model_dump().items() if value is not None})
    return report


def analyze_bytes(data: bytes, fmt: SourceFormat | None = None, rules: SkipRules | None = None) -> CrashReport:
    """Parse raw bytes: a minidump, or text in any encoding."""
    rules = rules or default_rules()
    if not data:
        raise ParseError("the input is empty")
    for binary_format, module in BINARY_PARSERS.items():
        if fmt in (None, binary_format) and module.sniff_bytes(data) > 0:
            return finish(module.parse_bytes(data), rules)
    if fmt in BINARY_PARSERS:
        raise ParseError(f"not a {fmt.value} file: it does not start with the MDMP signature")  # type: ignore[union-attr]
    if _looks_binary(data):
        raise ParseError("a binary file that is not a minidump")
    return analyze_text(decode(data), fmt, rules)


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    zeros = sample.count(0)
    if not zeros:
        return False
    utf16 = sample[1::2].count(0) > len(sample) * 0.4 or sample[0::2].count(0) > len(sample) * 0.4
    return not utf16 and zeros > len(sample) * 0.01


def analyze_path(path: Path, fmt: SourceFormat | None = None, rules: SkipRules | None = None) -> CrashReport:
    """Parse a file; minidumps are memory-mapped so a 2 GB dump is not read into memory."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
            if head == b"MDMP" and fmt in (None, SourceFormat.MINIDUMP):
                with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    return finish(BINARY_PARSERS[SourceFormat.MINIDUMP].parse_bytes(mapped), rules or default_rules())
            handle.seek(0)
            data = handle.read(MAX_TEXT_BYTES + 1)
    except FileNotFoundError:
        raise ParseError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise ParseError(f"{path} is a directory, not a crash file") from None
    except PermissionError:
        raise ParseError(f"{path} cannot be read (permission denied)") from None
    except OSError as error:
        raise ParseError(f"{path} cannot be read: {error.strerror or error}") from None
    cap = f"only the first {MAX_TEXT_BYTES // (1024 * 1024)} MB of the file were read"
    try:
        report = analyze_bytes(data[:MAX_TEXT_BYTES], fmt, rules)
    except ParseError as error:
        if len(data) <= MAX_TEXT_BYTES:
            raise
        raise ParseError(f"{error.message}; {cap} (a crash report that starts later is not seen)",
                         "cut the file down to the crash, e.g. the part after the last server start") from None
    if len(data) > MAX_TEXT_BYTES:
        report.warn("truncated", cap)
    return report
