"""Where C++ functions and classes are in a source file, found with tree-sitter.

The fixer shows the model whole functions, not arbitrary line windows, so it needs each
function's qualified name and extent. Regexes fail on templates, nested namespaces and
in-class bodies; tree-sitter parses all of them and recovers from what it cannot parse
(unexpanded macros, `#ifdef` halves), which matters in a real server tree. This is the
only module that imports tree_sitter.

Everything works on bytes and counts lines on bytes (1-based), so CRLF, a BOM or Latin-1
text cannot shift a line number.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import tree_sitter_cpp
from tree_sitter import Language, Node, Parser

from crashfix.locate.index import is_low_priority, relative_source_files
from crashfix.locate.names import definition_filter, match_score, name_components, operator_name, split_qualified
from crashfix.locate.preproc import views

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Larger files are generated tables or amalgamations, not code to show a model."""

_LANGUAGE = Language(tree_sitter_cpp.language())
_LOCAL = threading.local()
_CLASS_KINDS = {
    "class_specifier": "class", "struct_specifier": "struct", "union_specifier": "union", "enum_specifier": "enum",
}
_WRAPPERS = {
    "pointer_declarator", "reference_declarator", "attributed_declarator", "parenthesized_declarator",
    "function_declarator", "init_declarator",
}
_CONTAINERS = {
    "template_declaration", "linkage_specification", "declaration_list", "field_declaration_list",
    "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef",
}


@dataclass(frozen=True)
class FunctionSpan:
    """A function (or class) definition: its qualified name and 1-based inclusive lines."""

    qualified_name: str
    name: str
    start_line: int
    end_line: int
    body_start_line: int
    kind: str = "function"

    def contains(self, line: int) -> bool:
        return self.start_line <= line <= self.end_line

    @property
    def line_count(self) -> int:
        return self.end_line - self.start_line + 1


class FileSpans(NamedTuple):
    functions: tuple[FunctionSpan, ...]
    classes: tuple[FunctionSpan, ...]


def _parser() -> Parser:
    """One parser per thread: tree-sitter parsers are not safe to share."""
    parser: Parser | None = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = Parser(_LANGUAGE)
    return parser


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _name_parts(node: Node | None) -> list[str]:
    """`ns::Foo<T>::bar` -> ["ns", "Foo", "bar"] from a declarator's name node."""
    if node is None:
        return []
    kind = node.type
    if kind == "qualified_identifier":
        return _name_parts(node.child_by_field_name("scope")) + _name_parts(node.child_by_field_name("name"))
    if kind in ("template_function", "template_method", "template_type"):
        return _name_parts(node.child_by_field_name("name"))
    if kind == "destructor_name":
        return ["~" + _text(node).lstrip("~").strip()]
    if kind == "operator_name":
        return [operator_name(_text(node))]
    if kind == "operator_cast":
        return ["operator " + " ".join(_text(node)[len("operator") :].split("(", 1)[0].split())]
    text = _text(node)
    while re.search(r"<[^<>]*>", text):
        text = re.sub(r"<[^<>]*>", "", text)
    return [part for part in (" ".join(p.split()) for p in text.split("::")) if part and part != "template"]


def _function_name(declarator: Node | None) -> list[str] | None:
    """The name a function definition's declarator gives, or None when it declares no function."""
    seen_function = False
    node = declarator
    while node is not None and node.type in _WRAPPERS:
        seen_function = seen_function or node.type == "function_declarator"
        inner = node.child_by_field_name("declarator")
        node = inner if inner is not None else (node.named_children[0] if node.named_children else None)
    if node is None:
        return None
    is_cast = node.type == "operator_cast" or (
        node.type == "qualified_identifier" and "operator_cast" in {c.type for c in node.named_children}
    )
    if not seen_function and not is_cast:
        return None
    return _name_parts(node) or None


def _outer_start(node: Node) -> int:
    """First line, `template<...>` lines included."""
    while node.parent is not None and node.parent.type == "template_declaration":
        node = node.parent
    return node.start_point.row + 1


def _end_line(node: Node) -> int:
    row, column = node.end_point
    return max(node.start_point.row + 1, row + 1 if column > 0 else row)


