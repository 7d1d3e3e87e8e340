"""One file of the checkout, read or written as the very file the jail checked.

The jail (`Workspace`) decides from a path; the file system can answer for another file:
a hard link is a second name for a file that may live outside the checkout (`.git/config`,
`~/.ssh/id_rsa`), invisible to any path check, and a name can be swapped for another file
between the check and the use. So a file is opened without following a final symbolic link,
refused when it has more than one hard link, and its identity (device and inode; on Windows
volume serial and file index, which `os.fstat` reports as the same fields) must be the one
checked before it was opened. On Linux the opened file's own path (`/proc/self/fd`) is
checked to lie inside the checkout too, so swapping a parent folder for a link cannot lead out.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)

Identity = tuple[int, int]
Inside = Callable[[str], bool]


class FileRefused(Exception):
    """The file cannot be used; the message says why, for the model."""


def identity(status: os.stat_result) -> Identity:
    return status.st_dev, status.st_ino


def check(path: Path, relative: str) -> os.stat_result:
    """The status of `path` (a real path), or FileRefused if it is not one plain, singly linked file."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        raise FileRefused(f"{relative} does not exist") from None
    if not stat.S_ISREG(status.st_mode):
        raise FileRefused(f"{relative} is not a regular file")
    if status.st_nlink > 1:
        raise FileRefused(f"{relative} has {status.st_nlink} hard links (other names for the same file, which may "
                          "be outside the repository); crashfix neither reads nor changes such a file")
    return status


def _same(fd: int, checked: os.stat_result, relative: str, inside: Inside | None) -> None:
    now = os.fstat(fd)
    if identity(now) != identity(checked) or now.st_nlink > 1 or not stat.S_ISREG(now.st_mode):
        raise FileRefused(f"{relative} changed between the check and its use (another file, or a new hard link); "
                          "try again")
    opened = _opened_path(fd)
    if opened is not None and inside is not None and not inside(opened):
        raise FileRefused(f"{relative} leads outside the repository; it cannot be used")


def _opened_path(fd: int) -> str | None:
    """Where the open file really is (Linux); None where the system does not say."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _open(path: Path, relative: str, flags: int, checked: os.stat_result, inside: Inside | None,
          mode: str) -> IO[bytes]:
    """`path` opened (a final link never followed) and checked to be the file that was checked."""
    try:
        handle = os.fdopen(os.open(path, flags | _NOFOLLOW | _BINARY), mode)
    except OSError as error:
        raise FileRefused(f"{relative} cannot be opened ({error.strerror})") from None
    try:
        _same(handle.fileno(), checked, relative, inside)
    except FileRefused:
        handle.close()
        raise
    return handle


def read(path: Path, relative: str, max_bytes: int, inside: Inside | None = None) -> tuple[bytes, Identity]:
    """The bytes of `path` and the identity they were read from; FileRefused if it is not the checked file."""
    checked = check(path, relative)
    if checked.st_size > max_bytes:
        raise FileRefused(f"{relative} is larger than {max_bytes // 2**20} MB; search it instead")
    with _open(path, relative, os.O_RDONLY, checked, inside, "rb") as handle:
        return handle.read(max_bytes + 1)[:max_bytes], identity(checked)


def overwrite(path: Path, relative: str, data: bytes, expected: Identity, inside: Inside | None = None) -> None:
    """Replace the content of the file read as `expected`; FileRefused if `path` is now another file."""
    checked = check(path, relative)
    if identity(checked) != expected:
        raise FileRefused(f"{relative} is not the file that was read (it was replaced); read it again")
    with _open(path, relative, os.O_WRONLY, checked, inside, "wb") as handle:
        handle.truncate(0)
        handle.write(data)


def create(path: Path, relative: str, data: bytes) -> None:
    """A new file with `data`; FileRefused if anything (a file, a link) is already at `path`."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o644)
    except FileExistsError:
        raise FileRefused(f"{relative} already exists; to change it give old_text (exact text to replace)") from None
    except OSError as error:
        raise FileRefused(f"{relative} cannot be created ({error.strerror})") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


# -- text in the file's own encoding ------------------------------------------------------------


@dataclass
class Text:
    text: str  # with "\n" line ends
    encoding: str
    crlf: bool


def decode(data: bytes) -> Text:
    encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding, text = "latin-1", data.decode("latin-1")
    crlf = "\r\n" in text
    return Text(text.replace("\r\n", "\n"), encoding, crlf)


def encode(relative: str, loaded: Text) -> bytes:
    """The file's bytes in its own encoding, or a ToolError naming the characters it cannot hold."""
    text = loaded.text.replace("\n", "\r\n") if loaded.crlf else loaded.text
    try:
        return text.encode(loaded.encoding)
    except UnicodeEncodeError as error:
        bad = "".join(sorted(set(text[error.start:error.end])))[:20]
        if loaded.encoding == "latin-1":
            raise FileRefused(f"{relative} is not UTF-8: it is read and written as Latin-1, which cannot hold "
                            f"{bad!r} in the new text. Use only characters the file can hold (ASCII is safest); "
                            "the file was not changed.") from None
        raise FileRefused(f"the new text for {relative} holds {bad!r}, which cannot be written as UTF-8 (a lone "
                        "surrogate?); use ordinary characters. The file was not changed.") from None
