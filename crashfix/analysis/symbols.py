"""C++ symbol names as debuggers print them, and their canonical forms.

Debuggers print the same function many ways: with argument values (gdb), with
parameter types (gdb without debug info, ASan), with return types and calling
conventions (MSVC), with template arguments, ABI tags, GCC clone suffixes and
compiler-specific spellings of anonymous namespaces and lambdas. Signatures need one
spelling per function, so this module reduces them:

- `strip_parameters` keeps the name as shown but drops parameter lists, return types
  and qualifiers (what `Frame.function` stores);
- `normalize_function` also collapses template arguments and canonicalises anonymous
  namespaces and lambdas (what signatures key on).
"""

from __future__ import annotations

import re

from itanium_demangler import parse as _parse_mangled

ANON = "(anonymous namespace)"
LAMBDA = "{lambda}"

_OPERATOR = re.compile(
    r"\boperator\s*(?:"
    r"new\s*\[\]|delete\s*\[\]|new|delete|co_await|"
    r"\(\)|\[\]|->\*|->|<=>|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||\+\+|--|"
    r"[-+*/%^&|~!=<>,]=?|"
    r'""\s*\w+|'
    r"(?=\s*[A-Za-z_])\s*[A-Za-z_][\w:]*(?:\s*[*&])*"  # conversion operators
    r")"
)
_ANON_FORMS = re.compile(r"\(anonymous namespace\)|`anonymous namespace'|'anonymous namespace'|\{anonymous\}")
_MSVC_LAMBDA = re.compile(r"<lambda_[0-9a-fA-F]+>|`lambda(?:_\d+)?'|'lambda\d*'|\$_\d+")
_MSVC_SCOPE = re.compile(r"::`\d+'|::__l\d+|`\d+'::")
_ABI_TAG = re.compile(r"\[abi:[\w.]+\]")
_GDB_CLONE = re.compile(r"\s*\[clone [^\]]*\]")
_CLONE_SUFFIX = re.compile(
    r"(?:\.(?:isra|constprop|part|cold|localalias|lto_priv|clone|llvm|specialized)(?:\.\d+)*)+$"
)
_CALLING_WORDS = re.compile(
    r"\b(?:__cdecl|__stdcall|__thiscall|__fastcall|__vectorcall|__clrcall|__ptr64|__ptr32|"
    r"public:|private:|protected:|virtual|static|static\s+inline|\[thunk\]:)\s*"
)
_TRAILING_QUALIFIERS = re.compile(r"(?:\s*(?:const\b|volatile\b|noexcept\b|override\b|final\b|&&|&))+\s*$")
_MODULE_EXT = re.compile(
    r"\.(?:exe|dll|ocx|sys|drv|cpl|pdb|dylib|bundle|so(?:\.\d+)*|node|pyd)$", re.IGNORECASE
)
_CDB_MODULE_SUFFIX = re.compile(r"_[0-9a-f]{8,16}$")
_SPACED_SCOPE = re.compile(r"(?<=[\w>])\s*::\s*(?=[\w~])")
_SINGLE_COLON = re.compile(r"(?<=[A-Za-z0-9_>])(?<!:)(?<!\[abi):(?!:)(?=[A-Za-z_~])")
# gdb/itanium_demangler spell special members as `Unit::{dtor}`; engineers read `Unit::~Unit`.
_SPECIAL_MEMBER = re.compile(r"(?P<scope>(?:[\w$]+(?:<[^<>]*>)?::)*(?P<cls>[\w$]+)(?:<[^<>]*>)?)::"
                             r"\{(?P<kind>(?:base |complete |deleting |unified )?(?:ctor|dtor))\}")
# MSVC decorated names (`?Update@Player@@QEAAXI@Z`): the name and its scopes, innermost first.
_MSVC_DECORATED = re.compile(r"^\?(?P<special>\?[01])?(?P<name>[A-Za-z_$][\w$]*)?@(?P<scopes>(?:[A-Za-z_$][\w$]*@)*)@")
_SYMBOL = re.compile(
    r"^(?:(?P<module>[\w.$@\-]+)!)?(?P<function>.*?)(?:\s*\+\s*(?P<offset>(?:0x)?[0-9a-fA-F`]+))?$"
)


