"""The uploader as users run it: `crashfix watch`, `crashfix file`, `crashfix status`, kill -9."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import REPO, write_crashes
from tests.uploader.process_helpers import config_file, crashfix, occurrences


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver") as fake:
        yield fake


def test_kill_9_mid_batch_then_restart_files_everything_exactly_once(github: FakeGitHub, tmp_path: Path) -> None:
    folder = tmp_path / "crashes"
    write_crashes(folder, signatures=5, repeats=3)
    config = config_file(tmp_path, write_interval_seconds=0.4)
    state = tmp_path / "state"
    first = crashfix("watch", str(folder), "--once", "--config", str(config), "--state-dir", str(state),
                     github=github)
    deadline = time.monotonic() + 60
    while len(github.requests_to("POST", f"/repos/{REPO}/issues")) < 2:
        assert time.monotonic() < deadline and first.poll() is None, "the uploader finished before the kill"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert len(occurrences(github)) < 5  # killed mid-batch
    second = crashfix("watch", str(folder), "--once", "--config", str(config), "--state-dir", str(state),
                      github=github)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "15 filed" in out
    assert occurrences(github) == [3, 3, 3, 3, 3]  # every crash counted once, no issue twice


def test_watch_files_new_crashes_as_they_appear(github: FakeGitHub, tmp_path: Path) -> None:
    folder = tmp_path / "crashes"
    folder.mkdir()
    config = config_file(tmp_path, write_interval_seconds=0.0, rescan_interval_seconds=60.0)
    watcher = crashfix("watch", str(folder), "--config", str(config), "--state-dir", str(tmp_path / "state"),
                       github=github)
    try:
        time.sleep(1.0)
        write_crashes(folder, signatures=2, repeats=1)
        deadline = time.monotonic() + 30
        while occurrences(github) != [1, 1]:
            assert time.monotonic() < deadline, "new crash files were not filed within 30 s"
            assert watcher.poll() is None, watcher.communicate()[1]
            time.sleep(0.1)
        status = subprocess.run([sys.executable, "-m", "crashfix", "status", "--state-dir", str(tmp_path / "state")],
                                capture_output=True, text=True, timeout=60)
        assert "watcher:      running" in status.stdout
        assert "filed 2" in status.stdout
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(20)


def test_file_one_crash_and_status_of_failures(github: FakeGitHub, tmp_path: Path) -> None:
    folder = tmp_path / "crashes"
    [crash] = write_crashes(folder, signatures=1, repeats=1)
    config = config_file(tmp_path, write_interval_seconds=0.0, once_give_up_seconds=1)
    state = tmp_path / "state"
    github.outage(True)
    down = crashfix("file", str(crash), "--config", str(config), "--state-dir", str(state), github=github)
    _, err = down.communicate(timeout=120)
    assert down.returncode == 1
    assert "was not filed" in err and "Traceback" not in err
    status = subprocess.run([sys.executable, "-m", "crashfix", "status", "--state-dir", str(state)],
                            capture_output=True, text=True, timeout=60).stdout
    assert "analysed 1" in status and "could not reach GitHub" in status
    github.outage(False)
    watch = crashfix("watch", str(folder), "--once", "--config", str(config), "--state-dir", str(state),
                     github=github)
    out, err = watch.communicate(timeout=120)
    assert watch.returncode == 0, err
    assert occurrences(github) == [1]


def test_missing_repository_setting_is_a_usage_error(github: FakeGitHub, tmp_path: Path) -> None:
    process = crashfix("watch", str(tmp_path), "--once", github=github)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "--repo OWNER/NAME" in err
