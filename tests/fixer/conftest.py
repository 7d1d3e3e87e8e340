"""Fixtures the fixer's tests share (a module's own fixture of the same name takes precedence): the fake
Anthropic API as the tool-server tests call it (`fake`; `anthropic` is the root conftest's), a committed
checkout, and tool-server rigs closed after the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fixer.helpers import API_KEY
from tests.fixer.toolserver_rig import Rig, checkout


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    """The fake Messages API, checked for failed scripts at the end."""
    with FakeAnthropic(api_key=API_KEY) as server:
        yield server
        assert not server.server_errors, server.server_errors[0]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed checkout with a source file and a workflow."""
    return checkout(tmp_path / "checkout")


@pytest.fixture
def rigs() -> Iterator[list[Rig]]:
    """Rigs appended here have their servers and clients closed after the test."""
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.close()
