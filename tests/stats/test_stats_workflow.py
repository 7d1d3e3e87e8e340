"""The scheduled stats workflow keeps the house rules: read-only, pinned actions, no expressions in scripts."""

from __future__ import annotations

import re

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "crashfix-stats.yml"


def test_the_stats_workflow_is_read_only_pinned_and_injection_free() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert re.search(r"^on:\n  schedule:\n    - cron: ", text, re.M) and "\n  workflow_dispatch:" in text
    permissions = re.search(r"^permissions:\n((?:  .*\n)+)", text, re.M)
    assert permissions is not None
    granted = {line.split(":")[0].strip(): line.split(":")[1].split("#")[0].strip()
               for line in permissions.group(1).splitlines()}
    assert granted == {"issues": "read", "pull-requests": "read"}
    for action in re.findall(r"uses: (\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{action} is not pinned by SHA"
    for block in re.findall(r"run: (\|\n(?:          .*\n)+|.*\n)", text):
        assert "${{" not in block, f"an expression inside run: {block}"
    assert "$GITHUB_STEP_SUMMARY" in text and "crashfix stats" in text
