"""Fixtures the fixer's tests share: the fake Anthropic API behind the real SDK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fixer.helpers import API_KEY


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=API_KEY) as fake:
        yield fake
        assert not fake.server_errors, fake.server_errors[0]
