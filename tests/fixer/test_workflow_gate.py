"""`crashfix gate`: the workflow's first job decides, through the real client and the fake GitHub,
whether the self-hosted fix job starts; it writes the step outputs and never writes to GitHub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crashfix.cli import main
from tests.fakes.github_server import FakeGitHub

TOKEN = "test-token"
CONFIG = '[fix]\nuploader_login = "crash-uploader"\nbuild = "cmake --build build"\n'


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as fake:
        fake.set_permission("maintainer", "maintain")
        fake.set_permission("writer", "write")
        fake.set_permission("triager", "triage")
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


def gate(github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, number: int, action: str,
         sender: str, label: str | None = None, config: str = CONFIG) -> tuple[int, dict[str, str], str]:
    checkout = tmp_path / "checkout"
    (checkout / ".github").mkdir(parents=True, exist_ok=True)
    (checkout / ".github" / "crashfix.toml").write_text(config)
    payload: dict[str, Any] = {"action": action, "sender": {"login": sender}, "issue": {"number": number}}
    if label:
        payload["label"] = {"name": label}
    event, output, summary = tmp_path / "event.json", tmp_path / "output", tmp_path / "summary.md"
    event.write_text(json.dumps(payload))
    for path in (output, summary):
        path.write_text("")
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "acme/worldserver",
           "GITHUB_EVENT_NAME": "issues", "GITHUB_EVENT_PATH": str(event), "GITHUB_OUTPUT": str(output),
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["gate", "--issue", str(number), "--checkout", str(checkout)])
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return code, outputs, summary.read_text()


def crash_issue(github: FakeGitHub, author: str = "crash-uploader") -> int:
    return int(github.seed_issue("Crash: Player::Update", "a crash", labels=["crash"], user=author)["number"])


def test_a_crash_issue_from_the_uploader_starts_a_fix(github: FakeGitHub, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    number = crash_issue(github)
    code, outputs, summary = gate(github, tmp_path, monkeypatch, number, "opened", "crash-uploader")
    assert code == 0 and outputs["fix"] == "true"
    assert "uploader account @crash-uploader" in outputs["reason"] and "fix starts" in summary
    assert github.writes() == []


def test_reanalyze_by_a_writer_starts_and_by_a_triager_does_not(github: FakeGitHub, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    number = crash_issue(github)
    github.label_issue(number, "reanalyze", "writer")
    _, outputs, _ = gate(github, tmp_path, monkeypatch, number, "labeled", "writer", "reanalyze")
    assert outputs["fix"] == "true" and "@writer (write)" in outputs["reason"]
    code, outputs, summary = gate(github, tmp_path, monkeypatch, number, "labeled", "triager", "reanalyze")
    assert code == 0 and outputs["fix"] == "false"
    assert "@triager, whose permission is `triage`" in outputs["reason"] and "no fix" in summary
    assert github.requests_to("GET", r"/collaborators/triager/permission")  # asked the API, not the payload
    assert github.writes() == []


def test_other_labels_and_other_issues_stop_at_the_gate(github: FakeGitHub, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    number = crash_issue(github)
    # GitHub sends `labeled` for each label an issue is opened with: that must not start a second run.
    _, outputs, _ = gate(github, tmp_path, monkeypatch, number, "labeled", "crash-uploader", "crash")
    assert outputs["fix"] == "false" and "`crash` does not start a fix" in outputs["reason"]
    feature = int(github.seed_issue("Please add mounts", "text", user="maintainer")["number"])
    _, outputs, _ = gate(github, tmp_path, monkeypatch, feature, "opened", "maintainer")
    assert outputs["fix"] == "false" and "not a crash issue" in outputs["reason"]
    drive_by = crash_issue(github, author="drive-by")  # an issue form may apply `crash` for anyone
    _, outputs, _ = gate(github, tmp_path, monkeypatch, drive_by, "opened", "drive-by")
    assert outputs["fix"] == "false" and "`read`" in outputs["reason"]


def test_a_broken_config_or_missing_issue_is_one_line(github: FakeGitHub, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = gate(github, tmp_path, monkeypatch, 1, "opened", "x", config="[fix\n")
    assert code == 2 and "not valid TOML" in capsys.readouterr().err
    code, outputs, _ = gate(github, tmp_path, monkeypatch, 99, "opened", "crash-uploader")
    err = capsys.readouterr().err
    assert code != 0 and outputs == {} and "not found while trying to read issue #99" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("::error::crashfix: error:")  # an annotation on the run, in Actions only


def test_a_reopen_by_the_uploader_starts_a_new_fix_and_nobody_elses_does(github: FakeGitHub, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The uploader reopens a crash issue whose merged fix did not hold: a new run; a person's reopen is not one."""
    number = crash_issue(github)
    github.issues[number].update(state="closed", state_reason="completed")
    _, outputs, _ = gate(github, tmp_path, monkeypatch, number, "reopened", "Crash-Uploader")
    assert outputs["fix"] == "true" and "reopened by the uploader account" in outputs["reason"]
    for sender in ("maintainer", "writer", "drive-by"):
        _, outputs, _ = gate(github, tmp_path, monkeypatch, number, "reopened", sender)
        assert outputs["fix"] == "false" and f"@{sender}" in outputs["reason"] and "`reanalyze`" in outputs["reason"]
    feature = int(github.seed_issue("Please add mounts", "text", user="crash-uploader")["number"])
    _, outputs, _ = gate(github, tmp_path, monkeypatch, feature, "reopened", "crash-uploader")
    assert outputs["fix"] == "false" and "not a crash issue" in outputs["reason"]
    assert github.writes() == []
