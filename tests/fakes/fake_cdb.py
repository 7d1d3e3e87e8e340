"""A stand-in for cdb.exe: replays recorded output, hangs, or fails, as a test asks.

Run as `python fake_cdb.py -z DUMP ...` (the uploader's default CDB arguments). The
behaviour comes from the environment, so one script serves every test:
    FAKE_CDB_MODE     replay (default) | hang | fail | garbage | spawn-and-hang
    FAKE_CDB_OUTPUT   file whose content is printed in replay mode
    FAKE_CDB_OUTPUT_DIR  else: print `<dir>/<dump file name>.txt` (a different analysis per dump)
    FAKE_CDB_RECORD   file to which the arguments and _NT_SYMBOL_PATH are appended
    FAKE_CDB_PIDFILE  where spawn-and-hang writes its child's pid (to prove it dies too)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> int:
    record = os.environ.get("FAKE_CDB_RECORD")
    if record:
        with open(record, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"argv": sys.argv[1:], "symbols": os.environ.get("_NT_SYMBOL_PATH")}) + "\n")
    mode = os.environ.get("FAKE_CDB_MODE", "replay")
    if mode == "hang":
        time.sleep(3600)
    if mode == "spawn-and-hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        with open(os.environ["FAKE_CDB_PIDFILE"], "w", encoding="utf-8") as handle:
            handle.write(str(child.pid))
        time.sleep(3600)
    if mode == "fail":
        sys.stderr.write("Could not open dump file [bad.dmp], Win32 error 0n87\n")
        return 1
    if mode == "garbage":
        sys.stdout.write("Microsoft (R) Windows Debugger Version 10.0\nquit:\n")
        return 0
    output = os.environ.get("FAKE_CDB_OUTPUT")
    if output is None:
        dump = sys.argv[sys.argv.index("-z") + 1]
        output = os.path.join(os.environ["FAKE_CDB_OUTPUT_DIR"], os.path.basename(dump) + ".txt")
    with open(output, "rb") as handle:
        sys.stdout.buffer.write(handle.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
