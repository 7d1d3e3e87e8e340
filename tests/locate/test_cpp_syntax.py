"""Finding C++ functions and classes with tree-sitter: names, extents, tolerance, search."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crashfix.locate.cpp_syntax import (
    FunctionSpan,
    classes_in,
    enclosing_function,
    find_definitions,
    find_definitions_many,
    functions_in,
)
from crashfix.locate.names import match_score, name_components, split_qualified
from crashfix.locate.preproc import views
from tests.conftest import FIXTURES

GAMESERVER = FIXTURES / "gameserver"


def names(source: str | bytes) -> list[str]:
    data = source.encode() if isinstance(source, str) else source
    return [span.qualified_name for span in functions_in(data)]


def span_of(source: str, qualified: str) -> FunctionSpan:
    return next(span for span in functions_in(source.encode()) if span.qualified_name == qualified)


# -- qualified names -----------------------------------------------------------------------------


def test_out_of_class_definitions_and_free_functions() -> None:
    source = "void Player::Update(uint32 diff)\n{\n}\nint main() { return 0; }\nstatic void helper(int) {}\n"
    assert names(source) == ["Player::Update", "main", "helper"]


def test_namespaces_named_nested_and_anonymous() -> None:
    source = """namespace game {
namespace net::detail {
void Send() {}
}
void Klass::Method() {}
}
namespace { void Hidden() {} }
namespace outer { namespace { void Inner() {} } }
"""
    assert names(source) == ["game::net::detail::Send", "game::Klass::Method", "Hidden", "outer::Inner"]


def test_in_class_bodies_are_qualified_with_the_enclosing_classes() -> None:
    source = """namespace ns {
class Outer {
public:
    int Get() const { return _x; }
    struct Inner { void Run() { } };
    void Declared();
private:
    int _x;
};
}
"""
    assert names(source) == ["ns::Outer::Get", "ns::Outer::Inner::Run"]
    assert [(c.qualified_name, c.kind) for c in classes_in(source.encode())] == [
        ("ns::Outer", "class"), ("ns::Outer::Inner", "struct")]


def test_constructors_destructors_and_default_bodies() -> None:
    source = """struct K {
    K() = default;
    K(K const&) = delete;
    ~K() { }
};
Klass::Klass(int a) : _a(a) { }
Klass::~Klass()
{
}
"""
    assert names(source) == ["K::~K", "Klass::Klass", "Klass::~Klass"]
    destructor = span_of(source, "Klass::~Klass")
    assert (destructor.start_line, destructor.body_start_line, destructor.end_line) == (7, 8, 9)
    assert destructor.name == "~Klass"


def test_operators_and_conversion_operators() -> None:
    source = """bool Klass::operator==(Klass const& other) const { return true; }
bool Klass::operator < (Klass const& other) const { return false; }
Klass::operator bool() const { return true; }
Klass::operator const char*() const { return nullptr; }
struct F { int operator()(int x) const { return x; } void* operator new(size_t n) { return 0; } };
"""
    assert names(source) == [
        "Klass::operator==", "Klass::operator<", "Klass::operator bool", "Klass::operator const char*",
        "F::operator()", "F::operator new"]
    assert span_of(source, "Klass::operator==").name == "operator=="


def test_templates_include_their_template_line_and_drop_arguments() -> None:
    source = """template <typename T>
T* Pool<T>::Acquire()
{
    return nullptr;
}
template<> template<class U> void A<int>::B<U>::c() {}
"""
    acquire = span_of(source, "Pool::Acquire")
    assert (acquire.start_line, acquire.body_start_line, acquire.end_line) == (1, 3, 5)
    assert names(source) == ["Pool::Acquire", "A::B::c"]


def test_pointer_and_reference_return_types() -> None:
    source = "Foo* Bar::Get() { return 0; }\nFoo& Bar::Ref() { return *p; }\nFoo const* const* Bar::Deep() { return 0; }\n"
    assert names(source) == ["Bar::Get", "Bar::Ref", "Bar::Deep"]


def test_lambdas_belong_to_their_function() -> None:
    source = """void World::Tick()
{
    auto hit = [this](Unit* u)
    {
        u->DealDamage(1);
    };
    ForEach(hit);
}
"""
    assert names(source) == ["World::Tick"]
    assert enclosing_function(source.encode(), 5) == span_of(source, "World::Tick")


def test_export_macros_do_not_hide_classes_or_functions() -> None:
    source = """class TC_GAME_API Player : public Unit, public GridObject<Player>
{
public:
    void Update(uint32 diff) override { Tick(diff); }
};
TC_GAME_API void Api::Fn() {}
DWORD WINAPI Worker(LPVOID) { return 0; }
class AB final : public Base { void Run() {} };
"""
    assert names(source) == ["Player::Update", "Api::Fn", "Worker", "AB::Run"]
    assert [c.qualified_name for c in classes_in(source.encode())] == ["Player", "AB"]


# -- tolerance -------------------------------------------------------------------------------------


def test_statements_split_across_ifdef_branches_do_not_swallow_the_file() -> None:
    source = """void Player::Update(uint32 diff)
{
#if SUPPORTED_CLIENT_BUILD > 10
    if (GetDeathState() == CORPSE && !GetMap()->Instanceable())
#else
    if (GetDeathState() == CORPSE)
#endif
    {
        Repop();
    }
}

