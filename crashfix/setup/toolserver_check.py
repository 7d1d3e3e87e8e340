"""`crashfix doctor` for the `[[fix.mcp]]` tool servers: does each start here and answer tools/list?

Each server is started the way a fix run starts it (the scrubbed environment plus what its
entry passes, the checkout as its working folder), asked for its tools and stopped again.
The line says which allow-listed tools the model would see, which stay hidden because they
edit files, and which the server does not offer at all (a typo in `tools`, or another
version of the server). Starting a server is the one thing doctor does that may write: a
server's own cache in the checkout (Serena's `.serena/`, clangd's `.cache/`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from crashfix.config import Config
from crashfix.fixer.agent.toolservers import Probe, start_servers
from crashfix.scrub import secret_values_in
from crashfix.setup.doctor import Check, failed, ok


def check_tool_servers(target: Path, config: Config, environ: Mapping[str, str]) -> list[Check]:
    entries = config.fix.mcp
    if not entries:
        return []  # nothing to check: not a check that could not run
    hub, probes, _ = start_servers(entries, target.resolve(), environ, tuple(secret_values_in(environ)))
    hub.close()
    return [_check(probes[entry.name], entry.allow_writes) for entry in entries]


def _check(probe: Probe, allow_writes: bool) -> Check:
    name = f"tool server {probe.name}"
    if probe.failure:
        return failed(name, probe.failure, f"start it by hand from the checkout with the command of [[fix.mcp]] "
                                           f"{probe.name}, or correct the entry")
    detail = (f"started and listed {len(probe.offered)} tool(s) in {probe.seconds:.1f} s; the model sees "
              f"{', '.join(probe.exposed) or 'none of them'}")
    if probe.withheld:
        detail += f"; hidden because they edit files (allow_writes = {str(allow_writes).lower()}): " \
                  f"{', '.join(probe.withheld)}"
    if probe.missing:
        offered = ", ".join(probe.offered[:30]) or "none"
        return failed(name, f"{detail}; not offered by the server: {', '.join(probe.missing)}",
                      f"correct tools of [[fix.mcp]] {probe.name} (it offers: {offered})")
    return ok(name, detail)
