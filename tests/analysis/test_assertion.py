"""Assertion messages alone: a Server.log excerpt or an issue title is still a crash to file."""

from __future__ import annotations

from crashfix.analysis.analyze import analyze_text
from crashfix.analysis.models import SourceFormat
from crashfix.analysis.parsers.assertion import find_assertion


def test_trinitycore_assertion_message() -> None:
    text = """Assertion message:
C:\\Trinity\\src\\server\\game\\Entities\\Creature\\Creature.cpp:1597 in Creature::LoadFromDB ASSERTION FAILED:
  m_respawnCompatibilityMode || sPoolMgr->IsPartOfAPool<Creature>(spawnId)
Creature (SpawnID 202796) trying to load in inactive spawn group.
"""
    report = analyze_text(text)
    assert report.format is SourceFormat.ASSERTION
    assert report.assertion is not None
    assert report.assertion.condition == "m_respawnCompatibilityMode || sPoolMgr->IsPartOfAPool<Creature>(spawnId)"
    assert report.blamed_frame is not None
    assert (report.blamed_frame.function, report.blamed_frame.line) == ("Creature::LoadFromDB", 1597)
    assert report.signature is not None and report.signature.crash_class == "assert"


def test_azerothcore_assertion_box() -> None:
    info = find_assertion("""#----------------------------------------------------------------------#

>> ASSERTION FAILED

# Location: /srv/ac/src/server/game/Entities/Object/Object.cpp:319
# Function: Object::GetFloatValue
# Condition: index < m_valuesCount
#----------------------------------------------------------------------#""")
    assert info is not None
    assert (info.file, info.line, info.function, info.condition) == (
        "/srv/ac/src/server/game/Entities/Object/Object.cpp", 319, "Object::GetFloatValue", "index < m_valuesCount")


def test_gdb_trinity_assert_frame_names_the_real_location() -> None:
    info = find_assertion('Trinity::Assert (file=0x279e711 "/home/tc/src/server/game/Entities/Object/Object.h", '
                          'line=363, function=0x27cf9d6 "AddToGrid", message=0x27cf9e0 "!IsInGrid()")')
    assert info is not None
    assert (info.file, info.line, info.function, info.condition) == (
        "/home/tc/src/server/game/Entities/Object/Object.h", 363, "AddToGrid", "!IsInGrid()")
