"""`crashfix doctor --host` against the fake GitHub (real client): each line ok, warn, failed with its fix,
or skipped and counted as skipped; the Windows checks (CDB, symbols, the newest dump's PDB) with a CDB
stand-in and a real minidump from the shared corpus."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from crashfix.cli import main
from crashfix.github import credentials
from crashfix.setup import service
from crashfix.setup.checks import Check, summary
from crashfix.setup.host_doctor import run_host_checks
from crashfix.setup.service_files import Registered
from tests.fakes.github_server import FakeGitHub
from tests.fakes.keyrings import MemoryKeyring
from tests.setup.pdb_files import pdb_bytes

TOKEN = "ghp_classictoken0123456789"
FINE = "github_pat_11AAAA_fine"
REPO = "acme/worldserver"
DUMP_ID = "1B5043085F174DA385521DD4740D173015"  # crashme.exe in breakpad_null_read_av.dmp


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as fake:
        fake.add_token(FINE, "crashfix-bot", permissions={"issues": "write"})
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A host config with a crash folder; no service installed (an empty systemd folder)."""
    (tmp_path / "crashes").mkdir()
    (tmp_path / "crashes" / "worldserver.exe_[2026_12_1_5_0_0].txt").write_text("a crash log\n")
    units = tmp_path / "units"
    units.mkdir()
    monkeypatch.setattr(service, "UNIT_DIR", units)
    path = tmp_path / "crashfix.toml"
    path.write_text(f'[uploader]\nrepo = "{REPO}"\ndirectories = ["{(tmp_path / "crashes").as_posix()}"]\n'
                    f'state_dir = "{(tmp_path / "state").as_posix()}"\n')
    return path


