"""Human-readable summaries of analysed crashes, for the terminal."""

from __future__ import annotations

from crashfix.analysis.models import CrashReport, ExceptionInfo

FORMAT_NAMES = {
    "cdb": "CDB/WinDbg output",
    "wheaty": "TrinityCore crash log",
    "gdb": "gdb backtrace",
    "sanitizer": "sanitizer report",
    "minidump": "minidump",
    "breakpad": "Breakpad/minidump-stackwalk output",
    "assertion": "assertion message",
    "backtrace": "program backtrace",
    "system-log": "system log entry",
}
TOP_FRAMES = 8


def describe_exception(exception: ExceptionInfo | None) -> str:
    if exception is None:
        return "none recorded"
    code, name = exception.code or "", exception.name or ""
    text = name if code and code in name else f"{code} {name}".strip() or exception.crash_class
    if exception.access and exception.address is not None:
        text += f", {exception.access} of {exception.address:#x}"
    elif exception.address is not None:
        text += f", address {exception.address:#x}"
    if exception.detail:
        text += f" ({exception.detail})"
    return text


def summary(path: str, report: CrashReport) -> str:
    """A few lines per file: what happened, where, the signature, the top frames."""
    lines = [f"{path} — {FORMAT_NAMES.get(report.format.value, report.format.value)}"]
    if report.kind != "crash":
        lines.append(f"  kind       {report.kind} (not a crash: not filed, not fixed)")
    lines.append(f"  exception  {describe_exception(report.exception)}")
    blamed = report.blamed_frame
    if blamed is not None:
        where = blamed.source()
        lines.append(f"  blamed     {blamed.location()}" + (f"  ({where})" if where else ""))
    if report.assertion and (report.assertion.condition or report.assertion.function):
        lines.append(f"  assertion  {report.assertion.condition or ''} in {report.assertion.function or '?'}")
    if report.signature is not None:
        signature = report.signature
        quality = "good" if signature.quality == "good" else f"low: {'; '.join(signature.quality_reasons)}"
        lines.append(f"  signature  {signature.id}  {signature.crash_class} | {signature.text}  [{quality}]")
    if report.build and report.build.revision:
        lines.append(f"  build      {report.build.product or ''} {report.build.revision}".rstrip())
    if report.frames:
        lines.append("  frames")
        for frame in report.frames[:TOP_FRAMES]:
            marker = ">" if blamed is not None and frame.index == blamed.index else " "
            source = frame.source()
            trust = f" [{frame.trust}]" if frame.trust in ("scan", "unreliable") else ""
            lines.append(f"   {marker}#{frame.index:<3}{frame.location()}" + (f"  {source}" if source else "") + trust)
        if len(report.frames) > TOP_FRAMES:
            lines.append(f"     … {len(report.frames) - TOP_FRAMES} more")
    for warning in report.warnings:
        lines.append(f"  note       {warning.message}")
    return "\n".join(lines)
