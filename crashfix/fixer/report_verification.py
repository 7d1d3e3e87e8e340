"""What the PR body, the issue comment, the job summary and the terminal say about how far a fix was verified.

One of three levels, never a bare "fixed": *reproduced and fixed* (a regression test failed or
crashed on the base commit and passes on the fix), *built and tests pass (crash not
reproduced)*, or *not verified*. Beside it, the base commit's own failures (pre-existing, not
the fix's) and what the regression test showed. Test names and commands come from build
output and the model, so they pass `model_text` (inert Markdown) on their way to GitHub.
"""

from __future__ import annotations

from collections.abc import Callable

from crashfix.fixer.models import FixOutcome

_ICON = {"reproduced-and-fixed": "✅", "built-and-tests-pass": "☑️", "not-verified": "❌"}


def level_line(outcome: FixOutcome) -> str:
    return f"{_ICON[outcome.level]} {outcome.level_text}"


def baseline_line(outcome: FixOutcome, safe: Callable[[str], str] = str) -> str:
    """One line on the base commit: builds or not, its pre-existing failures, fresh or cached."""
    base = outcome.baseline
    if base is None:
        return ""
    source = "cached result" if base.cached else f"built and tested in {base.seconds:.0f} s"
    if not base.built:
        errors = "; ".join(base.build_errors[:2])
        return safe(f"The base commit {base.base_commit[:12]} does not build ({source}): {errors}")
    if not base.preexisting:
        return f"The base commit {base.base_commit[:12]} builds and its tests pass ({source})."
    shown = ", ".join(base.preexisting[:10]) + (f" and {len(base.preexisting) - 10} more"
                                                 if len(base.preexisting) > 10 else "")
    return safe(f"Pre-existing failures (already on the base commit {base.base_commit[:12]}, {source}; not "
                f"counted against the fix): {shown}")


def regression_line(outcome: FixOutcome, safe: Callable[[str], str] = str) -> str:
    check = outcome.regression
    if check is None:
        return ""
    name = f" {check.test.name}" if check.test is not None and check.test.name else ""
    return safe(f"Regression test{name}: {check.detail}")


def verification_block(outcome: FixOutcome, safe: Callable[[str], str] = str) -> list[str]:
    """The level, then the baseline and regression lines that exist, as Markdown lines."""
    lines = [f"**Verification level:** {level_line(outcome)}"]
    lines += [f"- {line}" for line in (baseline_line(outcome, safe), regression_line(outcome, safe)) if line]
    return lines


def state_fields(outcome: FixOutcome) -> dict[str, object]:
    """For the sticky comment's hidden record, read by `crashfix stats`."""
    base = outcome.baseline
    return {"verification": outcome.level,
            "preexisting_failures": len(base.preexisting) if base is not None else None,
            "base_builds": base.built if base is not None else None}
