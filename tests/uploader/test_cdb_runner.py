"""Running CDB: replayed output, a hang killed with its children, failures, symbol paths."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from crashfix.config import CdbSettings
from crashfix.uploader.cdb import analyse_dump, find_cdb

FAKE_CDB = Path(__file__).parents[1] / "fakes" / "fake_cdb.py"
ANALYSIS = """Microsoft (R) Windows Debugger Version 10.0.22621.1 AMD64
0:000> !analyze -v
*******************************************************************************
*                        Exception Analysis                                   *
*******************************************************************************

EXCEPTION_RECORD:  (.exr -1)
ExceptionAddress: 00007ff61a2b3c4d (worldserver!Player::Update+0x000000000000004c)
   ExceptionCode: c0000005 (Access violation)

STACK_TEXT:
000000a1`11f8f6b0 00007ff6`1a2b1111     : 00000000`00000000 00000000`00000001 00000000`00000000 00000000`00000000 : worldserver!Player::Update+0x4c
000000a1`11f8f700 00007ff6`1a2b2222     : 00000000`00000000 00000000`00000001 00000000`00000000 00000000`00000000 : worldserver!Map::Update+0x9d
"""


def fake_settings(**overrides: object) -> CdbSettings:
    command = (sys.executable, str(FAKE_CDB), "-z", "{dump}", "-c", "!analyze -v; q")
    return CdbSettings(path=sys.executable, command=command, **overrides)  # type: ignore[arg-type]


@pytest.fixture()
def environ(tmp_path: Path) -> dict[str, str]:
    output = tmp_path / "cdb-output.txt"
    output.write_text(ANALYSIS, encoding="utf-8")
    return {**os.environ, "FAKE_CDB_OUTPUT": str(output), "FAKE_CDB_RECORD": str(tmp_path / "calls.jsonl")}


def test_replayed_analysis_is_returned(tmp_path: Path, environ: dict[str, str]) -> None:
    outcome = analyse_dump(tmp_path / "crash.dmp", fake_settings(symbol_path="srv*C:\\symbols"), environ)
    assert outcome.problem is None and outcome.text is not None and "Exception Analysis" in outcome.text
    call = json.loads((tmp_path / "calls.jsonl").read_text(encoding="utf-8"))
    assert call["argv"][:2] == ["-z", str(tmp_path / "crash.dmp")]
    assert call["symbols"] == "srv*C:\\symbols"


def test_the_environment_symbol_path_is_honoured(tmp_path: Path, environ: dict[str, str]) -> None:
    analyse_dump(tmp_path / "crash.dmp", fake_settings(), {**environ, "_NT_SYMBOL_PATH": "cache*D:\\sym"})
    assert json.loads((tmp_path / "calls.jsonl").read_text(encoding="utf-8"))["symbols"] == "cache*D:\\sym"


def test_a_hanging_cdb_is_killed_with_its_children(tmp_path: Path, environ: dict[str, str]) -> None:
    pidfile = tmp_path / "child.pid"
    environ = {**environ, "FAKE_CDB_MODE": "spawn-and-hang", "FAKE_CDB_PIDFILE": str(pidfile)}
    started = time.monotonic()
    outcome = analyse_dump(tmp_path / "crash.dmp", fake_settings(timeout_seconds=2), environ)
    assert time.monotonic() - started < 15
    assert outcome.text is None and "did not finish within 2 s" in (outcome.problem or "")
    child = int(pidfile.read_text(encoding="utf-8"))
    deadline = time.monotonic() + 5
    while psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the debugger's child process survived the timeout"
        time.sleep(0.1)


@pytest.mark.parametrize(("mode", "message"), [("fail", "Win32 error 0n87"), ("garbage", "printed no analysis")])
def test_failures_are_reported_not_raised(tmp_path: Path, environ: dict[str, str], mode: str, message: str) -> None:
    outcome = analyse_dump(tmp_path / "crash.dmp", fake_settings(), {**environ, "FAKE_CDB_MODE": mode})
    assert outcome.text is None and message in (outcome.problem or "")


def test_missing_cdb(tmp_path: Path) -> None:
    settings = CdbSettings(path=str(tmp_path / "nope" / "cdb.exe"))
    assert find_cdb(settings, {"PATH": ""}) is None
    outcome = analyse_dump(tmp_path / "crash.dmp", settings, {"PATH": ""})
    assert outcome.text is None and "CDB not found" in (outcome.problem or "")
    assert find_cdb(CdbSettings(enabled=False), dict(os.environ)) is None
