"""The action and every workflow, including the template `crashfix init` installs, pass zizmor
(no finding of medium severity or above) and actionlint, and no `${{ }}` expression reaches a script."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from crashfix.setup.init_repo import render_workflow
from crashfix.setup.workflow_check import boundary_problems, jobs
from tests.actions.helpers import ACTION, WORKFLOWS, tool

PINNED = "crashfix-dev/crashfix@0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def installed_template(tmp_path: Path) -> Path:
    """The template as `crashfix init` renders it into a user's repository."""
    path = tmp_path / ".github" / "workflows" / "crashfix-fix.yml"
    path.parent.mkdir(parents=True)
    path.write_text(render_workflow(PINNED, ("self-hosted", "windows", "x64")))
    return path


def everything(template: Path) -> list[Path]:
    return [ACTION, *sorted(WORKFLOWS.glob("*.yml")), template]


def test_zizmor_finds_nothing_of_medium_severity_or_above(installed_template: Path) -> None:
    zizmor = tool("zizmor")
    done = subprocess.run([zizmor, "--offline", "--format", "json", *map(str, everything(installed_template))],
                          capture_output=True, text=True, timeout=120)
    findings = json.loads(done.stdout)
    serious = [f"{f['ident']} ({f['determinations']['severity']}): {f.get('desc', '')} in "
               f"{json.dumps(f['locations'][0]['symbolic']['key'])}"
               for f in findings if f["determinations"]["severity"] in ("Medium", "High")]
    assert serious == []
    assert done.returncode in (0, 11, 12, 13), done.stderr  # 0 or "only low findings"; never a crash


def test_zizmor_would_catch_a_script_injection(tmp_path: Path) -> None:
    """The check above can fail: the injection the workflows avoid is a high finding."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: issues\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo \"${{ github.event.issue.title }}\"\n")
    done = subprocess.run([tool("zizmor"), "--offline", "--format", "json", str(bad)], capture_output=True,
                          text=True, timeout=120)
    assert any(f["ident"] == "template-injection" and f["determinations"]["severity"] == "High"
               for f in json.loads(done.stdout))


def test_actionlint_is_clean(installed_template: Path) -> None:
    workflows = [*sorted(WORKFLOWS.glob("*.yml")), installed_template]
    done = subprocess.run([tool("actionlint"), "-no-color", *map(str, workflows)], capture_output=True, text=True,
                          timeout=120, cwd=ACTION.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def run_blocks(text: str) -> list[str]:
    """The script of every `run:` key (inline or block scalar), by indentation."""
    lines = text.splitlines()
    scripts = []
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)(?:-\s+)?run:\s*(.*)$", line)
        if not match:
            continue
        inline = match.group(2)
        if not inline:
            continue  # a mapping named `run` (an output), not a script
        if inline[0] not in "|>":
            scripts.append(inline)
            continue
        indent = len(match.group(1))
        block = []
        for following in lines[index + 1:]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            block.append(following)
        scripts.append("\n".join(block))
    return scripts


def test_no_expression_reaches_a_script_and_no_pull_request_target(installed_template: Path) -> None:
    seen = 0
    for path in everything(installed_template):
        text = path.read_text()
        for script in run_blocks(text):
            seen += 1
            assert "${{" not in script, f"{path}: an expression inside run:\n{script}"
        assert "pull_request_target" not in text
    assert seen >= 8, "too few run: steps found: is the parser broken?"


def test_the_checker_would_see_an_expression_in_a_script() -> None:
    scripts = run_blocks("steps:\n  - run: |\n      echo ok\n      echo ${{ inputs.x }}\n  - name: y\n")
    assert scripts == ["      echo ok\n      echo ${{ inputs.x }}"]


def test_checkouts_do_not_persist_credentials_and_actions_are_pinned(installed_template: Path) -> None:
    for path in everything(installed_template):
        text = path.read_text()
        assert text.count("actions/checkout@") == text.count("persist-credentials: false"), path
        for uses in re.findall(r"uses:\s*([^\s#]+)", text):
            assert uses.startswith("./") or re.search(r"@[0-9a-f]{40}$", uses), f"{path}: {uses} is not pinned"


def test_the_projects_example_is_the_template_with_the_local_action() -> None:
    assert (WORKFLOWS / "crashfix-fix.yml").read_text() == render_workflow("./", ("self-hosted", "windows"))


def test_the_jobs_are_split_at_the_trust_boundary(installed_template: Path) -> None:
    """The self-hosted fix job may only read; the GitHub-hosted deliver job writes and has no API key."""
    text = installed_template.read_text()
    assert "\npermissions: {}\n" in text  # nothing by default; each job asks for its own
    listed = {job.name: job for job in jobs(text)}
    assert list(listed) == ["gate", "fix", "deliver"]
    gate, fix, deliver = listed["gate"], listed["fix"], listed["deliver"]
    assert gate.permissions == {"contents": "read", "issues": "write"} and not gate.self_hosted
    assert fix.permissions == {"contents": "read", "issues": "read", "pull-requests": "read"} and fix.self_hosted
    assert "bundle:" in fix.text and "actions/upload-artifact@" in fix.text and "secrets.ANTHROPIC_API_KEY" in fix.text
    assert deliver.permissions == {"contents": "write", "issues": "write", "pull-requests": "write"}
    assert not deliver.self_hosted and "ANTHROPIC" not in deliver.text and "command: deliver" in deliver.text
    assert "always() && needs.gate.outputs.fix == 'true'" in deliver.text  # failures are delivered too
    assert "secrets.CRASHFIX_DELIVER_TOKEN || github.token" in deliver.text  # an App or a token, else the job's
    assert "group: crashfix-fix-${{ github.event.issue.number }}" in fix.text and "needs: gate" in fix.text
    assert "runs-on: [self-hosted, windows, x64]" in fix.text and "timeout-minutes: 60" in fix.text
    assert boundary_problems(text) == []


def test_the_boundary_check_sees_a_one_job_workflow() -> None:
    """The check above can fail: a fix job that delivers itself with write permissions breaks the split."""
    one_job = ("jobs:\n  fix:\n    runs-on: [self-hosted]\n    permissions:\n      contents: write\n"
               "      pull-requests: write\n    steps:\n      - uses: crashfix-dev/crashfix@" + "0" * 40 + "\n")
    problems = boundary_problems(one_job)
    assert any("holds write permissions (contents, pull-requests)" in p for p in problems)
    assert any("no job runs `command: deliver`" in p for p in problems)
