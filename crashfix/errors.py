"""The one error family crashfix raises on purpose.

Every failure a user can act on is a `CrashfixError`: one sentence saying what went
wrong, an optional hint saying what to do, and the process exit code. The CLI turns
it into a single line; anything else is a bug and is reported as such.
"""

from __future__ import annotations


class CrashfixError(Exception):
    """A failure with a message a user can act on."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint as one line, for terminals and JSON."""
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(CrashfixError):
    """The command line or a config file asks for something impossible."""

    exit_code = 2


class ParseError(CrashfixError):
    """The input is not a crash report crashfix can read."""

    exit_code = 3


class ConfigError(UsageError):
    """A config file is missing, malformed or inconsistent."""


class MissingInput(CrashfixError):
    """A folder or file the command was pointed at is not there (sysexits' EX_NOINPUT)."""

    exit_code = 66


class CannotWrite(CrashfixError):
    """A folder crashfix must write to (its state folder) cannot be written (EX_IOERR)."""

    exit_code = 74


class AccessDenied(CrashfixError):
    """No token, a token GitHub rejects, or a repository the token cannot see or write (EX_NOPERM)."""

    exit_code = 77