def _span(parts: list[str], node: Node, body: Node, kind: str) -> FunctionSpan:
    start = _outer_start(node)
    declarator = node.child_by_field_name("declarator")
    for child in node.children:  # `SOME_MACRO\nvoid F() {}`: tree-sitter made the macro the type
        if declarator is not None and child.start_byte >= declarator.start_byte:
            break
        if child.type == "ERROR":
            start = child.start_point.row + 1
            break
    return FunctionSpan(
        qualified_name="::".join(parts), name=parts[-1], start_line=start, end_line=_end_line(node),
        body_start_line=body.start_point.row + 1, kind=kind,
    )


class _Collector:
    """Walks declarations (never function bodies) collecting functions and classes."""

    def __init__(self) -> None:
        self.functions: list[FunctionSpan] = []
        self.classes: list[FunctionSpan] = []

    def walk(self, node: Node, scope: tuple[str, ...], namespaces: tuple[str, ...], in_error: bool) -> None:
        for child in node.named_children:
            kind = child.type
            if kind == "function_definition":
                self._function(child, scope)
            elif kind == "namespace_definition":
                name = child.child_by_field_name("name")  # `a`, `a::b`, `a::inline b`; none when anonymous
                parts = tuple(p.split()[-1] for p in _text(name).split("::") if p.strip()) if name is not None else ()
                body = child.child_by_field_name("body")
                if body is not None:
                    self.walk(body, scope + parts, namespaces + parts, in_error)
            elif kind in _CLASS_KINDS:
                self._class(child, scope, namespaces, in_error)
            elif kind == "friend_declaration":
                self.walk(child, namespaces, namespaces, in_error)
            elif kind in ("declaration", "field_declaration", "type_definition"):
                type_node = child.child_by_field_name("type")
                if type_node is not None and type_node.type in _CLASS_KINDS:
                    self._class(type_node, scope, namespaces, in_error)
                elif in_error:
                    self._misparsed_function(child, scope)
            elif kind in _CONTAINERS:
                self.walk(child, scope, namespaces, in_error)
            elif kind == "ERROR" or (in_error and kind != "compound_statement"):
                self.walk(child, scope, namespaces, True)

    def _function(self, node: Node, scope: tuple[str, ...]) -> None:
        body = node.child_by_field_name("body")
        parts = _function_name(node.child_by_field_name("declarator"))
        if body is None or not parts:  # `= default`, `= delete`, or not a function at all
            return
        self.functions.append(_span([*scope, *parts], node, body, "function"))

    def _class(self, node: Node, scope: tuple[str, ...], namespaces: tuple[str, ...], in_error: bool) -> None:
        body = node.child_by_field_name("body")
        if body is None:  # a forward declaration or an elaborated type
            return
        parts = _name_parts(node.child_by_field_name("name"))
        if parts:
            self.classes.append(_span([*scope, *parts], node, body, _CLASS_KINDS[node.type]))
        if node.type != "enum_specifier":
            self.walk(body, scope + tuple(parts), namespaces, in_error)

    def _misparsed_function(self, node: Node, scope: tuple[str, ...]) -> None:
        """Inside an ERROR, `void F() {...}` can come out as a declaration with a brace initializer."""
        declarator = node.child_by_field_name("declarator")
        holder = declarator if declarator is not None and declarator.type == "init_declarator" else node
        value = holder.child_by_field_name("value")
        parts = _function_name(holder.child_by_field_name("declarator"))
        if value is not None and value.type == "initializer_list" and parts:
            self.functions.append(_span([*scope, *parts], node, value, "function"))


def parse_spans(source: bytes) -> FileSpans:
    """All function and class definitions in a source file; never raises on bad code.

    Each preprocessor view (see `crashfix.locate.preproc`) is parsed; a later view only adds
    definitions that overlap nothing the first one found.
    """
    functions: list[FunctionSpan] = []
    classes: list[FunctionSpan] = []
    for view in views(source):
        collector = _Collector()
        try:
            collector.walk(_parser().parse(view).root_node, (), (), False)
        except RecursionError:  # `x<x<x<...` or a binary file nests ERROR nodes past Python's limit
            pass  # keep what was found before the deep part
        _merge(functions, collector.functions)
        _merge(classes, collector.classes)
    functions.sort(key=lambda span: (span.start_line, span.end_line))
    classes.sort(key=lambda span: (span.start_line, span.end_line))
    return FileSpans(tuple(functions), tuple(classes))


def _merge(known: list[FunctionSpan], found: list[FunctionSpan]) -> None:
    """Add the spans of another view that overlap none already known (by the nearest earlier one)."""
    first = sorted(known, key=lambda span: span.start_line)
    starts = [span.start_line for span in first]
    for span in found:
        at = bisect_right(starts, span.end_line)
        if at == 0 or first[at - 1].end_line < span.start_line:
            known.append(span)


