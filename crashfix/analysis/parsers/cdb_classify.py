"""Is this CDB output a crash at all? Hangs, kernel bugchecks, managed exceptions, snapshots.

A hang dump analysed with `!analyze` still prints "Exception Analysis" and a made-up
`80000003` at address 0; a blue-screen dump prints a stack too. Filing those as
crashes would send the fixer after bugs that are not there, so they are recognised
here and the report says what they are instead.
"""

from __future__ import annotations

import re

from crashfix.analysis.models import CrashReport, ExceptionInfo, ReportKind
from crashfix.analysis.parsers.cdb_text import AnalysisText

_KERNEL = re.compile(
    r"Bugcheck Analysis|^BugCheck [0-9A-Fa-f]+, \{|^\d+: kd>|"
    r"Kernel (?:Bitmap|Complete|Summary|Mini) Dump File|Mini Kernel Dump File|\*\*\* Fatal System Error",
    re.M,
)
_BUGCHECK_NAME = re.compile(r"^([A-Z][A-Z0-9_]+) \(([0-9a-fA-F]+)\)\s*$", re.M)
_BUGCHECK_BANNER = re.compile(r"^BugCheck ([0-9A-Fa-f]+), \{", re.M)
_HANG_COMMAND = re.compile(r"!analyze\s+-v\s+-hang|!analyze\s+-hang", re.I)
_EXCEPTION_OF_INTEREST = "exception of interest"
_TTD = "Time Travel Position"
_ZERO_ADDRESS = re.compile(r"^\s*ExceptionAddress:\s*0+\s*$", re.M)
_CLR_TYPE = re.compile(r"CLR_EXCEPTION_([\w.`]+?)(?=_[0-9a-fA-F]{8}_|\s|$)")


def kind(analysis: AnalysisText, text: str, report: CrashReport) -> ReportKind:
    """Classify, and rewrite the report's exception to say what was really found."""
    if _is_kernel(analysis, text):
        report.exception = _bugcheck_exception(analysis, text)
        return "kernel-bugcheck"
    buckets = " ".join(
        value or ""
        for value in (
            analysis.first("FAILURE_BUCKET_ID"), analysis.key("Failure.Bucket"),
            analysis.first("DEFAULT_BUCKET_ID"), analysis.first("PRIMARY_PROBLEM_CLASS"),
            analysis.first("BUGCHECK_STR"), analysis.first("BUCKET_ID"),
            analysis.key("Failure.ProblemClass.Primary"),
        )
    )
    code = report.exception.code if report.exception else None
    if "APPLICATION_HANG" in buckets or re.search(r"\b(?:X64|X86)?_?HANG\b", buckets) or (
        ("-hang" in text and _HANG_COMMAND.search(text)) or code == "cfffffff"
    ):
        report.exception = None
        return "hang"
    if code in ("e0434352", "e0434f4d") or "CLR_EXCEPTION" in buckets:
        clr = _CLR_TYPE.search(buckets)
        report.exception = ExceptionInfo(
            code=code or "e0434352", name="CLR_EXCEPTION", crash_class="managed-exception",
            detail=clr.group(1) if clr else None,
        )
        return "managed"
    if code == "80000003" and _is_snapshot(text, buckets):
        report.exception = None
        return "snapshot"
    return "crash"


_KERNEL_LITERALS = ("Bugcheck Analysis", "BugCheck ", " kd>", "Kernel ", "Fatal System Error")


def _is_kernel(analysis: AnalysisText, text: str) -> bool:
    head = text[:200_000]
    return bool(
        "BUGCHECK_CODE" in analysis.sections
        or analysis.key("Bugcheck.Code.LegacyAPI", "Bugcheck.Code.KiBugCheckData")
        or (any(literal in head for literal in _KERNEL_LITERALS) and _KERNEL.search(head))
    )


def _bugcheck_exception(analysis: AnalysisText, text: str) -> ExceptionInfo:
    code = analysis.first("BUGCHECK_CODE") or analysis.key("Bugcheck.Code.LegacyAPI")
    banner = _BUGCHECK_BANNER.search(text)
    if not code and banner:
        code = banner.group(1)
    name_match = _BUGCHECK_NAME.search(text)
    if not code and name_match:
        code = name_match.group(2)
    value = int(code, 16) if code and re.fullmatch(r"(?:0x)?[0-9a-fA-F]+", code) else None
    return ExceptionInfo(
        code=f"bugcheck-{value:x}" if value is not None else "bugcheck",
        name=name_match.group(1) if name_match else None,
        crash_class="kernel-bugcheck",
        detail=analysis.first("IMAGE_NAME"),
    )


def _is_snapshot(text: str, buckets: str) -> bool:
    """A dump taken without an exception: `!analyze` invents a breakpoint at address 0."""
    if _TTD in text:
        return True
    invented = bool(_ZERO_ADDRESS.search(text)) or bool(
        re.search(r"\b(?:BREAKPOINT|STACKIMMUNE)_80000003_", buckets)
    )
    return invented and _EXCEPTION_OF_INTEREST not in text
