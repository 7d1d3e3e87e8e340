"""The fixer's locate step: from a parsed crash to the code the model should read first.

The model gets a token budget's worth of source up front: the blamed function, what it
called just before crashing, its callers down the stack, functions named by related
stacks (where freed memory was freed), and the blamed method's class. Each stack frame is
mapped onto the checkout by path (configured mappings, exact, longest common tail) or,
failing that, by its function's name; nothing outside the checkout is ever read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import MappingProxyType

from crashfix.analysis.models import CrashReport, Frame
from crashfix.analysis.symbols import is_unknown_function
from crashfix.locate.affinity import Affinity
from crashfix.locate.cpp_syntax import FunctionSpan, innermost
from crashfix.locate.index import SourceIndex, is_inside, path_parts
from crashfix.locate.models import CodeContext
from crashfix.locate.names import EXACT, match_score, name_components, split_qualified
from crashfix.locate.plan import Found, How, plan
from crashfix.locate.snippets import CHARS_PER_TOKEN, SourceFiles, estimate_tokens, fit
from crashfix.locate.symbol_index import SymbolIndex

DEFAULT_INSTRUCTION_FILES = ("CLAUDE.md", "AGENTS.md", ".github/crashfix-instructions.md")
INSTRUCTION_TOKENS = 2000
_NO_MAPPINGS: Mapping[str, str] = MappingProxyType({})


def locate(report: CrashReport, checkout: Path, *, path_mappings: Mapping[str, str] = _NO_MAPPINGS,
           context_tokens: int = 12000, instructions_file: str | None = None,
           symbols: SymbolIndex | None = None) -> CodeContext:
    """The code and notes to show the model for `report`, read from `checkout`, within `context_tokens`.

    `path_mappings` maps build-machine path prefixes to repository-relative ones (either
    slash, any case). `context_tokens` bounds the snippets; the instructions come on top
    (at most ~2,000 tokens) and `estimated_tokens` counts both. `symbols` is the checkout's
    symbol index when the caller already has it (else it is built, or loaded from its cache).
    """
    root = checkout.resolve()
    index = SourceIndex.build(root)
    symbols = symbols if symbols is not None else SymbolIndex.build(root, index.files)
    files = SourceFiles(root, symbols)
    blamed = report.blamed_frame_index
    main = [frame for frame in report.frames if _wanted(frame, blamed)]
    related = [(stack.title, frame) for stack in report.related_stacks for frame in stack.frames
               if _wanted(frame, None)]
    modules = [report.process, report.faulting_module, *(f.module for f in report.frames if f.module)]
    locator = _Locator(index, files, symbols, path_mappings)
    found = locator.locate_all([*main, *(frame for _, frame in related)], modules)
    found_main, found_related = found[: len(main)], found[len(main) :]
    pieces = plan(found_main, [(title, f) for (title, _), f in zip(related, found_related)], blamed, files, symbols,
                  library_frames=[frame for frame in report.frames if not frame.in_project])
    snippets, dropped, tokens = fit(pieces, files, context_tokens)
    instructions, instructions_path = read_instructions(root, instructions_file)
    return CodeContext(
        snippets=snippets,
        frames=[f.location() for f in found_main],
        instructions=instructions,
        instructions_path=instructions_path,
        estimated_tokens=tokens + (estimate_tokens(instructions) if instructions else 0),
        dropped=dropped,
    )


def _wanted(frame: Frame, blamed: int | None) -> bool:
    """Project frames that name a file or a function (the blamed frame counts even if marked otherwise)."""
    return (frame.in_project or frame.index == blamed) and bool(frame.file or _function(frame))


def _function(frame: Frame) -> str | None:
    return None if is_unknown_function(frame.function) else frame.function


@dataclass
class _Choice:
    """One place a frame may be: `strong` is the frame's own evidence for it (smaller is better)."""

    path: str
    strong: tuple[object, ...]
    tiebreak: tuple[object, ...]
    found: Callable[[], Found]


