"""Matching a function name from a crash report against a name defined in the source.

Debuggers print `Player::Update(unsigned int)`, `worldserver!Player::Update+0x4c`,
`ns::Foo<int>::bar()::{lambda()#1}::operator()` or `(anonymous namespace)::OnSignal`; the
parser sees `void Player::Update(uint32 diff)` inside `namespace game {}`. Both sides are
reduced to `::` components without parameters or template arguments, and a definition
matches when one is a suffix of the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from crashfix.analysis.symbols import ANON, LAMBDA, normalize_function

_OPERATOR = re.compile(r"\boperator\b")
_TEMPLATE_ARGS = re.compile(r"<T>")
_OPERATOR_SYMBOL = re.compile(
    r"operator\s*(\(\s*\)|\[\s*\]|(?:new|delete)\s*\[\s*\]|new\b|delete\b|->\*?|<=>|<<=|>>=|<<|>>|<=|>=|==|!=|"
    r"&&|\|\||\+\+|--|[-+*/%^&|~!=<>,]=?|\"\"\s*\w+)"
)

EXACT = 3
"""The whole qualified name is the same."""
LONGER_DEFINITION = 2
"""`Update` asked, `Player::Update` defined (more scope in the source)."""
SHORTER_DEFINITION = 1
"""`game::Player::Update` asked, `Player::Update` defined (a `using namespace` file)."""


def name_components(name: str) -> tuple[str, ...]:
    """`void ns::Foo<int>::bar(int) const` -> ("ns", "Foo", "bar").

    Anonymous namespaces are dropped (the source does not name them) and a lambda is cut
    off, so its frames match the function the lambda is written in.
    """
    found = _OPERATOR.search(name)
    if found is None:
        return _plain_components(name)[0]
    head, cut = _plain_components(name[: found.start()] + "_")
    if cut:
        return head
    return head[:-1] + (operator_name(name[found.start() :]),)


def split_qualified(qualified: str) -> tuple[str, ...]:
    """Components of a name as `crashfix.locate.cpp_syntax` spells it (no parameters, no template arguments)."""
    found = _OPERATOR.search(qualified)
    head, tail = (qualified[: found.start()], qualified[found.start() :]) if found else (qualified, "")
    parts = [part for part in head.split("::") if part]
    return (*parts, tail) if tail else tuple(parts)


def _plain_components(text: str) -> tuple[tuple[str, ...], bool]:
    """Components of a name without operators, and whether a lambda cut it short."""
    out: list[str] = []
    for part in normalize_function(text).split("::"):
        part = part.strip()
        if part == LAMBDA or part.startswith("{lambda"):
            return tuple(out), True
        if part and part != ANON:
            out.append(_TEMPLATE_ARGS.sub("", part).replace(" ", ""))
    return tuple(out), False


def operator_name(text: str) -> str:
    """`operator == (A const&) const` -> `operator==`; `operator bool() const` -> `operator bool`."""
    symbol = _OPERATOR_SYMBOL.match(text.strip())
    if symbol:
        compact = re.sub(r"\s+", "", symbol.group(1))
        return ("operator " if compact[0].isalpha() else "operator") + compact
    rest = text.strip()[len("operator") :].split("(", 1)[0]
    return "operator " + " ".join(rest.split())


def match_score(defined: Sequence[str], wanted: Sequence[str]) -> int:
    """How well a defined name (components) answers a wanted one; 0 when it does not."""
    if not defined or not wanted:
        return 0
    if tuple(defined) == tuple(wanted):
        return EXACT
    if len(defined) > len(wanted) and tuple(defined[-len(wanted) :]) == tuple(wanted):
        return LONGER_DEFINITION
    if 2 <= len(defined) < len(wanted) and tuple(wanted[-len(defined) :]) == tuple(defined):
        return SHORTER_DEFINITION
    return 0


def search_word(components: Sequence[str]) -> bytes:
    """The word every file defining the name must contain (the pre-filter before parsing)."""
    last = components[-1] if components else ""
    if last.startswith("operator"):
        return b"operator"
    return last.lstrip("~").encode("utf-8", "replace")


_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_TYPE_KEYWORD = re.compile(rb"\b(?:class|struct|union|enum)\b")


def definition_filter(wanted: Sequence[str], functions: bool, types: bool) -> Callable[[bytes], bool]:
    """A cheap test every file defining `wanted` passes, run on raw bytes before parsing.

    A function definition needs its last name followed by `(`; a qualified one also needs its
    scope, written either before `::` or as a class/namespace around it. Every pattern starts
    with a literal so that `re` can skip through a 100 MB tree quickly.
    """
    word = search_word(wanted)
    scope = wanted[-2].encode("utf-8", "replace") if len(wanted) >= 2 else b""
    tail = re.escape(word) + rb"\s*(?:<[^;{}()]*>\s*)?\("
    call = re.compile(rb"operator\b" if word == b"operator" else tail)
    scoped = re.compile(re.escape(scope) + rb"\s*(?:<[^;{}()]*>\s*)?::\s*~?" + re.escape(word)) if scope else None
    container = re.compile(
        rb"(?:class|struct|union|namespace)\s+(?:[A-Z_][A-Z0-9_]*\s+)?(?:\w+::)*" + re.escape(scope) + rb"\b"
    ) if scope else None
    named = re.compile(re.escape(word) + rb"\b")

    def starts_word(data: bytes, at: int) -> bool:
        return at == 0 or data[at - 1] not in _WORD_BYTES

    def accept(data: bytes) -> bool:
        if scope and scope not in data:
            return False
        if functions and any(starts_word(data, m.start()) for m in call.finditer(data)):
            if scoped is None or container is None or scoped.search(data) or container.search(data):
                return True
        if types:
            for match in named.finditer(data):
                line_start = data.rfind(b"\n", 0, match.start()) + 1
                if starts_word(data, match.start()) and _TYPE_KEYWORD.search(data, line_start, match.start()):
                    return True
        return False

    return accept
