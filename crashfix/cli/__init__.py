"""The `crashfix` command: thin click commands over the parts of the loop.

`commands` holds the group, most commands and `main()` (every failure becomes one line and an exit
code); `host` the server host's own commands (login, logout, service); `uploader_options` the
options and settings `watch` and `file` share; `help_text` what `--help` adds. May import every
part below it; nothing imports it.
"""

from crashfix.cli.commands import cli, example_paths, main

__all__ = ["cli", "example_paths", "main"]