class _Locator:
    """Maps frames onto repository files: by path first, then by function name in the symbol index.

    Where the frame's own evidence (file name, line, name) leaves several candidates tied, the
    one nearest the rest of the crash is taken (`crashfix.locate.affinity`): the frames that
    were not in doubt, and the binary's name.
    """

    def __init__(self, index: SourceIndex, files: SourceFiles, symbols: SymbolIndex,
                 mappings: Mapping[str, str]) -> None:
        self.index = index
        self.files = files
        self.symbols = symbols
        self.mappings = mappings

    def locate_all(self, frames: list[Frame], modules: Iterable[str | None] = ()) -> list[Found]:
        """Every frame's location; `modules` name the crashing binary for frames that name none."""
        choices = [self.by_path(frame) for frame in frames]
        names = {name for frame, found in zip(frames, choices)
                 if not found and (name := _function(frame)) and name_components(name)}
        hits = {name: self.symbols.definitions(name, kinds=("function",), limit=20) for name in names}
        choices = [found or self.by_name(frame, hits) for frame, found in zip(frames, choices)]
        near = Affinity([options[0].path for options in choices if _decided(options)], modules)
        out = []
        for frame, options in zip(frames, choices):
            module = frame.module if frame.module and frame.in_project else None
            best = min(options, key=lambda c: (c.strong, near.key(c.path, frame.file, module), c.tiebreak),
                       default=None)
            out.append(best.found() if best else Found(frame, None, "not-found", None, None))
        return out

    def by_path(self, frame: Frame) -> list[_Choice]:
        """The files the frame's path may mean, each with the function at its line (or of its name)."""
        mapped = self.index.map_file(frame.file, self.mappings) if frame.file else None
        if mapped is None:
            return []
        candidates = mapped.paths
        line = frame.line if frame.line and frame.line > 0 else None
        name = _function(frame)
        wanted = name_components(name) if name else ()
        if mapped.how == "suffix" and line is not None:  # a same-named file too short to hold the line is another
            candidates = [path for path in candidates if line <= len(self.files.lines(path))]
        if mapped.how == "suffix" and mapped.depth == 1 and wanted:  # only the file name in common: check inside
            candidates = [path for path in candidates if self._named(path, wanted) is not None]
        return [_Choice(path, self._strong(path, line, wanted), (path.count("/"), path),
                        partial(self._in_file, frame, path, mapped.how, line, wanted)) for path in candidates]

    def by_name(self, frame: Frame, hits: Mapping[str, list[tuple[str, FunctionSpan]]]) -> list[_Choice]:
        """Definitions of the frame's function, when its path gave nothing.

        A bare name (`clear`, `operator->`) must be a free function of exactly that name, not
        any method called so; the file name the report gave (moved elsewhere) counts first.
        """
        name = _function(frame)
        if name is None:
            return []
        wanted = name_components(name)
        found = hits.get(name, [])
        if len(wanted) == 1:
            found = [(path, span) for path, span in found if _score(span, wanted) == EXACT]
        base = path_parts(frame.file)[-1] if frame.file and path_parts(frame.file) else None
        return [_Choice(path, (path.lower().rsplit("/", 1)[-1] != base, -_score(span, wanted)), (order,),
                        partial(Found, frame, path, "function-search", None, span))
                for order, (path, span) in enumerate(found)]

    def _named(self, path: str, wanted: tuple[str, ...]) -> FunctionSpan | None:
        """The function of that name in the file (the best match), if any."""
        scored = [(_score(span, wanted), span) for span in self.files.spans(path).functions]
        best = max(scored, key=lambda item: item[0], default=(0, None))
        return best[1] if best[0] else None

    def _strong(self, path: str, line: int | None, wanted: tuple[str, ...]) -> tuple[bool, bool]:
        """Among equally good paths: the one whose function at the line, or anywhere, is the frame's."""
        at_line = innermost(self.files.spans(path).functions, line) if line is not None else None
        in_line = at_line is not None and bool(_score(at_line, wanted))
        named = bool(wanted) and self._named(path, wanted) is not None
        return (not in_line, not named)

    def _in_file(self, frame: Frame, path: str, how: How, line: int | None, wanted: tuple[str, ...]) -> Found:
        at_line = innermost(self.files.spans(path).functions, line) if line is not None else None
        named = self._named(path, wanted) if wanted else None
        if at_line is not None and (named is None or _score(at_line, wanted)):
            return Found(frame, path, how, line, at_line)
        if named is not None:  # the checkout's lines moved since the crashed build
            note = f"; line {line} is outside it in this checkout" if line is not None else ""
            return Found(frame, path, how, line if at_line is None else None, named, note)
        return Found(frame, path, how, line, None)


def _decided(options: list[_Choice]) -> bool:
    """Whether the frame's own evidence settles its location (one candidate strictly best)."""
    if not options:
        return False
    ranked = sorted(option.strong for option in options)
    return len(ranked) == 1 or ranked[0] < ranked[1]


def _score(span: FunctionSpan, wanted: tuple[str, ...]) -> int:
    return match_score(split_qualified(span.qualified_name), wanted)


def read_instructions(root: Path, instructions_file: str | None) -> tuple[str | None, str | None]:
    """The project's notes for the model (repository-relative file), trimmed to ~2,000 tokens."""
    names = [instructions_file] if instructions_file else list(DEFAULT_INSTRUCTION_FILES)
    for name in names:
        path = root / name.replace("\\", "/").lstrip("/")
        if not path.is_file() or not is_inside(root, path):
            continue
        try:
            text = path.read_bytes().decode("utf-8", "replace").lstrip("\ufeff").replace("\r\n", "\n")
        except OSError:
            continue
        limit = int(INSTRUCTION_TOKENS * CHARS_PER_TOKEN)
        if len(text) > limit:
            cut = text.rfind("\n", 0, limit)
            text = text[: cut if cut > limit // 2 else limit].rstrip() + f"\n[... the rest of {name} is not shown]\n"
        return text, path.resolve().relative_to(root).as_posix()
    return None, None
