"""Code the stack does not name but the fix often lives in, found through the symbol index.

Four searches, each bounded: the functions called on the crash line (an inline getter
called on a null object is frame 0's callee, not in the stack); the handler table the
blamed function dispatches through (`(this->*SpellEffects[eff])(i)`: the crashing handler
sits in the table's file, often in frames a cut report lost); call sites of the blamed
function when the stack is too short to show who passed the bad state (a one-line
assertion, a cut paste), with other definitions of the same name first; and project types
named only inside library frames (`std::_List_node<CServer::CCache::CCacheChunk>` in a
double free), whose declaration and constructors own the memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from crashfix.analysis.models import Frame
from crashfix.locate.cpp_syntax import FunctionSpan
from crashfix.locate.index import is_low_priority
from crashfix.locate.names import name_components, split_qualified
from crashfix.locate.snippets import Piece, SourceFiles, function_pieces
from crashfix.locate.symbol_index import SymbolIndex

MAX_LINE_CALLEES = 3
MAX_CALL_SITES = 8
MAX_FRAME_TYPES = 3
TABLE_HEAD, TABLE_WHOLE = 15, 200
MAX_TYPE_USES = 4
_DISPATCH = re.compile(r"(?:\*\s*this\s*\.\*|->\*)\s*([A-Za-z_]\w*)\s*\[")
_CALL = re.compile(r"(?<![\w~])([A-Za-z_]\w*)\s*(?:<[^;{}()<>]*>\s*)?\(")
_NOT_CALLS = frozenset({
    "if", "for", "while", "switch", "return", "sizeof", "alignof", "decltype", "catch", "static_cast",
    "dynamic_cast", "reinterpret_cast", "const_cast", "new", "delete", "throw", "defined", "typeid", "noexcept",
})
_QUALIFIED = re.compile(r"(?<![\w:])((?:[A-Za-z_]\w*::)*[A-Za-z_]\w*)")
_LIBRARY_SCOPES = ("std", "__gnu_cxx", "__cxx11", "boost", "tbb", "fmt", "absl", "Concurrency", "ATL", "__1", "asio")
_CLASS_KINDS = ("class", "struct", "union")


def line_callees(path: str, span: FunctionSpan, line: int, files: SourceFiles,
                 symbols: SymbolIndex) -> list[tuple[str, str, FunctionSpan]]:
    """(called name, path, definition) for the calls written on `line` of the blamed function.

    A name defined in the blamed method's class (or its file) wins; an unqualified name
    with definitions all over the tree is skipped rather than guessed.
    """
    text = files.lines(path)[line - 1] if 0 < line <= len(files.lines(path)) else ""
    own = split_qualified(span.qualified_name)
    scope = own[:-1]
    out: list[tuple[str, str, FunctionSpan]] = []
    for name in dict.fromkeys(_CALL.findall(text)):
        if name in _NOT_CALLS or name == own[-1] or name.isupper():
            continue  # keywords, recursion, and ASSERT-style macros
        hits = [(p, s) for p, s in symbols.definitions(name) if not is_low_priority(p)]
        member = [(p, s) for p, s in hits if scope and split_qualified(s.qualified_name)[:-1] == scope]
        same_file = [(p, s) for p, s in hits if p == path]
        chosen = member or same_file or (hits if len(hits) == 1 else [])
        if chosen:
            out.append((name, *chosen[0]))
        if len(out) == MAX_LINE_CALLEES:
            break
    return out


def dispatch_table_pieces(path: str, span: FunctionSpan, files: SourceFiles, symbols: SymbolIndex) -> list[Piece]:
    """The definition of each member-function-pointer table the blamed function calls through."""
    body = "\n".join(files.lines(path)[span.start_line - 1 : span.end_line])
    pieces: list[Piece] = []
    for name in dict.fromkeys(_DISPATCH.findall(body)):
        definition = re.compile(  # `[static] [const] Type [Scope::]Name[SIZE] =` at file scope, not `Name[i] ==`
            rb"^(?![ \t]*(?:extern|return)\b)[ \t]*[A-Za-z_][\w:<>,* \t&]*[\s*&]" + rb"(?:\w+::)*"
            + re.escape(name.encode()) + rb"\s*\[[^\]\n]*\]\s*=(?!=)", re.MULTILINE)
        for where, line in _occurrences(name.encode(), definition, files, symbols):
            if symbols.enclosing(where, line) is None:  # at file scope, not a use inside a function
                end = _initializer_end(files.lines(where), line)
                shown = "the whole table" if end is not None else "its first entries"
                reason = (f"the handler table {name} that {span.qualified_name} calls through ({shown}; "
                          "the crashing handler is one of them)")
                pieces.append(Piece(where, [(line, end or line + TABLE_HEAD)], reason))
                break
    return pieces


def _occurrences(needle: bytes, pattern: re.Pattern[bytes], files: SourceFiles,
                 symbols: SymbolIndex) -> Iterator[tuple[str, int]]:
    """(path, 1-based line) of each match of `pattern` in the indexed files that contain `needle`.

    Lines are counted once through each file (matches come in order), not once per match.
    """
    for path in symbols.spans:
        data = files.data(path)
        if needle not in data:
            continue
        line, position = 1, 0
        for match in pattern.finditer(data):
            line += data.count(b"\n", position, match.start())
            position = match.start()
            yield path, line


def _initializer_end(lines: list[str], start: int) -> int | None:
    """The line closing a table's `{ ... };` when it is at most `TABLE_WHOLE` lines long."""
    for number in range(start, min(len(lines), start + TABLE_WHOLE) + 1):
        if lines[number - 1].strip().startswith("};"):
            return number
    return None


