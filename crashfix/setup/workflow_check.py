"""Does the installed fix workflow keep the trust boundary? Read as text (no YAML library), job by job.

The split that `crashfix init` installs: the job that builds model-written code (`fix`, on the
self-hosted runner) has read-only permissions, writes its result as a bundle and holds no write
credential; one GitHub-hosted job (`command: deliver`) holds the write permissions and no API
key. An older one-job workflow, where the fix job pushes and opens the PR itself, works but puts
the write token on the machine that runs the build: doctor says so, with the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_JOB = re.compile(r"^  ([A-Za-z_][\w-]*):\s*(?:#.*)?$", re.MULTILINE)
_PERMISSION = re.compile(r"^\s{6}([\w-]+):\s*(read|write|none)\b", re.MULTILINE)


@dataclass(frozen=True)
class Job:
    name: str
    text: str

    @property
    def permissions(self) -> dict[str, str]:
        block = re.search(r"^    permissions:\s*\n((?:      .*\n?)*)", self.text, re.MULTILINE)
        return dict(_PERMISSION.findall(block.group(1))) if block else {}

    @property
    def runs_crashfix(self) -> str | None:
        """The crashfix command the job runs (`fix` when the action is used without one), or None."""
        if "crashfix" not in self.text or "uses:" not in self.text:
            return None
        command = re.search(r"^\s+command:\s*['\"]?(\w+)", self.text, re.MULTILINE)
        return command.group(1) if command else "fix"

    @property
    def self_hosted(self) -> bool:
        runs_on = re.search(r"^    runs-on:\s*(.+)$", self.text, re.MULTILINE)
        return bool(runs_on and "self-hosted" in runs_on.group(1))


def jobs(text: str) -> list[Job]:
    """The jobs of a workflow, each with its own lines (everything indented under its name)."""
    start = re.search(r"^jobs:\s*$", text, re.MULTILINE)
    if start is None:
        return []
    body = text[start.end():]
    found = list(_JOB.finditer(body))
    return [Job(match.group(1), body[match.start():found[index + 1].start() if index + 1 < len(found) else None])
            for index, match in enumerate(found)]


def boundary_problems(text: str) -> list[str]:
    """What breaks the split in this workflow; [] when it holds."""
    listed = jobs(text)
    fixers = [job for job in listed if job.runs_crashfix == "fix"]
    delivers = [job for job in listed if job.runs_crashfix == "deliver"]
    problems = []
    for job in fixers:
        writes = sorted(scope for scope, level in job.permissions.items() if level == "write")
        if writes:
            problems.append(f"the job `{job.name}` builds model-written code and holds write permissions "
                            f"({', '.join(writes)})")
        if not re.search(r"^\s+bundle:", job.text, re.MULTILINE):
            problems.append(f"the job `{job.name}` delivers the fix itself instead of leaving a result bundle")
    if not delivers:
        problems.append("no job runs `command: deliver` (the GitHub-hosted job that pushes and opens the PR)")
    for job in delivers:
        if job.self_hosted:
            problems.append(f"the deliver job `{job.name}` runs on a self-hosted runner; it belongs on a "
                            "GitHub-hosted one (runs-on: ubuntu-latest)")
        if "ANTHROPIC_API_KEY" in job.text:
            problems.append(f"the deliver job `{job.name}` is given the Anthropic API key; it needs none")
    return problems