def _protect(name: str) -> tuple[str, list[str]]:
    """Replace constructs whose brackets are not grouping (operators, anon, lambdas)."""
    saved: list[str] = []

    def keep(match: re.Match[str]) -> str:
        saved.append(match.group(0))
        return f"\x00{len(saved) - 1}\x00"

    name = _replace_gdb_lambdas(name, saved)
    name = _ANON_FORMS.sub(keep, name)
    name = _MSVC_LAMBDA.sub(keep, name)
    name = _OPERATOR.sub(keep, name)
    return name, saved


def _replace_gdb_lambdas(name: str, saved: list[str]) -> str:
    """gdb prints lambdas as `{lambda(int)#1}`; their parentheses are not parameters."""
    out: list[str] = []
    i = 0
    while True:
        start = name.find("{lambda", i)
        if start < 0:
            out.append(name[i:])
            return "".join(out)
        depth = 0
        end = start
        for end in range(start, len(name)):
            if name[end] == "{":
                depth += 1
            elif name[end] == "}":
                depth -= 1
                if depth == 0:
                    break
        else:
            out.append(name[i:])
            return "".join(out)
        out.append(name[i:start])
        saved.append(name[start : end + 1])
        out.append(f"\x00{len(saved) - 1}\x00")
        i = end + 1


def _restore(name: str, saved: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: saved[int(m.group(1))], name)


_SIMPLE_CALL = re.compile(r"^([A-Za-z_~][\w:~]*)\((?:[^()]|\([^()]*\))*\)(?:\s*(?:const|volatile|noexcept|&&|&))*$")
_BRACKETS = re.compile(r"[<>()\[\]]")


def _drop_groups(name: str, opening: str, closing: str, keep_text: str = "") -> str:
    """Remove bracket groups that sit at depth 0 of every other bracket kind."""
    out: list[str] = []
    depth = 0
    other = 0
    copied = 0
    for found in _BRACKETS.finditer(name):
        char, at = found.group(), found.start()
        if char in "<([" and char != opening and depth == 0:
            other += 1
        elif char in ">)]" and char != closing and depth == 0 and other > 0:
            other -= 1
        if other == 0 and char == opening:
            if depth == 0:
                out.append(name[copied:at])
                if keep_text:
                    out.append(keep_text)
            depth += 1
            copied = at + 1
        elif other == 0 and char == closing and depth > 0:
            depth -= 1
            copied = at + 1
    if depth == 0:
        out.append(name[copied:])
    return "".join(out)


def _last_top_level_token(name: str) -> str:
    """The qualified name after any return type: the last word outside brackets."""
    depth = 0
    start = 0
    for i, char in enumerate(name):
        if char in "<([":
            depth += 1
        elif char in ">)]" and depth > 0:
            depth -= 1
        elif char == " " and depth == 0:
            start = i + 1
    return name[start:]


def repair_scope(name: str) -> str:
    """Scope operators a paste damaged: `Map :: Get` (machine translation), `World:Shutdown` (retyped).

    A single colon between two identifiers is never C++ in a function name, and
    spaces around `::` are never printed by a debugger: both are transport damage.
    """
    if ":" not in name:
        return name
    if " ::" in name or ":: " in name:
        name = _SPACED_SCOPE.sub("::", name)
    if _SINGLE_COLON.search(name):
        name = _SINGLE_COLON.sub("::", name)
    return name


def strip_parameters(name: str) -> str:
    """`void Foo<int>::bar(int) const` -> `Foo<int>::bar`; names stay otherwise as shown (mangled ones read)."""
    if name.startswith(("_Z", "?")):
        name = demangle(name)
    name = repair_scope(name)
    if "  " in name or "[clone" in name or "\t" in name:
        name = " ".join(_GDB_CLONE.sub("", name).split())
    else:
        name = name.strip()
    if not name or "(" not in name and " " not in name:
        return name
    simple = _SIMPLE_CALL.match(name)
    if simple:  # `ns::Class::method(args) const`: the common case, no scanning needed
        return simple.group(1)
    protected, saved = _protect(name)
    protected = _CALLING_WORDS.sub("", protected)
    protected = re.sub(r"(\x00\d+\x00)\s+<", r"\1<", protected)
    protected = _drop_groups(protected, "(", ")")
    protected = _TRAILING_QUALIFIERS.sub("", protected).strip()
    protected = _last_top_level_token(protected)
    return _restore(protected, saved).strip() or name