void Player::Other() { }
"""
    update = span_of(source, "Player::Update")
    assert (update.start_line, update.end_line) == (1, 11)
    assert names(source) == ["Player::Update", "Player::Other"]


def test_functions_in_either_branch_of_a_conditional_are_found() -> None:
    source = """#ifdef _WIN32
void Platform::Sleep(int ms) { ::Sleep(ms); }
#else
void Platform::Sleep(int ms)
{
    usleep(ms * 1000);
}
#endif
#if 0
void Dead() {}
#endif
"""
    spans = functions_in(source.encode())
    assert [(s.qualified_name, s.start_line, s.end_line) for s in spans] == [
        ("Platform::Sleep", 2, 2), ("Platform::Sleep", 4, 7)]


def test_broken_code_and_unknown_macros_never_raise() -> None:
    source = """DECLARE_SCRIPT(boss_thing)
SOME_MACRO_BEGIN
void InsideMacroBlock() { }
SOME_MACRO_END
void Broken( { if ( }
void AfterBroken() {}
class { ;;; }}}} )))
"""
    found = names(source)
    assert "InsideMacroBlock" in found and "AfterBroken" in found
    assert span_of(source, "InsideMacroBlock").start_line == 3
    for garbage in (b"", b"}}}}", b"\x00\xff\xfe garbage", b"template <", b"#if\n#else\n#endif\n#endif"):
        assert all(isinstance(span, FunctionSpan) for span in functions_in(garbage))


def test_crlf_bom_and_latin1_keep_line_numbers() -> None:
    source = b"\xef\xbb\xbf// caf\xe9 cr\xe8me\r\nvoid A::b()\r\n{\r\n    int x = 1;\r\n}\r\n\r\nvoid c() {}\r\n"
    spans = functions_in(source)
    assert [(s.qualified_name, s.start_line, s.body_start_line, s.end_line) for s in spans] == [
        ("A::b", 2, 3, 5), ("c", 7, 7, 7)]
    assert views(source)[0].count(b"\n") == source.count(b"\n")


# -- enclosing_function ----------------------------------------------------------------------------


def test_enclosing_function_inside_and_outside_bodies() -> None:
    source = (GAMESERVER / "src" / "Player.cpp").read_bytes()
    inside = enclosing_function(source, 13)
    assert inside is not None and inside.qualified_name == "Player::Update"
    assert (inside.start_line, inside.body_start_line, inside.end_line) == (8, 9, 18)
    signature = enclosing_function(source, 8)
    assert signature is not None and signature.qualified_name == "Player::Update"
    assert enclosing_function(source, 3) is None  # an #include line
    assert enclosing_function(source, 7) is None  # the blank line between two functions
    constructor = enclosing_function(source, 6)
    assert constructor is not None and constructor.qualified_name == "Player::Player"


def test_enclosing_function_picks_the_innermost_in_class_body() -> None:
    source = (GAMESERVER / "src" / "Unit.h").read_bytes()
    getter = enclosing_function(source, 17)
    assert getter is not None and getter.qualified_name == "Unit::GetTarget"
    assert enclosing_function(source, 13) is None  # a declaration, not a definition
    assert [c.qualified_name for c in classes_in(source)] == ["Unit"]


# -- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reported", "components"), [
    ("Player::Update(unsigned int)", ("Player", "Update")),
    ("void __cdecl Player::Update(unsigned int)", ("Player", "Update")),
    ("ns::Pool<int>::Acquire<char>(int)", ("ns", "Pool", "Acquire")),
    ("(anonymous namespace)::OnFatalSignal(int)", ("OnFatalSignal",)),
    ("`anonymous namespace'::OnFatalSignal", ("OnFatalSignal",)),
    ("World::Tick()::{lambda(Unit*)#1}::operator()(Unit*) const", ("World", "Tick")),
    ("World::Tick::<lambda_1a2b3c4d5e6f7a8b>::operator()", ("World", "Tick")),
    ("Klass::operator==(Klass const&) const", ("Klass", "operator==")),
    ("Klass::operator bool() const", ("Klass", "operator bool")),
    ("Klass::operator new[](unsigned long)", ("Klass", "operator new[]")),
])
def test_reported_names_reduce_to_components(reported: str, components: tuple[str, ...]) -> None:
    assert name_components(reported) == components


def test_suffix_matching_on_components() -> None:
    defined = split_qualified("game::Player::Update")
    assert match_score(defined, ("Update",)) > 0
    assert match_score(defined, ("Player", "Update")) > 0
    assert match_score(defined, ("Map", "Update")) == 0
    assert match_score(split_qualified("Player::Update"), ("game", "Player", "Update")) > 0
    assert match_score(split_qualified("Update"), ("Player", "Update")) == 0
    assert match_score(defined, ("game", "Player", "Update")) > match_score(defined, ("Update",))


# -- find_definitions ------------------------------------------------------------------------------


def test_find_definitions_on_the_gameserver() -> None:
    found = find_definitions(GAMESERVER, "Update")
    assert [(path, span.qualified_name) for path, span in found] == [
        ("src/Map.cpp", "Map::Update"), ("src/Player.cpp", "Player::Update")]
    only = find_definitions(GAMESERVER, "Player::Update(unsigned int)")
    assert [(path, span.qualified_name, span.start_line) for path, span in only] == [
        ("src/Player.cpp", "Player::Update", 8)]
    assert find_definitions(GAMESERVER, "Unit::Update") == []
    anonymous = find_definitions(GAMESERVER, "(anonymous namespace)::OnFatalSignal(int)")
    assert [(path, span.qualified_name) for path, span in anonymous] == [("src/CrashHandler.cpp", "OnFatalSignal")]


def test_find_definitions_of_types_and_in_class_methods() -> None:
    types = find_definitions(GAMESERVER, "Player", kinds={"class", "struct"})
    assert [(path, span.kind) for path, span in types] == [("src/Player.h", "class")]
    everything = find_definitions(GAMESERVER, "Player")
    assert [(path, span.qualified_name, span.kind) for path, span in everything] == [
        ("src/Player.h", "Player", "class"), ("src/Player.cpp", "Player::Player", "function")]
    inline = find_definitions(GAMESERVER, "Unit::GetTarget")
    assert [(path, span.start_line) for path, span in inline] == [("src/Unit.h", 17)]


def test_find_definitions_limits_and_restricts_files(tmp_path: Path) -> None:
    (tmp_path / "a.cpp").write_text("".join(f"void C{i}::Run() {{}}\n" for i in range(30)))
    (tmp_path / "b.cpp").write_text("void Z::Run() {}\n")
    assert len(find_definitions(tmp_path, "Run", limit=5)) == 5
    assert [p for p, _ in find_definitions(tmp_path, "Run", files=[Path("b.cpp")])] == ["b.cpp"]
    outside = tmp_path.parent / f"{tmp_path.name}-outside.cpp"
    outside.write_text("void Z::Run() {}\n")
    assert find_definitions(tmp_path, "Z::Run", files=[outside]) == []


def test_find_definitions_skips_huge_files_and_sees_edits(tmp_path: Path) -> None:
    (tmp_path / "huge.cpp").write_bytes(b"void Big::Run() {}\n" + b"// x\n" * 500_000)
    target = tmp_path / "edit.cpp"
    target.write_text("void Edit::Run() {}\n")
    assert [p for p, _ in find_definitions(tmp_path, "Run")] == ["edit.cpp"]
    target.write_text("// moved\n\nvoid Edit::Run() {}\n")
    assert find_definitions(tmp_path, "Edit::Run")[0][1].start_line == 3


def _synthetic_tree(root: Path, count: int) -> None:
    body = "".join(f"    if (value > {i}) total += Compute{i}(value);\n" for i in range(40))
    for i in range(count):
        folder = root / "src" / f"module{i % 30}"
        folder.mkdir(parents=True, exist_ok=True)
        update = "Update" if i % 10 == 0 else "Tick"
        (folder / f"Thing{i}.cpp").write_text(
            f'#include "Thing{i}.h"\n\nvoid Thing{i}::{update}(uint32 diff)\n{{\n{body}}}\n\n'
            f"int Thing{i}::Helper(int value)\n{{\n    int total = 0;\n{body}    return total;\n}}\n")
        (folder / f"Thing{i}.h").write_text(f"class Thing{i}\n{{\npublic:\n    void {update}(uint32 diff);\n}};\n")


def test_find_definitions_is_fast_on_a_large_tree(tmp_path: Path) -> None:
    _synthetic_tree(tmp_path, 1500)  # 3,000 files
    started = time.perf_counter()
    found = find_definitions_many(tmp_path, ["Thing777::Helper", "Update"], limit=500)
    cold = time.perf_counter() - started
    assert [(p, s.qualified_name) for p, s in found["Thing777::Helper"]] == [
        ("src/module27/Thing777.cpp", "Thing777::Helper")]
    assert len(found["Update"]) == 150
    assert cold < 20, f"cold search took {cold:.1f} s"
