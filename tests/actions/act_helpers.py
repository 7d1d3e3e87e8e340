"""Running the installed fix workflow with act in host mode, as GitHub would run it, as far as act can.

Where act differs from GitHub, the test makes up the difference and says so:
- act gives every job the same `github.token`; GitHub gives each job its own, limited by the job's
  `permissions:`. The workflow act runs is the installed one with `github.token` in the gate and
  fix jobs replaced by a per-job secret; the fake GitHub knows each of those tokens with exactly
  the permissions that job declares (read from the workflow), and the deliver job's is the global
  `GITHUB_TOKEN`, as `github.token` is inside the action too.
- act cannot fetch GitHub's own actions offline: the pinned artifact actions run as local stand-ins
  (tests/fixtures/actions) over a folder, and the GitHub App token action must never run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashfix.setup.workflow_check import jobs
from tests.conftest import ROOT
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.github_server import FakeGitHub
from tests.fixer.helpers import API_KEY

ACTION_SHA = "0123456789abcdef0123456789abcdef01234567"
ACTION = f"crashfix-dev/crashfix@{ACTION_SHA}"
STANDINS = ROOT / "tests" / "fixtures" / "actions"
JOB_TOKENS = {"gate": "ghs_actGateJob000000000000000000000000", "fix": "ghs_actFixJobReadOnly0000000000000000",
              "deliver": "ghs_actDeliverJob00000000000000000000"}
DELIVER_PAT = "github_pat_actDeliverFineGrained00000000000"
GATE_JOB, FIX_JOB, DELIVER_JOB = "should crashfix run?", "fix the crash", "deliver the fix"
TIMINGS: dict[str, float] = {}


def grant_job_tokens(github: FakeGitHub, workflow: str) -> None:
    """Each job's token on the fake GitHub, with the permissions the job declares (`pull-requests` -> pull_requests)."""
    for job in jobs(workflow):
        permissions = {scope.replace("-", "_"): level for scope, level in job.permissions.items()}
        github.actions_token(JOB_TOKENS[job.name], permissions)
    github.add_token(DELIVER_PAT, "crashfix-deliver", kind="fine-grained",
                     permissions={"contents": "write", "issues": "write", "pull_requests": "write"})
    github.set_permission("crashfix-deliver", "write")  # a fine-grained token acts within its account's role too


def per_job_workflow(installed: str, target: Path) -> Path:
    """The installed workflow with `github.token` of the gate and fix jobs made each job's own secret."""
    out = installed
    for job in jobs(installed):
        if job.name == "deliver":
            continue
        assert job.text.count("github.token") == 1, f"{job.name}: expected one explicit github.token"
        out = out.replace(job.text, job.text.replace("github.token", f"secrets.ACT_{job.name.upper()}_TOKEN"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(out)
    return target


def standins(installed: str) -> list[str]:
    """`--local-repository` for each pinned GitHub action act cannot fetch offline."""
    folders = {"upload-artifact": "upload-artifact", "download-artifact": "download-artifact",
               "create-github-app-token": "not-here"}
    mapped = []
    for uses, name in re.findall(r"uses: (actions/([\w-]+)@[0-9a-f]{40})", installed):
        if name in folders:
            mapped += ["--local-repository", f"{uses}={STANDINS / folders[name]}"]
    assert len(mapped) == 6, "the workflow's artifact and App-token actions changed: update the stand-ins"
    return mapped


@dataclass
class ActRun:
    act: str
    source: Path
    cache: Path
    checkout: Path
    workflow: Path
    github: FakeGitHub
    anthropic: FakeAnthropic
    artifacts: Path
    origin: Path  # the bare repository the git server serves
    secrets: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    def run(self, payload: dict[str, Any], scenario: str) -> subprocess.CompletedProcess[str]:
        event = self.checkout.parent / f"event-{scenario}.json"
        event.write_text(json.dumps({"repository": {"full_name": "acme/worldserver", "name": "worldserver",
                                                    "owner": {"login": "acme"}, "default_branch": "main"},
                                     **payload}))
        env = {"PATH": os.environ["PATH"], "HOME": str(self.checkout.parent / "home"), "LANG": "C.UTF-8"}
        secrets = {"GITHUB_TOKEN": JOB_TOKENS["deliver"], "ACT_GATE_TOKEN": JOB_TOKENS["gate"],
                   "ACT_FIX_TOKEN": JOB_TOKENS["fix"], "ANTHROPIC_API_KEY": API_KEY, **self.secrets}
        variables = {"CRASHFIX_PYTHON": sys.executable, "CRASHFIX_GATE_PYTHON": sys.executable, **self.variables}
        command = [
            self.act, "issues", "-W", str(self.workflow), "-e", str(event),
            "-P", "ubuntu-latest=-self-hosted", "-P", "self-hosted=-self-hosted", "-P", "windows=-self-hosted",
            "--action-offline-mode", "--action-cache-path", str(self.cache),
            "--local-repository", f"{ACTION}={self.source}", *standins(self.workflow.read_text()),
            *[item for name, value in secrets.items() for item in ("-s", f"{name}={value}")],
            "--env", f"GITHUB_API_URL={self.github.url}", "--env", f"ANTHROPIC_BASE_URL={self.anthropic.url}",
            "--env", "GITHUB_REPOSITORY=acme/worldserver", "--env", f"CRASHFIX_TEST_ARTIFACTS={self.artifacts}",
            "--env", f"CRASHFIX_STATE_DIR={self.checkout.parent / 'act-state'}",
            "--env", f"CRASHFIX_CACHE_DIR={self.checkout.parent / 'act-cache'}",
            *[item for name, value in variables.items() for item in ("--var", f"{name}={value}")],
        ]
        started = time.monotonic()
        done = subprocess.run(command, cwd=self.checkout, env=env, capture_output=True, text=True, timeout=900)
        TIMINGS[scenario] = time.monotonic() - started
        print(f"act {scenario}: {TIMINGS[scenario]:.1f} s")
        log = os.environ.get("CRASHFIX_ACT_LOG")  # a folder to keep act's output in, for a human to read
        if log:
            Path(log, f"act-{scenario}.log").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
        return done


def issue_event(action: str, number: int, sender: str, title: str, label: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"action": action, "sender": {"login": sender},
                               "issue": {"number": number, "title": title, "body": title,
                                         "user": {"login": sender}}}
    if label:
        payload["label"] = {"name": label}
    return payload


def job_lines(output: str, job: str) -> str:
    """act's lines for one job: each starts `[<workflow>/<job name, padded>]`."""
    return "\n".join(line for line in output.splitlines()
                     if line.startswith("[") and line.split("]")[0].split("/", 1)[-1].strip() == job)
