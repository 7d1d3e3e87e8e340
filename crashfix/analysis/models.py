"""The records that cross crashfix's boundaries: a parsed crash and its signature.

A `CrashReport` is what every parser produces, what the uploader files (inside the
issue body) and what the fixer reads back, so it is strict, versioned by its
fields, and serialises addresses as readable hex strings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    computed_field,
    model_validator,
)

from crashfix.analysis.formats import SourceFormat

__all__ = ["SourceFormat"]  # long imported from here; the enum itself lives in formats (cheap to import)


def _parse_hex(value: Any) -> Any:
    if isinstance(value, str):
        return int(value.strip().replace("`", ""), 16)
    return value


HexInt = Annotated[
    int,
    BeforeValidator(_parse_hex),
    PlainSerializer(lambda v: hex(v), return_type=str, when_used="json"),
]
"""An address or offset: an int in Python, a ``0x…`` string in JSON."""


ReportKind = Literal["crash", "hang", "kernel-bugcheck", "managed", "snapshot", "leak"]
"""`crash` is what crashfix files; the others are classified, never misparsed as crashes."""

Trust = Literal["context", "cfi", "frame-pointer", "scan", "inline", "assertion", "summary", "unreliable"]
Symbols = Literal["full", "exports", "none"]
Access = Literal["read", "write", "execute"]


# Frames read per stack: a real one is a few hundred deep; a deeper one is a recursion, whose top is
# what is blamed and signed. Parsers stop here so a hostile 100,000-frame paste stays cheap.
MAX_FRAMES = 4096


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False, defer_build=True)  # built on first use


class Frame(Strict):
    """One stack frame as the input showed it."""

    index: int
    module: str | None = None
    function: str | None = None
    file: str | None = None
    line: int | None = None
    offset: HexInt | None = Field(
        default=None, description="Offset into the function, or into the module when unsymbolised."
    )
    section: int | None = Field(default=None, description="PE section of a section:offset address.")
    address: HexInt | None = None
    trust: Trust | None = Field(default=None, description="How the frame was found, when known.")
    symbols: Symbols = "full"
    in_project: bool = True
    cut: bool = Field(default=False, description="The frame line was cut short: its name may be incomplete.")

    def location(self) -> str:
        """`module!function+0x1f` or `module+0x1234`, the way debuggers print frames."""
        if self.function:
            text = f"{self.module}!{self.function}" if self.module else self.function
            if self.symbols == "exports" and self.offset is not None:
                text += f"+{self.offset:#x}"
            return text
        if self.module:
            if self.section is not None and self.offset is not None:
                return f"{self.module} {self.section:04x}:{self.offset:x}"
            if self.offset is not None:
                return f"{self.module}+{self.offset:#x}"
            return self.module
        return hex(self.address) if self.address is not None else "??"

    def source(self) -> str | None:
        """`file:line`, or just the file, when the input gave it."""
        if not self.file:
            return None
        return f"{self.file}:{self.line}" if self.line else self.file


def replace_index(frame: Frame, index: int) -> Frame:
    """The same frame at another position of its stack."""
    return frame.model_copy(update={"index": index})


class ExceptionInfo(Strict):
    """What went wrong: an NTSTATUS code, a signal, or a sanitizer finding."""

    code: str | None = Field(
        default=None, description="Lowercase hex like c0000005, or SIGSEGV, or heap-use-after-free."
    )
    name: str | None = None
    crash_class: str = Field(description="Canonical class used by signatures, e.g. access-violation.")
    access: Access | None = None
    address: HexInt | None = Field(default=None, description="The data address accessed, if any.")
    instruction_address: HexInt | None = None
    detail: str | None = None


class AssertionInfo(Strict):
    """An assertion message the program printed before it stopped."""

    file: str | None = None
    line: int | None = None
    function: str | None = None
    condition: str | None = None
    message: str | None = None


class BuildInfo(Strict):
    """Which build crashed, when the input says so."""

    product: str | None = None
    revision: str | None = None
    version: str | None = None
    branch: str | None = None
    build_type: str | None = None
    date: str | None = None


class ModuleInfo(Strict):
    """A loaded module (minidumps), kept for the modules the frames name."""

    name: str
    base: HexInt
    size: int
    version: str | None = None
    debug_file: str | None = None
    debug_id: str | None = None


class RelatedStack(Strict):
    """Another stack the input showed for the same crash, such as where memory was freed."""

    title: str
    frames: list[Frame] = Field(default_factory=list)


class AnalysisWarning(Strict):
    """Something about the input that limits what can be concluded."""

    code: Literal[
        "truncated",
        "missing-symbols",
        "export-symbols",
        "scanned-frames",
        "no-frames",
        "no-exception",
        "several-exceptions",
        "damaged-input",
    ]
    message: str


Quality = Literal["good", "low"]


class Signature(Strict):
    """A crash's identity: the same bug, seen twice, gets the same id."""

    id: str = Field(description="Short stable hash of the key.")
    text: str = Field(description="Readable form, `A | B | C`.")
    crash_class: str
    frames: list[str]
    quality: Quality
    quality_reasons: list[str] = Field(default_factory=list)
    version: int


class CrashReport(Strict):
    """One crash output turned into a structured, deduplicable record."""

    format: SourceFormat
    kind: ReportKind = "crash"
    exception: ExceptionInfo | None = None
    faulting_module: str | None = None
    frames: list[Frame] = Field(default_factory=list)
    crashing_thread: str | None = None
    process: str | None = None
    os: str | None = None
    arch: str | None = None
    build: BuildInfo | None = None
    assertion: AssertionInfo | None = None
    related_stacks: list[RelatedStack] = Field(default_factory=list)
    modules: list[ModuleInfo] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)
    facts: dict[str, str] = Field(
        default_factory=dict, description="Secondary facts such as FAILURE_BUCKET_ID, kept not keyed."
    )
    warnings: list[AnalysisWarning] = Field(default_factory=list)
    blamed_frame_index: int | None = None
    signature: Signature | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        """A dumped report carries `blamed_frame` for readers; reading it back derives it again."""
        if isinstance(data, dict) and "blamed_frame" in data:
            data = {key: value for key, value in data.items() if key != "blamed_frame"}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def blamed_frame(self) -> Frame | None:
        """The first frame an engineer would blame (see `crashfix.analysis.blame`)."""
        if self.blamed_frame_index is None:
            return None
        for frame in self.frames:
            if frame.index == self.blamed_frame_index:
                return frame
        return None

    def warn(self, code: str, message: str) -> None:
        """Record a warning once."""
        if not any(w.code == code for w in self.warnings):
            self.warnings.append(AnalysisWarning(code=code, message=message))  # type: ignore[arg-type]
