"""Crash signatures: the same bug, seen twice, files as one issue.

Key = algorithm version + quality + crash class + the blamed frame and the next two
frames an engineer would look at, each normalised (no arguments, offsets, addresses
or template arguments; one spelling for anonymous namespaces and lambdas). Line
numbers are shown elsewhere but never keyed: they move between builds.

A signature is `low` quality when it rests on missing or export-only symbols, on
frames found by stack scanning, or on runtime frames only. Quality is part of the
key, so a low-quality signature never merges with a good one; a low one also keys
on the debugger's own failure bucket when there is one, so two different bugs with
the same meaningless stack stay apart.
"""

from __future__ import annotations

import hashlib
import re

from crashfix.analysis.blame import Blame, SkipRules, blameable_frames, skip_reason
from crashfix.analysis.models import CrashReport, Frame, Signature
from crashfix.analysis.symbols import is_unknown_function, normalize_function, normalize_module

SIGNATURE_VERSION = 2  # 2: assertion sites keyed by file and unqualified name; cut names never keyed
FRAMES_IN_SIGNATURE = 3
_ASSERT_PROMOTES = {"access-violation", "abort", "illegal-instruction", "breakpoint", "fail-fast", "unknown"}


def frame_key(frame: Frame) -> str:
    """One frame's contribution to the key."""
    if frame.trust == "assertion" and frame.function:
        return assertion_key(frame)
    module = normalize_module(frame.module)
    if frame.function and frame.symbols == "none":
        return f"{module or '?'}!{frame.function}"  # a debugger's pseudo frame
    if frame.function and not is_unknown_function(frame.function):
        if frame.symbols == "exports":
            offset = f"+{frame.offset:#x}" if frame.offset is not None else ""
            return f"{module or '?'}!{frame.function}{offset}"
        return normalize_function(frame.function)
    if frame.file and frame.address is None:  # a sanitizer's `file:line: runtime error`: the place is all there is
        return f"{_base_name(frame.file)}:{frame.line or '?'}"
    if module:
        if frame.section is not None and frame.offset is not None:
            return f"{module}+{frame.section:x}:{frame.offset:x}"
        if frame.offset is not None:
            return f"{module}+{frame.offset:#x}"
        return module
    return hex(frame.address) if frame.address is not None else "??"


def assertion_key(frame: Frame) -> str:
    """An assertion site: its function as the message printed it (qualified or not) and its file.

    Messages print `GetMap` or `WorldObject::GetMap` for the same site, and their paths differ
    by build folder: the unqualified name and the file's base name are what stay the same.
    """
    function = unqualified(normalize_function(frame.function or ""))
    base = _base_name(frame.file) if frame.file else ""
    return f"{function} ({base})" if base else function


def _base_name(path: str) -> str:
    return re.split(r"[\\/]", path)[-1]


def unqualified(name: str) -> str:
    """`WorldObject::GetMap` -> `GetMap`; `Foo<T>::bar` -> `bar` (scopes outside template brackets)."""
    depth = 0
    cut = 0
    for position, char in enumerate(name):
        if char == "<":
            depth += 1
        elif char == ">":
            depth = max(0, depth - 1)
        elif char == ":" and depth == 0 and name.startswith("::", position):
            cut = position + 2
    return name[cut:]


def looks_cut(name: str | None) -> bool:
    """A name a paste cut short: `WorldSocket:`, `Foo::`, `std::map<int, std::str`."""
    if not name:
        return False
    return name.endswith(":") or name.count("<") > name.count(">") or name.count("(") > name.count(")")


def crash_class(report: CrashReport, blame: Blame) -> str:
    """The exception's class, promoted to `assert` when an assertion handler is on the stack."""
    if report.kind != "crash":
        return report.kind
    base = report.exception.crash_class if report.exception else "unknown"
    if base in _ASSERT_PROMOTES and (
        report.assertion is not None or "assert" in blame.skipped.values()
    ):
        return "assert"
    if base == "unknown" and "abort" in blame.skipped.values():
        return "abort"
    return base


def signature_frames(report: CrashReport, blame: Blame, rules: SkipRules) -> list[Frame]:
    """The blamed frame and the next frames worth keying, at most three."""
    if blame.index is None:
        return []
    frames = blameable_frames(report.frames)
    start = next(i for i, f in enumerate(frames) if f.index == blame.index)
    chosen: list[Frame] = [frames[start]]
    for frame in frames[start + 1 :]:
        if len(chosen) == FRAMES_IN_SIGNATURE:
            break
        if not blame.fallback and skip_reason(frame, rules) is not None:
            continue
        if blame.recursion and frame_key(frame) == frame_key(chosen[-1]):
            continue
        if frame.function is None and frame.module is None:
            continue  # a bare address after the blamed frame: JIT code or a broken unwind
        if frame.cut or looks_cut(frame.function):
            break  # a name cut mid-identifier would split one crash into as many signatures as cut points
        chosen.append(frame)
    return chosen


def quality_reasons(blame: Blame, frames: list[Frame]) -> list[str]:
    """Why a signature cannot be trusted to tell bugs apart; empty when it can."""
    reasons: list[str] = []
    if not frames:
        reasons.append("no stack frames in the input")
    if any(f.symbols == "exports" for f in frames):
        reasons.append("export symbols only (no PDB)")
    if any(f.symbols == "none" or is_unknown_function(f.function) for f in frames):
        reasons.append("frames without symbols")
    if any(f.trust == "scan" for f in frames):
        reasons.append("frames found by stack scanning")
    if blame.fallback and frames:
        reasons.append("only runtime or system frames on the stack")
    if frames and (frames[0].cut or looks_cut(frames[0].function)):
        reasons.append("the blamed frame's name is cut short")
    return reasons


def compute_signature(report: CrashReport, blame: Blame, rules: SkipRules) -> Signature:
    """The signature of a parsed, blamed report."""
    frames = signature_frames(report, blame, rules)
    klass = crash_class(report, blame)
    keys = [frame_key(f) for f in frames]
    reasons = quality_reasons(blame, frames)
    quality = "low" if reasons else "good"
    key_parts = [f"v{SIGNATURE_VERSION}", quality, klass, *keys]
    if quality == "low":
        bucket = report.facts.get("failure_bucket")
        if bucket:
            key_parts.append(f"bucket={bucket.lower()}")
    digest = hashlib.sha256("\n".join(key_parts).encode("utf-8")).hexdigest()[:12]
    text = " | ".join(keys) if keys else "(no frames)"
    return Signature(
        id=digest,
        text=text,
        crash_class=klass,
        frames=keys,
        quality=quality,  # type: ignore[arg-type]
        quality_reasons=reasons,
        version=SIGNATURE_VERSION,
    )