def functions_in(source: bytes) -> list[FunctionSpan]:
    """Function definitions with a body, in source order (lambdas belong to their function)."""
    return list(parse_spans(source).functions)


def classes_in(source: bytes) -> list[FunctionSpan]:
    """Class, struct and union definitions with a body (kind says which)."""
    return list(parse_spans(source).classes)


def enclosing_function(source: bytes, line: int) -> FunctionSpan | None:
    """The innermost function definition containing `line` (1-based), if any."""
    return innermost(parse_spans(source).functions, line)


def innermost(spans: Iterable[FunctionSpan], line: int) -> FunctionSpan | None:
    containing = [span for span in spans if span.contains(line)]
    return min(containing, key=lambda span: span.line_count, default=None)


_CACHE: dict[tuple[str, int, int], FileSpans] = {}
_CACHE_LIMIT = 20_000


def _cache_key(path: Path) -> tuple[str, int, int] | None:
    """(path, mtime, size) of a file worth parsing; None if it is unreadable or huge."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return None if stat.st_size > MAX_FILE_BYTES else (str(path), stat.st_mtime_ns, stat.st_size)


def file_spans(path: Path, data: bytes | None = None) -> FileSpans | None:
    """The spans of a file, parsed once per (path, mtime, size) in this process; None if unreadable or huge."""
    key = _cache_key(path)
    if key is None:
        return None
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    if data is None:
        try:
            data = path.read_bytes()
        except OSError:
            return None
    spans = parse_spans(data)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = spans
    return spans


_FUNCTION_KINDS = frozenset({"function"})
ALL_KINDS = frozenset({"function", *_CLASS_KINDS.values()})


def find_definitions(
    root: Path, name: str, files: Iterable[Path] | None = None, limit: int = 20,
    kinds: Iterable[str] | None = None,
) -> list[tuple[str, FunctionSpan]]:
    """Definitions of `name` under `root`: (repository-relative posix path, span), best first.

    `Update` finds `Player::Update` and `Map::Update`; `Player::Update` finds only that (and
    `game::Player::Update`); parameters and template arguments in `name` are ignored. `kinds`
    (default: all) narrows to "function" or "class"/"struct"/"union"/"enum". Files are
    pre-filtered by a plain byte search before parsing, so a 5,000-file tree costs one read of
    each file the first time and little after (parses are cached per path, mtime and size).
    """
    return find_definitions_many(root, [name], files, limit, kinds)[name]


def find_definitions_many(
    root: Path, names: Iterable[str], files: Iterable[Path] | None = None, limit: int = 20,
    kinds: Iterable[str] | None = None,
) -> dict[str, list[tuple[str, FunctionSpan]]]:
    """`find_definitions` for several names in one pass over the tree (each file read once)."""
    root = root.resolve()
    wanted_kinds = frozenset(kinds) if kinds is not None else ALL_KINDS
    wanted = {name: name_components(name) for name in names}
    filters = {
        name: definition_filter(parts, "function" in wanted_kinds, bool(wanted_kinds - _FUNCTION_KINDS))
        for name, parts in wanted.items() if parts
    }
    found: dict[str, list[tuple[int, bool, str, int, FunctionSpan]]] = {name: [] for name in wanted}
    for relative in relative_source_files(root, files) if filters else ():
        path = root / relative
        data = _cached_or_bytes(path)
        if data is None:
            continue
        if isinstance(data, FileSpans):
            spans: FileSpans | None = data
            matching = list(filters)
        else:
            matching = [name for name, accept in filters.items() if accept(data)]
            spans = file_spans(path, data) if matching else None
        if spans is None:
            continue
        for span in (spans.functions if "function" in wanted_kinds else ()) + spans.classes:
            if span.kind not in wanted_kinds:
                continue
            parts = split_qualified(span.qualified_name)
            for name in matching:
                score = match_score(parts, wanted[name])
                if score:
                    found[name].append((-score, is_low_priority(relative), relative, span.start_line, span))
    return {name: [(h[2], h[4]) for h in sorted(hits, key=lambda h: h[:4])[:limit]] for name, hits in found.items()}


def _cached_or_bytes(path: Path) -> FileSpans | bytes | None:
    """A file's cached spans when its (mtime, size) has not changed, else its bytes; None if huge or unreadable."""
    key = _cache_key(path)
    if key is None:
        return None
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    try:
        return path.read_bytes()
    except OSError:
        return None