def normalize_function(name: str) -> str:
    """The spelling signatures key on: no parameters, templates collapsed to `<T>`, mangled names read."""
    name = strip_parameters(name)
    name = _ABI_TAG.sub("", name)
    name = _CLONE_SUFFIX.sub("", name)
    name = _MSVC_SCOPE.sub("", name)
    protected, saved = _protect(name)
    protected = _drop_groups(protected, "<", ">", keep_text="<T>")
    restored = _restore(protected, saved)
    restored = _ANON_FORMS.sub(ANON, restored)
    restored = _MSVC_LAMBDA.sub(LAMBDA, restored)
    restored = re.sub(r"\{lambda\(.*?\)#\d+\}", LAMBDA, restored)
    return " ".join(restored.split())


def normalize_module(name: str | None) -> str | None:
    """`C:\\Server\\WorldServer.EXE` and `worldserver` are the same module."""
    if not name:
        return None
    base = re.split(r"[\\/]", name.strip())[-1]
    base = _MODULE_EXT.sub("", base)
    base = _CDB_MODULE_SUFFIX.sub("", base.lower())
    return base or None


def split_symbol(text: str, bare_is_module: bool) -> tuple[str | None, str | None, int | None]:
    """`mod!Func+0x1f` -> (mod, Func, 0x1f); `mod+0x12` -> (mod, None, 0x12).

    Offsets are hex, with or without `0x` (Wheaty logs print `Func+1F`). A name
    without `!` is a module for debuggers (CDB prints `worldserver+0x1234`) and a
    function for crash loggers, so the caller says which (`bare_is_module`).
    """
    text = text.strip()
    if not text or re.fullmatch(r"0x[0-9a-fA-F`]+|[0-9a-fA-F`]{8,}", text):
        return None, None, None
    match = _SYMBOL.match(text)
    if match is None:  # pragma: no cover - the pattern matches any string
        return None, text, None
    module, function, offset_text = match.group("module"), match.group("function"), match.group("offset")
    if function.rstrip().endswith("operator") and offset_text is not None:
        # `operator+` followed by nothing: the "+" belongs to the name.
        function, offset_text = function + "+" + offset_text, None
    offset = int(offset_text.replace("`", ""), 16) if offset_text else None
    function = function.strip() or None
    if module is None and bare_is_module and function and re.fullmatch(r"[\w.\-]+", function):
        return function, None, offset
    return module, function, offset


def is_unknown_function(function: str | None) -> bool:
    """gdb's `??`, CDB's `Unknown` and raw addresses are not symbols."""
    if not function:
        return True
    text = function.strip()
    return text in {"??", "?", "Unknown", "<unknown>", "<unknown module>"} or bool(
        re.fullmatch(r"(?:0x)?[0-9a-fA-F`]{6,}", text)
    )


def demangle(name: str) -> str:
    """`_ZN3Foo3barEv` -> `Foo::bar()`, `?bar@Foo@@QEAAXXZ` -> `Foo::bar`; anything else unchanged."""
    if name.startswith("?"):
        return _undecorate_msvc(name)
    if not name.startswith("_Z") or len(name) > 4096:
        return name
    core = _CLONE_SUFFIX.sub("", name)
    try:
        # A third-party parser on untrusted text: whatever it raises means "not demangled".
        parsed = _parse_mangled(core)
    except Exception:  # noqa: BLE001
        return name
    if parsed is None:
        return name
    text = str(parsed)
    if "{" in text:
        text = _SPECIAL_MEMBER.sub(_special_member, text)
    return text


def _special_member(match: re.Match[str]) -> str:
    destructor = match.group("kind").endswith("dtor")
    return f"{match.group('scope')}::{'~' if destructor else ''}{match.group('cls')}"


def _undecorate_msvc(name: str) -> str:
    """The qualified name inside an MSVC decorated name; the type encoding after `@@` is dropped."""
    match = _MSVC_DECORATED.match(name)
    if match is None:
        return name
    scopes = [scope for scope in match.group("scopes").split("@") if scope]
    if match.group("special"):  # ??0Class@@ is a constructor, ??1Class@@ a destructor
        if not match.group("name"):
            return name
        owner = match.group("name")
        scopes.insert(0, owner)
        leaf = owner if match.group("special") == "?0" else "~" + owner
        return "::".join([*reversed(scopes), leaf])
    if not match.group("name"):
        return name
    return "::".join([*reversed(scopes), match.group("name")])
