"""The fake GitHub the setup tests talk to (through the real client), with the uploader tests' token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import TOKEN


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as fake:
        yield fake
        assert not fake.server_errors, fake.server_errors[0]
