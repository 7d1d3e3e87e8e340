"""Which machine this is: a stable id that survives a deleted state folder.

Issues count each crash file once per host; the id keying that must come from the
machine, not from the spool, or a lost spool would make every old crash new again.
It is a hash (the machine id itself is not written to GitHub).
"""

from __future__ import annotations

import hashlib
import socket
import sys
import uuid
from pathlib import Path

from crashfix.config import UploaderSettings

LINUX_MACHINE_IDS = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


def machine_id() -> str | None:
    """The operating system's id of this installation, if it has one."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows hosts
        return _windows_machine_guid()
    for path in LINUX_MACHINE_IDS:
        try:
            value = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if value:
            return value
    node = uuid.getnode()
    if not node >> 40 & 1:  # a real MAC address (uuid sets the multicast bit on a random one)
        return f"mac-{node:012x}"
    return None


def _windows_machine_guid() -> str | None:  # pragma: no cover - Windows only
    if sys.platform != "win32":
        return None
    import winreg

    try:
        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography", 0,
                             winreg.KEY_READ | winreg.KEY_WOW64_64KEY)
        with key:
            value, _ = winreg.QueryValueEx(key, "MachineGuid")
    except OSError:
        return None
    return str(value) or None


def host_id(settings: UploaderSettings) -> str:
    """`[uploader] host_id` when set, else a hash of the machine id (else of the host name)."""
    if settings.host_id:
        return settings.host_id
    source = machine_id() or f"host-{socket.gethostname()}"
    return hashlib.sha256(f"crashfix-host\n{source}".encode()).hexdigest()[:12]
