"""Shared test fixtures: the shared corpus, the real test game server, and guards.

Guards follow cibuildwheel's `mock_protection`: every test runs without credentials
and with service URLs pointing at a closed port, so a test that forgets to start its
fake server fails loudly instead of reaching the internet.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import keyring
import pytest
from keyring.backends import fail as fail_keyring

if TYPE_CHECKING:
    from tests.fakes.anthropic_server import FakeAnthropic

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_dir() -> Path:
    return Path(os.environ.get("CRASHFIX_SHARED_DIR", ROOT.parent / "shared"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def no_real_services(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may use real credentials or reach a real service."""
    closed = f"http://127.0.0.1:{_closed_port()}"
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
                 # when the suite itself runs in Actions, tests must not see (or write to) the CI job's own files
                 "GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE",
                 "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_REPOSITORY", "CRASHFIX_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", closed)
    # No OS credential store: a test that wants a stored token sets its own keyring backend.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.set_keyring(fail_keyring.Keyring())
    # A command run in-process by an earlier test left its terminal handler on a stream that test closed.
    for handler in list(logging.getLogger("crashfix").handlers):
        logging.getLogger("crashfix").removeHandler(handler)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", closed)
    monkeypatch.setenv("CRASHFIX_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CRASHFIX_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    """The fake Anthropic Messages API behind the real SDK, checked for failed scripts at the end."""
    from tests.fakes.anthropic_server import FakeAnthropic
    from tests.fixer.helpers import API_KEY  # it imports this module

    with FakeAnthropic(api_key=API_KEY) as fake:
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


@pytest.fixture(scope="session")
def shared() -> Path:
    """`../shared`: skip with a reason when absent, fail when CI requires it."""
    path = shared_dir()
    if not (path / "corpus" / "MANIFEST.tsv").is_file():
        message = f"the shared corpus is not at {path} (set CRASHFIX_SHARED_DIR)"
        if os.environ.get("CRASHFIX_REQUIRE_SHARED") == "1":
            pytest.fail(message + " and CRASHFIX_REQUIRE_SHARED=1")
        pytest.skip(message)
    return path


def require_tools(*names: str) -> None:
    """Skip (or, under CRASHFIX_REQUIRE_TOOLS=1, fail) when a build tool is missing."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        tool_unavailable(f"needs {', '.join(missing)} on PATH")


def tool_unavailable(message: str) -> NoReturn:
    """A tool is missing or cannot do what the test needs (e.g. a compiler without AddressSanitizer):
    skip saying so, or fail under CRASHFIX_REQUIRE_TOOLS=1 (CI), where every tool must be there."""
    if os.environ.get("CRASHFIX_REQUIRE_TOOLS") == "1":
        pytest.fail(message + " and CRASHFIX_REQUIRE_TOOLS=1")
    pytest.skip(message)


@pytest.fixture(scope="session")
def crash_text(gameserver_build: Path) -> str:
    """One real crash (null target in combat) of the built game server under gdb, shared by the fix tests."""
    from tests.fixer.helpers import crash_for_real  # it imports this module

    text = crash_for_real(gameserver_build)
    assert "SIGSEGV" in text
    return text


@pytest.fixture(scope="session")
def gameserver_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test game server built for real with cmake (RelWithDebInfo)."""
    require_tools("cmake", "c++")
    build = tmp_path_factory.mktemp("gameserver-build")
    subprocess.run(["cmake", "-S", str(FIXTURES / "gameserver"), "-B", str(build)],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "--parallel", "2"], check=True, capture_output=True)
    return build


@pytest.fixture(scope="session")
def gameserver_asan_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test game server built with AddressSanitizer."""
    require_tools("cmake", "c++")
    build = tmp_path_factory.mktemp("gameserver-asan")
    subprocess.run(["cmake", "-S", str(FIXTURES / "gameserver"), "-B", str(build), "-DGAMESERVER_ASAN=ON"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "--parallel", "2"], check=True, capture_output=True)
    return build