def call_sites(name: str, blamed_path: str | None, blamed: FunctionSpan | None, files: SourceFiles,
               symbols: SymbolIndex) -> list[tuple[str, FunctionSpan, int, bool]]:
    """Functions that call `name` or define another function of that name: (path, span, line, is_definition).

    Ranked: other definitions of the same name (overloads; for a name the report gave without
    its class, also same-named methods of other classes, often the wrapper that was really
    called), then callers in the blamed function's class, then in its folder, then the
    project before vendored code.
    """
    parts = name_components(name)
    if not parts or parts[-1].startswith("operator") or len(parts[-1]) < 3:
        return []
    word = parts[-1].encode()
    call = re.compile(rb"(?<![\w~])" + re.escape(word) + rb"\s*(?:<[^;{}()]*>\s*)?\(")
    scope = split_qualified(blamed.qualified_name)[:-1] if blamed else parts[:-1]
    folder = blamed_path.rsplit("/", 1)[0] if blamed_path and "/" in blamed_path else ""
    found: dict[tuple[str, int], tuple[tuple[bool, bool, bool, bool, str, int], str, FunctionSpan, int, bool]] = {}
    for path, line in _occurrences(word, call, files, symbols):
        span = symbols.enclosing(path, line)
        if span is None or (path == blamed_path and blamed is not None and span.start_line == blamed.start_line):
            continue
        own = split_qualified(span.qualified_name)
        definition = line < span.body_start_line or (line == span.start_line and own[-1] == parts[-1])
        if definition and len(parts) > 1 and own[:-1] != scope:
            continue  # `Player::Update` was named: `Map::Update` is another function, not a relative
        key = (path, span.start_line)
        rank = (not definition, not (scope and own[:-1] == scope), path.rsplit("/", 1)[0] != folder,
                is_low_priority(path), path, span.start_line)
        if key not in found or rank < found[key][0]:
            found[key] = (rank, path, span, line, definition)
    ordered = sorted(found.values(), key=lambda item: item[0])[:MAX_CALL_SITES]
    return [(path, span, line, definition) for _, path, span, line, definition in ordered]


