"""The uploader spaces its GitHub writes as GitHub asks: one second between content-creating requests.

Measured where it counts: the arrival times of the writes at the fake GitHub, made through the
real client by `crashfix watch --once` with crashfix's default settings. Only lower bounds are
asserted (a loaded machine makes gaps longer, never shorter).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.cli import main
from crashfix.config import UploaderSettings
from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import REPO, TOKEN, make_uploader, write_crashes

GITHUB_ASKS = 1.0  # seconds between content-creating requests (GitHub's REST best practices)
TOLERANCE = 0.05  # the client's clock and the fake's are the same; this is rounding, not load


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as fake:
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


def write_gaps(github: FakeGitHub) -> list[float]:
    times = sorted(write.timestamp for write in github.writes())
    return [later - earlier for earlier, later in zip(times, times[1:])]


def test_watch_with_the_default_settings_spaces_writes_a_second_apart(
        github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert UploaderSettings().write_interval_seconds >= GITHUB_ASKS
    crashes = tmp_path / "crashes"
    write_crashes(crashes, signatures=3, repeats=1)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    assert main(["watch", str(crashes), "--once", "--repo", REPO]) == 0
    writes = [f"{write.method} {write.path}" for write in github.writes()]
    assert writes.count(f"POST /repos/{REPO}/issues") == 3 and len(writes) >= 4  # the `crash` label, 3 issues
    gaps = write_gaps(github)
    assert min(gaps) >= GITHUB_ASKS - TOLERANCE, f"writes {gaps} s apart"


def test_the_test_helper_spaces_writes_as_it_is_told(github: FakeGitHub, tmp_path: Path) -> None:
    crashes = tmp_path / "crashes"
    write_crashes(crashes, signatures=2, repeats=1)
    uploader = make_uploader(tmp_path / "state", github.url, write_interval_seconds=0.5)
    code, message = uploader.run_once([crashes])
    assert code == 0, message
    gaps = write_gaps(github)
    assert len(gaps) >= 2 and min(gaps) >= 0.5 - TOLERANCE, f"writes {gaps} s apart"
