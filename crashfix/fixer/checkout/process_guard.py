"""Keep the secrets crashfix holds out of reach of the build and tests it runs.

Scrubbing the children's environment is not enough on Linux: a build running as the same
user can read `/proc/<crashfix>/environ` (the environment crashfix started with, tokens
included) and its memory. Marking the process non-dumpable makes those files root-only
for other processes; crashfix itself and its own children are unaffected (the mark is
reset when a child executes a program). The Actions step must start crashfix with `exec`,
so that no parent shell holding the same environment stays behind.

Windows has no equivalent a process can set on itself cheaply: there, run the self-hosted
runner under an account that exists only for it (see the README). In the split workflow the
fix job holds only a read-only token and the API key; what a build leaves running ends with
its step on both systems (`procs.run(contain=True)`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

PR_SET_DUMPABLE = 4
log = logging.getLogger(__name__)


def protect_secrets() -> bool:
    """Make this process's environment and memory unreadable to other processes of the same user (Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        done = libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        done = False
    if not done:
        log.warning("could not mark the process non-dumpable: a build could read crashfix's environment")
    return done
