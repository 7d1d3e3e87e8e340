"""Where a fix run's wall clock went: building, testing, the model, and the rest (git, locating, delivery).

A cold build of a large server can use most of a run's `max_wall_seconds`; the outcome says so
in numbers (per round too) so a team can see whether warm builds (`[fix] build_dir`, a compiler
cache) are worth setting up. The figures are the steps' own measured seconds, not estimates.
"""

from __future__ import annotations

from collections.abc import Sequence

from crashfix.fixer.models import FixOutcome, RoundTime, TimeSplit, VerifyResult


def time_split(rounds: Sequence[VerifyResult], model_seconds: float, *, baseline: VerifyResult | None = None,
               regression_seconds: float = 0.0) -> TimeSplit:
    """`baseline`: the base commit's build and test when they ran in this run (round 0; none when cached)."""
    rounds = [*([baseline] if baseline is not None else []), *rounds]
    per_round = [RoundTime(round=r.round,
                           build_seconds=round(sum(s.seconds for s in r.steps if s.phase == "build"), 3),
                           test_seconds=round(sum(s.seconds for s in r.steps if s.phase == "test"), 3))
                 for r in rounds]
    return TimeSplit(build_seconds=round(sum(r.build_seconds for r in per_round), 3),
                     test_seconds=round(sum(r.test_seconds for r in per_round), 3),
                     model_seconds=round(model_seconds, 3), regression_seconds=round(regression_seconds, 3),
                     builds=sum(1 for r in rounds if any(s.phase == "build" for s in r.steps)),
                     rounds=per_round)


def duration(seconds: float) -> str:
    """`9m 40s`, `42s`, `1h 3m`."""
    whole = max(0, int(round(seconds)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def time_line(outcome: FixOutcome) -> str:
    """`12m 3s in total: 9m 40s building (3 builds), 1m 2s testing, 1m 21s model, 0s other`."""
    split = outcome.time_split
    other = max(0.0, outcome.seconds - split.build_seconds - split.test_seconds - split.model_seconds
                - split.regression_seconds)
    builds = f" ({split.builds} build{'s' if split.builds != 1 else ''})"
    regression = f", {duration(split.regression_seconds)} regression test" if split.regression_seconds else ""
    return (f"{duration(outcome.seconds)} in total: {duration(split.build_seconds)} building{builds}, "
            f"{duration(split.test_seconds)} testing{regression}, {duration(split.model_seconds)} model, "
            f"{duration(other)} other")


def rounds_line(outcome: FixOutcome) -> str:
    """`round 1: build 65s; round 2: build 4s, tests 12s`."""
    parts = []
    for item in outcome.time_split.rounds:
        tests = f", tests {duration(item.test_seconds)}" if item.test_seconds else ""
        name = f"round {item.round}" if item.round else "base commit"
        parts.append(f"{name}: build {duration(item.build_seconds)}{tests}")
    return "; ".join(parts)


def build_folder_line(outcome: FixOutcome) -> str:
    """`Build folder: reused (acme-3f2a…, ccache)`: the key only, never the runner's absolute path."""
    use = outcome.build_folder
    if use is None:
        return ""
    if use.state == "in-checkout":
        where = "the checkout's build/ (cold: no [fix] build_dir)"
    else:
        where = f"{use.state} {use.key}" + (f": {use.reason}" if use.reason else "")
    return f"Build folder: {where}; compiler cache: {use.compiler_cache}"
