"""Exception codes, signals and sanitizer findings, and the crash class each maps to.

The crash class is what signatures key on. It is deliberately coarser than the raw
code, so that the same null dereference seen as `c0000005` on Windows and as
`SIGSEGV` on Linux files as one crash.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class KnownCode(NamedTuple):
    name: str
    crash_class: str


NTSTATUS: dict[str, KnownCode] = {
    "c0000005": KnownCode("ACCESS_VIOLATION", "access-violation"),
    "c0000006": KnownCode("IN_PAGE_ERROR", "access-violation"),
    "c000000d": KnownCode("INVALID_PARAMETER", "invalid-parameter"),
    "c000001d": KnownCode("ILLEGAL_INSTRUCTION", "illegal-instruction"),
    "c0000025": KnownCode("NONCONTINUABLE_EXCEPTION", "noncontinuable"),
    "c0000026": KnownCode("INVALID_DISPOSITION", "invalid-disposition"),
    "c000008c": KnownCode("ARRAY_BOUNDS_EXCEEDED", "array-bounds"),
    "c000008d": KnownCode("FLOAT_DENORMAL_OPERAND", "arithmetic"),
    "c000008e": KnownCode("FLOAT_DIVIDE_BY_ZERO", "arithmetic"),
    "c000008f": KnownCode("FLOAT_INEXACT_RESULT", "arithmetic"),
    "c0000090": KnownCode("FLOAT_INVALID_OPERATION", "arithmetic"),
    "c0000091": KnownCode("FLOAT_OVERFLOW", "arithmetic"),
    "c0000092": KnownCode("FLOAT_STACK_CHECK", "arithmetic"),
    "c0000093": KnownCode("FLOAT_UNDERFLOW", "arithmetic"),
    "c0000094": KnownCode("INTEGER_DIVIDE_BY_ZERO", "divide-by-zero"),
    "c0000095": KnownCode("INTEGER_OVERFLOW", "integer-overflow"),
    "c0000096": KnownCode("PRIVILEGED_INSTRUCTION", "illegal-instruction"),
    "c00000fd": KnownCode("STACK_OVERFLOW", "stack-overflow"),
    "c0000142": KnownCode("DLL_INIT_FAILED", "dll-init-failed"),
    "c000013a": KnownCode("CONTROL_C_EXIT", "control-c"),
    "c0000374": KnownCode("HEAP_CORRUPTION", "heap-corruption"),
    "c0000409": KnownCode("STACK_BUFFER_OVERRUN", "fail-fast"),
    "c0000417": KnownCode("INVALID_CRUNTIME_PARAMETER", "invalid-parameter"),
    "c0000420": KnownCode("ASSERTION_FAILURE", "assert"),
    "c0000602": KnownCode("FAIL_FAST_EXCEPTION", "fail-fast"),
    "c06d007e": KnownCode("DELAYLOAD_MODULE_NOT_FOUND", "delay-load"),
    "c06d007f": KnownCode("DELAYLOAD_PROC_NOT_FOUND", "delay-load"),
    "80000002": KnownCode("DATATYPE_MISALIGNMENT", "misalignment"),
    "80000003": KnownCode("BREAKPOINT", "breakpoint"),
    "80000004": KnownCode("SINGLE_STEP", "breakpoint"),
    "40000015": KnownCode("FATAL_APP_EXIT", "abort"),
    "e06d7363": KnownCode("CPP_EH_EXCEPTION", "cpp-exception"),
    "e0434352": KnownCode("CLR_EXCEPTION", "managed-exception"),
    "e0434f4d": KnownCode("CLR_EXCEPTION", "managed-exception"),
}

FAST_FAIL_SUBCODES: dict[int, str] = {
    2: "FAST_FAIL_STACK_COOKIE_CHECK_FAILURE",
    3: "FAST_FAIL_CORRUPT_LIST_ENTRY",
    5: "FAST_FAIL_INVALID_ARG",
    7: "FAST_FAIL_FATAL_APP_EXIT",
    10: "FAST_FAIL_GUARD_ICALL_CHECK_FAILURE",
    13: "FAST_FAIL_HEAP_METADATA_CORRUPTION",
}

SIGNALS: dict[str, tuple[int, str, str]] = {
    # name: (linux number, description, crash class)
    "SIGSEGV": (11, "Segmentation fault", "access-violation"),
    "SIGBUS": (7, "Bus error", "access-violation"),
    "SIGFPE": (8, "Arithmetic exception", "arithmetic"),
    "SIGILL": (4, "Illegal instruction", "illegal-instruction"),
    "SIGABRT": (6, "Aborted", "abort"),
    "SIGTRAP": (5, "Trace/breakpoint trap", "breakpoint"),
    "SIGSYS": (31, "Bad system call", "bad-syscall"),
    "SIGKILL": (9, "Killed", "killed"),
    "SIGTERM": (15, "Terminated", "terminated"),
}
SIGNAL_BY_NUMBER = {number: name for name, (number, _, _) in SIGNALS.items()}

MACH_EXCEPTIONS: dict[int, tuple[str, str]] = {
    1: ("EXC_BAD_ACCESS", "access-violation"),
    2: ("EXC_BAD_INSTRUCTION", "illegal-instruction"),
    3: ("EXC_ARITHMETIC", "arithmetic"),
    5: ("EXC_SOFTWARE", "software"),
    6: ("EXC_BREAKPOINT", "breakpoint"),
    10: ("EXC_CRASH", "abort"),
    11: ("EXC_RESOURCE", "resource"),
    12: ("EXC_GUARD", "guard"),
}

# Sanitizer finding -> crash class. Memory-safety findings keep their own name:
# they say more than "access violation" ever could.
SANITIZER_CLASSES: dict[str, str] = {
    "SEGV": "access-violation",
    "access-violation": "access-violation",
    "BUS": "access-violation",
    "FPE": "arithmetic",
    "ILL": "illegal-instruction",
    "ABRT": "abort",
    "TRAP": "breakpoint",
    "stack-overflow": "stack-overflow",
    "attempting double-free": "double-free",
    "double-free": "double-free",
    "attempting free on address which was not malloc()-ed": "bad-free",
    "bad-free": "bad-free",
    "unknown-crash": "unknown-crash",
}

_HEX_CODE = re.compile(r"^(?:0x)?([0-9a-fA-F]{8})$")


def normalize_code(code: str) -> str:
    """`0xC0000005`, `C0000005` and `c0000005` are one code: lowercase, no prefix."""
    match = _HEX_CODE.match(code.strip())
    return match.group(1).lower() if match else code.strip()


def describe_ntstatus(code: str, subcode: int | None = None) -> tuple[str | None, str]:
    """Name and crash class of a Windows exception code."""
    code = normalize_code(code)
    known = NTSTATUS.get(code)
    if known is None:
        return None, f"exception-{code}"
    if code == "c0000409" and subcode == 7:
        return known.name, "abort"
    return known.name, known.crash_class


def describe_signal(name_or_number: str | int) -> tuple[str, str, str]:
    """Canonical name, description and class of a POSIX signal."""
    if isinstance(name_or_number, int):
        name = SIGNAL_BY_NUMBER.get(name_or_number, f"signal-{name_or_number}")
    else:
        name = name_or_number.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
    number, description, crash_class = SIGNALS.get(name, (0, name, name.lower()))
    return name, description, crash_class


def describe_sanitizer(kind: str) -> str:
    """Crash class of a sanitizer finding such as `heap-use-after-free`."""
    return SANITIZER_CLASSES.get(kind, kind)