def type_uses(word: str, class_path: str, class_span: FunctionSpan, files: SourceFiles,
              symbols: SymbolIndex) -> list[tuple[str, FunctionSpan, int]]:
    """Functions outside the class that name the type (they create, store or free its objects), best first."""
    mention = re.compile(rb"(?<![\w~])" + re.escape(word.encode()) + rb"(?!\w)")
    folder = class_path.rsplit("/", 1)[0]
    found: dict[tuple[str, int], tuple[tuple[bool, bool, str, int], str, FunctionSpan, int]] = {}
    for path, line in _occurrences(word.encode(), mention, files, symbols):
        span = symbols.enclosing(path, line)
        if span is None or (path == class_path and class_span.contains(line)):
            continue
        if word in split_qualified(span.qualified_name)[:-1]:
            continue  # the type's own members
        rank = (is_low_priority(path), path.rsplit("/", 1)[0] != folder, path, span.start_line)
        found.setdefault((path, span.start_line), (rank, path, span, line))
    ordered = sorted(found.values(), key=lambda item: item[0])[:MAX_TYPE_USES]
    return [(path, span, line) for _, path, span, line in ordered]


def call_site_pieces(name: str, blamed_path: str | None, blamed: FunctionSpan | None, files: SourceFiles,
                     symbols: SymbolIndex) -> list[Piece]:
    word = name_components(name)[-1] if name_components(name) else name
    pieces: list[Piece] = []
    for path, span, line, definition in call_sites(name, blamed_path, blamed, files, symbols):
        reason = (f"another function named {word} ({span.qualified_name}; found by search, the stack is short)"
                  if definition else f"{span.qualified_name} calls {word} at line {line} (call site found by search; "
                  "the stack is short)")
        pieces += function_pieces(path, span, None if definition else line, whole=50, window=12, reason=reason)
    return pieces


def project_types(frames: Iterable[Frame], symbols: SymbolIndex) -> list[tuple[str, str, FunctionSpan]]:
    """Project classes named inside library frames' names: (name as written, path, class span)."""
    out: list[tuple[str, str, FunctionSpan]] = []
    seen: set[tuple[str, int]] = set()
    for frame in frames:
        if frame.in_project or not frame.function or "<" not in frame.function:
            continue
        arguments = frame.function[frame.function.index("<"):]
        for name in dict.fromkeys(_QUALIFIED.findall(arguments)):
            parts = name.split("::")
            if parts[0] in _LIBRARY_SCOPES or parts[-1] in _LIBRARY_SCOPES or len(parts[-1]) < 3:
                continue
            hits = [(p, s) for p, s in symbols.definitions(name, kinds=_CLASS_KINDS, limit=5)
                    if not is_low_priority(p)]
            if len(parts) == 1 and len(hits) != 1:
                continue  # a bare word (`int`, `Node`) must name exactly one project class
            if hits and (hits[0][0], hits[0][1].start_line) not in seen:
                seen.add((hits[0][0], hits[0][1].start_line))
                out.append((name, *hits[0]))
            if len(out) == MAX_FRAME_TYPES:
                return out
    return out


def type_pieces(frames: Iterable[Frame], files: SourceFiles, symbols: SymbolIndex) -> list[Piece]:
    """Each project type named in a library frame: its declaration, its constructors and destructor, its users."""
    pieces: list[Piece] = []
    for name, path, span in project_types(frames, symbols):
        reason = f"declaration of {span.qualified_name} (named in a library frame as {name})"
        pieces += function_pieces(path, span, None, whole=80, window=20, reason=reason)
        last = split_qualified(span.qualified_name)[-1]
        for special in (f"{span.qualified_name}::{last}", f"{span.qualified_name}::~{last}"):
            for where, definition in symbols.definitions(special, limit=3):
                if definition.kind == "function" and split_qualified(definition.qualified_name)[-1].lstrip("~") == last:
                    pieces += function_pieces(where, definition, None, whole=40, window=12,
                                              reason=f"{definition.qualified_name} (constructs or destroys {name})")
        for where, user, line in type_uses(last, path, span, files, symbols):
            pieces += function_pieces(where, user, line, whole=40, window=12,
                                      reason=f"{user.qualified_name} uses {last} at line {line} (found by search)")
    return pieces
