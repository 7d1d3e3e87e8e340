"""The cost cap per issue: what all attempts on one crash issue may spend together.

Each run has its own dollar budget (`max_cost_usd`), but `reanalyze` starts another run, and
another: a crash that defeats the model could cost without end. The sticky progress comment's
hidden record carries the total over all attempts (`total_cost_usd`, kept by `render_state`);
past `max_cost_per_issue_usd` the fixer makes no model call and says so once, in that comment.
What is left of the cap also bounds the next run's budget.
"""

from __future__ import annotations

from collections.abc import Mapping

from crashfix.config import BudgetSettings


def spent(previous: Mapping[str, object] | None) -> tuple[float, int]:
    """Dollars spent on the issue so far and the number of attempts, from the sticky comment's record."""
    if not previous:
        return 0.0, 0
    total = previous.get("total_cost_usd", previous.get("cost_usd"))
    attempts = previous.get("attempts")
    dollars = float(total) if isinstance(total, (int, float)) and not isinstance(total, bool) else 0.0
    count = int(attempts) if isinstance(attempts, int) and not isinstance(attempts, bool) else 1
    return max(dollars, 0.0), count


def cap_reason(previous: Mapping[str, object] | None, budget: BudgetSettings) -> str | None:
    """Why no model call may start for this issue any more, or None while the cap leaves room."""
    cap = budget.max_cost_per_issue_usd
    dollars, attempts = spent(previous)
    if not cap or dollars < cap:
        return None
    return (f"the cost cap for this issue is reached: ${dollars:.2f} spent over {attempts} attempt(s), the cap is "
            f"${cap:.2f} (max_cost_per_issue_usd); no model call was made")


def remaining_budget(previous: Mapping[str, object] | None, budget: BudgetSettings) -> float | None:
    """Dollars the next run may spend under the per-issue cap; None when the cap is off."""
    cap = budget.max_cost_per_issue_usd
    return None if not cap else max(cap - spent(previous)[0], 0.0)
