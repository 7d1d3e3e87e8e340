"""Running `crashfix` in the test's own process, as a user would type it."""

from __future__ import annotations

import pytest

from crashfix.cli import main


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str],
        **env: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `crashfix ARGS` with these environment variables set."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
