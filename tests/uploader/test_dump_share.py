"""The uploader records where a fix runner reads the crash's dump (`share_paths`), for a dump-inspecting tool server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.issues.dumps import shared_dump_path
from crashfix.issues.record import find_signature, parse_record
from tests.analysis.test_minidump import build_minidump
from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import make_uploader


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver") as fake:
        yield fake


@pytest.mark.parametrize(("files", "shares", "expected"), [
    (["D:\\Server\\Crashes\\a.txt", "D:\\Server\\Crashes\\a.dmp"], {"D:/Server/Crashes": "\\\\gamehost\\Crashes"},
     "\\\\gamehost\\Crashes\\a.dmp"),
    (["d:/server/crashes/sub/b.MDMP"], {"D:/Server/Crashes/": "//gamehost/Crashes/"}, "//gamehost/Crashes/sub/b.MDMP"),
    (["D:/Server/Crashes/a.dmp"], {"D:/Server": "//x/all", "D:/Server/Crashes": "//x/crashes"}, "//x/crashes/a.dmp"),
    (["D:/Server/Crashes/a.txt"], {"D:/Server/Crashes": "//x/c"}, None),  # no dump
    (["E:/Other/a.dmp"], {"D:/Server/Crashes": "//x/c"}, None),  # not under a shared folder
])
def test_a_local_dump_path_is_mapped_to_the_share(files: list[str], shares: dict[str, str],
                                                  expected: str | None) -> None:
    assert shared_dump_path(files, shares) == expected


def test_the_issue_record_says_where_the_dump_is(github: FakeGitHub, tmp_path: Path) -> None:
    folder = tmp_path / "crashes"
    folder.mkdir()
    (folder / "1a2b3c_worldserver.exe_[1-5_12-0-0].dmp").write_bytes(build_minidump())
    uploader = make_uploader(tmp_path / "state", github.url, share_paths={str(folder): "\\\\gamehost\\Crashes"})
    assert uploader.run_once([folder])[0] == 0
    [issue] = [i for i in github.issues.values() if find_signature(i.get("body")) is not None]
    record = parse_record(issue["body"])
    assert record is not None and record.dump_path == "\\\\gamehost\\Crashes\\1a2b3c_worldserver.exe_[1-5_12-0-0].dmp"


def test_without_share_paths_no_dump_path_is_recorded(github: FakeGitHub, tmp_path: Path) -> None:
    folder = tmp_path / "crashes"
    folder.mkdir()
    (folder / "x.dmp").write_bytes(build_minidump())
    assert make_uploader(tmp_path / "state", github.url).run_once([folder])[0] == 0
    [issue] = [i for i in github.issues.values() if find_signature(i.get("body")) is not None]
    record = parse_record(issue["body"])
    assert record is not None and record.dump_path is None
