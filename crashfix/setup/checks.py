"""One line per check, for `crashfix doctor` and `crashfix doctor --host`: ok, warn, failed or skipped.

A skipped check is neither passed nor failed: it did not apply here (CDB on Linux) or
could not run (no token to ask GitHub with), and the summary counts it on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

State = Literal["ok", "warn", "failed", "skipped"]
MARKS = {"ok": "ok    ", "warn": "WARN  ", "failed": "FAILED", "skipped": "--    "}


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{MARKS[self.state]}  {self.name}: {self.detail}"
        return text + (f"\n        fix: {self.fix}" if self.fix else "")


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def warn(name: str, detail: str, fix: str = "") -> Check:
    return Check(name, "warn", detail, fix)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, "failed", detail, fix)


def skipped(name: str, why: str) -> Check:
    return Check(name, "skipped", why)


def summary(checks: Iterable[Check]) -> str:
    """`all 6 checks passed (1 with a warning); 2 skipped` or `2 of 6 checks failed, 4 passed; 2 skipped`."""
    counts = {state: 0 for state in MARKS}
    for check in checks:
        counts[check.state] += 1
    ran = counts["ok"] + counts["warn"] + counts["failed"]
    warned = f" ({counts['warn']} with a warning)" if counts["warn"] else ""
    if counts["failed"]:
        text = f"{counts['failed']} of {ran} checks failed, {ran - counts['failed']} passed{warned}"
    else:
        text = f"all {ran} checks passed{warned}" if ran else "no check could run"
    return text + (f"; {counts['skipped']} skipped" if counts["skipped"] else "")


def report(checks: list[Check], echo: Callable[[str], None]) -> int:
    """Print every check and the summary; exit code 1 when a check failed."""
    for check in checks:
        echo(check.line())
    echo("\n" + summary(checks))
    return 1 if any(check.state == "failed" for check in checks) else 0