def doctor(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str,
           **env: str) -> tuple[int, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["doctor", "--host", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_a_ready_linux_host(github: FakeGitHub, host: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    code, said = doctor(monkeypatch, capsys, "--config", str(host), GITHUB_API_URL=github.url, GITHUB_TOKEN=TOKEN)
    assert code == 0, said
    assert f"ok      config: {host}" in said
    assert "ok      GitHub token: crashfix-bot's token with the scopes repo, from GITHUB_TOKEN" in said
    assert "ok      repository: acme/worldserver is readable and writable with the token" in said
    assert "ok      crash folders: " in said and "1 crash file(s), 0 dump(s)" in said
    assert "--      CDB: not Windows" in said and "--      PDB of the newest dump: CDB is not used here" in said
    assert "ok      state folder: " in said
    assert "WARN    service: not installed" in said and "crashfix service install --config" in said
    assert said.rstrip().endswith("all 6 checks passed (1 with a warning); 3 skipped")
    assert github.writes() == []  # a doctor only reads


def test_what_fails_says_its_fix_and_what_cannot_run_is_skipped(
        github: FakeGitHub, host: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(tmp_path / "crashes")
    code, said = doctor(monkeypatch, capsys, "--config", str(host), GITHUB_API_URL=github.url)
    assert code == 1
    assert "FAILED  GitHub token: GITHUB_TOKEN is not set, and the OS credential store is not available" in said
    assert "--      repository: needs the config and a working token" in said
    assert "FAILED  crash folders: not found: " in said and "fix: create or mount them" in said
    assert said.rstrip().endswith("2 of 5 checks failed, 3 passed (1 with a warning); 4 skipped")
    github.add_token("ghp_noscope", "crashfix-bot", kind="classic", scopes=("read:org",))
    code, said = doctor(monkeypatch, capsys, "--config", str(host), GITHUB_TOKEN="ghp_noscope")
    assert "FAILED  GitHub token: crashfix-bot's classic token, from GITHUB_TOKEN, has the scopes read:org" in said
    assert "fix: give it the `repo` scope" in said
    github.set_permission("reader", "read")
    github.add_token("ghp_reader", "reader", kind="classic")
    code, said = doctor(monkeypatch, capsys, "--config", str(host), GITHUB_TOKEN="ghp_reader")
    assert "FAILED  repository: the token's account may only read acme/worldserver" in said


def test_the_token_crashfix_login_stored_is_found(github: FakeGitHub, host: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    store = MemoryKeyring()
    keyring.set_keyring(store)
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    store.set_password(credentials.SERVICE, credentials.account(os.environ), FINE)
    code, said = doctor(monkeypatch, capsys, "--config", str(host))
    assert "ok      GitHub token: crashfix-bot's fine-grained token, from the OS credential store (keyrings " \
           "MemoryKeyring) (GitHub does not list its permissions: it needs Issues: read and write" in said


def test_the_config_comes_from_the_installed_service(github: FakeGitHub, host: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    found = service.ServiceState(True, True, "active (running)", Registered("wow", str(host), str(tmp_path / "st")))
    checks = by_name(run_host_checks(None, {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN}, windows=False,
                                     found=found))
    assert checks["config"].detail == f"{host} (the installed service's config)"
    assert checks["state folder"].detail == f"{tmp_path / 'st'} is writable"  # the service's own folder
    assert checks["service"].state == "ok" and checks["service"].detail == "active (running)"
    stopped = service.ServiceState(True, False, "failed (failed); last exit: no usable GitHub token (exit 77)",
                                   found.registered)
    check = by_name(run_host_checks(None, {"GITHUB_API_URL": github.url}, windows=False, found=stopped))["service"]
    assert check.state == "failed" and "exit 77" in check.detail
    nothing = run_host_checks(None, {}, windows=False, found=service.ServiceState(False, detail="no unit"))
    assert nothing[0].state == "failed" and "no config given and no installed service names one" in nothing[0].detail


@pytest.fixture
def cdb(tmp_path: Path) -> Path:
    """A CDB stand-in that prints its version like cdb -version."""
    folder = tmp_path / "debuggers"
    folder.mkdir()
    path = folder / "cdb"
    path.write_text(f"#!{sys.executable}\nprint('cdb version 10.0.26100.2454')\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_windows_cdb_symbols_and_the_newest_dumps_pdb(github: FakeGitHub, host: Path, tmp_path: Path, cdb: Path,
                                                      shared: Path) -> None:
    shutil.copy(shared / "corpus" / "minidump" / "breakpad_null_read_av.dmp", tmp_path / "crashes" / "new.dmp")
    environ = {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN, "PATH": f"{cdb.parent}{os.pathsep}/usr/bin"}
    flat = tmp_path / "Server"
    flat.mkdir()
    (flat / "crashme.pdb").write_bytes(pdb_bytes("0123456789ABCDEF0123456789ABCDEF1"))  # a newer build's
    checks = by_name(run_host_checks(host, {**environ, "_NT_SYMBOL_PATH": str(flat)}, windows=True,
                                     probe=lambda url: False))
    assert checks["CDB"].state == "ok" and checks["CDB"].detail == f"{cdb}, version 10.0.26100.2454"
    pdb = checks["PDB of the newest dump"]
    assert pdb.state == "failed" and f"crashme.exe of new.dmp needs D:\\crashme\\Debug\\crashme.pdb {DUMP_ID}" \
        in pdb.detail and "belong(s) to another build" in pdb.detail and "symstore add" in pdb.fix

    store = tmp_path / "symbols"
    (store / "crashme.pdb" / DUMP_ID).mkdir(parents=True)
    (store / "crashme.pdb" / DUMP_ID / "crashme.pdb").write_bytes(pdb_bytes(DUMP_ID))
    checks = by_name(run_host_checks(host, {**environ, "_NT_SYMBOL_PATH": f"{flat};srv*{store}*https://x.invalid"},
                                     windows=True, probe=lambda url: False))
    assert checks["PDB of the newest dump"].state == "ok"
    assert checks["PDB of the newest dump"].detail.endswith(str(store / "crashme.pdb" / DUMP_ID / "crashme.pdb"))

    checks = by_name(run_host_checks(host, {**environ, "PATH": str(tmp_path / "empty")}, windows=True))
    assert checks["CDB"].state == "failed" and "Debugging Tools for Windows" in checks["CDB"].fix
    assert checks["symbol path"].state == "failed"
    assert checks["PDB of the newest dump"].state == "skipped"


def test_the_summary_never_counts_a_skipped_check_as_passed() -> None:
    checks = [Check("a", "ok", ""), Check("b", "skipped", ""), Check("c", "skipped", "")]
    assert summary(checks) == "all 1 checks passed; 2 skipped"
    assert summary([Check("a", "failed", "", "x"), *checks]) == "1 of 2 checks failed, 1 passed; 2 skipped"
    assert summary([Check("b", "skipped", "")]) == "no check could run; 1 skipped"
