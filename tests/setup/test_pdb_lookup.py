"""Finding a dump's PDB along a symbol path as CDB does: symbol stores (two-tier too), plain folders only
when the GUID matches, symbol servers over HTTP (a local server)."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.setup.host_doctor import http_probe
from crashfix.setup.pdb_lookup import find_pdb, pdb_guid
from tests.setup.pdb_files import pdb_bytes

ID = "1B5043085F174DA385521DD4740D173015"
OTHER = "0123456789ABCDEF0123456789ABCDEF1"
PDB = r"D:\crashme\Debug\crashme.pdb"


def never(url: str) -> bool:
    raise AssertionError(f"no server in this symbol path, yet {url} was asked")


def test_the_guid_of_a_pdb_is_read_from_its_info_stream(tmp_path: Path) -> None:
    path = tmp_path / "crashme.pdb"
    path.write_bytes(pdb_bytes(ID))
    assert pdb_guid(path) == ID[:32]
    path.write_bytes(b"Microsoft C/C++ program database 2.00\r\n")  # an old format, or anything else
    assert pdb_guid(path) is None
    path.write_bytes(pdb_bytes(ID)[:700])  # cut short
    assert pdb_guid(path) is None


def test_stores_and_plain_folders(tmp_path: Path) -> None:
    store, flat, two_tier = tmp_path / "symbols", tmp_path / "Server", tmp_path / "tier2"
    (store / "crashme.pdb" / ID).mkdir(parents=True)
    (store / "crashme.pdb" / ID / "crashme.pdb").write_bytes(pdb_bytes(ID))
    flat.mkdir()
    (flat / "crashme.pdb").write_bytes(pdb_bytes(OTHER))  # the newest build's PDB, not the crashed one's
    lookup = find_pdb(PDB, ID, f"{flat};srv*{store}*https://msdl.microsoft.com/download/symbols", never)
    assert lookup.found == str(store / "crashme.pdb" / ID / "crashme.pdb")
    assert lookup.mismatched == [str(flat / "crashme.pdb")] and lookup.looked == [str(flat), str(store)]
    missing = find_pdb(PDB, ID, str(flat), never)
    assert missing.found is None and missing.mismatched == [str(flat / "crashme.pdb")]
    (flat / "crashme.pdb").write_bytes(pdb_bytes(ID))
    assert find_pdb(PDB, ID, str(flat), never).found == str(flat / "crashme.pdb")
    (two_tier / "cr" / "crashme.pdb" / ID).mkdir(parents=True)
    (two_tier / "index2.txt").write_text("")
    (two_tier / "cr" / "crashme.pdb" / ID / "file.ptr").write_text(r"PATH:\\builds\crashme.pdb")
    assert find_pdb(PDB, ID, f"cache*{two_tier}", never).found == str(two_tier / "cr" / "crashme.pdb" / ID / "file.ptr")


@pytest.fixture
def symbol_server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "served"
    (root / "crashme.pdb" / ID).mkdir(parents=True)
    (root / "crashme.pdb" / ID / "crashme.pdb").write_bytes(pdb_bytes(ID))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined,method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_symbol_server_is_asked_over_http(symbol_server: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    lookup = find_pdb(PDB, ID, f"srv*{cache}*{symbol_server}", http_probe)
    assert lookup.found == f"{symbol_server}/crashme.pdb/{ID}/crashme.pdb"
    assert find_pdb(PDB, OTHER, f"srv*{cache}*{symbol_server}", http_probe).found is None
