"""C++ symbol spellings reduced to one canonical form."""

from __future__ import annotations

import pytest

from crashfix.analysis.symbols import (
    demangle,
    is_unknown_function,
    normalize_function,
    normalize_module,
    split_symbol,
    strip_parameters,
)


@pytest.mark.parametrize(
    ("raw", "stripped", "normalized"),
    [
        ("void Foo<int>::bar(int) const", "Foo<int>::bar", "Foo<T>::bar"),
        ("Unit::DealDamage(Unit*, Unit*, unsigned int, CleanDamage const*)", "Unit::DealDamage", "Unit::DealDamage"),
        ("public: virtual void __cdecl Player::Update(unsigned int) __ptr64", "Player::Update", "Player::Update"),
        ("ByteArrayToHexStr[abi:cxx11](unsigned char const*, unsigned int, bool)",
         "ByteArrayToHexStr[abi:cxx11]", "ByteArrayToHexStr"),
        ("(anonymous namespace)::RunTestCase(std::string&)", "(anonymous namespace)::RunTestCase",
         "(anonymous namespace)::RunTestCase"),
        ("`anonymous namespace'::CrashFunction", "`anonymous namespace'::CrashFunction",
         "(anonymous namespace)::CrashFunction"),
        ("Foo::bar()::{lambda(int)#1}::operator()(int) const", "Foo::bar::{lambda(int)#1}::operator()",
         "Foo::bar::{lambda}::operator()"),
        ("Foo::bar::__l2::<lambda_1a2b3c4d>::operator()", "Foo::bar::__l2::<lambda_1a2b3c4d>::operator()",
         "Foo::bar::{lambda}::operator()"),
        ("Foo::bar()::$_3::operator()() const", "Foo::bar::$_3::operator()", "Foo::bar::{lambda}::operator()"),
        ("operator delete(void*)", "operator delete", "operator delete"),
        ("std::vector<int>::operator[](unsigned long)", "std::vector<int>::operator[]", "std::vector<T>::operator[]"),
        ("bool operator<(A const&, B const&)", "operator<", "operator<"),
        ("Foo::operator<<=(int)", "Foo::operator<<=", "Foo::operator<<="),
        ("Foo::operator bool() const", "Foo::operator bool", "Foo::operator bool"),
        ("js::gc::NewGCThing<JSString, (js::AllowGC)1>", "js::gc::NewGCThing<JSString, (js::AllowGC)1>",
         "js::gc::NewGCThing<T>"),
        ("std::thread::_Invoke<std::tuple<void (__cdecl Map::*)(unsigned int),Map *,unsigned int>,0,1,2>",
         "std::thread::_Invoke<std::tuple<void (Map::*)(unsigned int),Map *,unsigned int>,0,1,2>",
         "std::thread::_Invoke<T>"),
        ("__interceptor_cfree.localalias.0", "__interceptor_cfree.localalias.0", "__interceptor_cfree"),
        ("Spell::cast(bool) [clone .cold]", "Spell::cast", "Spell::cast"),
    ],
)
def test_names_reduce_to_one_spelling(raw: str, stripped: str, normalized: str) -> None:
    assert strip_parameters(raw) == stripped
    assert normalize_function(raw) == normalized


def test_gdb_and_msvc_spellings_of_one_function_agree() -> None:
    gdb = "Player::Update(unsigned int)"
    msvc = "public: void __cdecl Player::Update(unsigned int) __ptr64"
    wheaty = "Player::Update"
    assert normalize_function(gdb) == normalize_function(msvc) == normalize_function(wheaty)


@pytest.mark.parametrize(
    ("text", "bare_is_module", "expected"),
    [
        ("MSHTML!Ordinal101+0x3c4da", True, ("MSHTML", "Ordinal101", 0x3C4DA)),
        ("monero_wallet_gui+0xbc3489", True, ("monero_wallet_gui", None, 0xBC3489)),
        ("Eluna::OnConfigLoad+1F", False, (None, "Eluna::OnConfigLoad", 0x1F)),
        ("_o__realloc_base+60", False, (None, "_o__realloc_base", 0x60)),
        ("ntdll_77080000!__RtlUserThreadStart+0x2f", True, ("ntdll_77080000", "__RtlUserThreadStart", 0x2F)),
        ("Foo::operator+", True, (None, "Foo::operator+", None)),
        ("0x000000c4`b3ae0fc3", True, (None, None, None)),
    ],
)
def test_split_symbol(text: str, bare_is_module: bool, expected: tuple) -> None:
    assert split_symbol(text, bare_is_module) == expected


@pytest.mark.parametrize(
    ("raw", "module"),
    [("C:\\Server\\WorldServer.EXE", "worldserver"), ("/lib/x86_64-linux-gnu/libc.so.6", "libc"),
     ("ntdll_77080000", "ntdll"), ("voip-server-mumble.dll", "voip-server-mumble"), (None, None)],
)
def test_module_names_normalise(raw: str | None, module: str | None) -> None:
    assert normalize_module(raw) == module


def test_demangle_itanium_names_and_leave_others_alone() -> None:
    assert demangle("_ZN13ThreatManager19modifyThreatPercentEP4Uniti") == "ThreatManager::modifyThreatPercent(Unit*, int)"
    assert demangle("main") == "main"
    assert demangle("_Zgarbage((") == "_Zgarbage(("


@pytest.mark.parametrize("name", ["??", "Unknown", "0x7ff7a699ea3e", None, ""])
def test_unknown_functions(name: str | None) -> None:
    assert is_unknown_function(name)


def test_real_names_are_known() -> None:
    assert not is_unknown_function("Map::Update")
