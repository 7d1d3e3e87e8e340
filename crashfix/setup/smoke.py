"""`crashfix file --dry-run`: what the uploader would file for a crash, with nothing written anywhere.

A smoke test for a new host: the same analysis `watch` runs (CDB with the configured
symbol path, else the crash log, else the minidump), then the issue's title and labels,
without a spool, a token or a request to GitHub. It shows at once whether CDB and the
symbols work: a signature of `low` quality says the stack had no symbols.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Mapping
from pathlib import Path

from crashfix.analysis.analyze import rules_for
from crashfix.analysis.render import summary
from crashfix.config import AnalysisSettings, UploaderSettings
from crashfix.errors import ParseError
from crashfix.issues.body import title_for
from crashfix.uploader.analysing import Analyser
from crashfix.uploader.spool import CrashRow
from crashfix.uploader.watcher import matches, primary_first


def crash_files(path: Path, settings: UploaderSettings) -> list[Path]:
    """`path` and its same-named siblings (a .dmp and its crash log are one crash), as `crashfix file` takes them."""
    patterns = tuple(settings.dump_patterns) + tuple(settings.text_patterns)
    siblings = [p for p in path.parent.glob(glob.escape(path.stem) + ".*") if matches(p, patterns)]
    return sorted(siblings or [path], key=primary_first)


def preview(path: Path, settings: UploaderSettings, analysis: AnalysisSettings, environ: Mapping[str, str]) -> str:
    """The analysis summary, then the issue that would be filed (or why nothing would be)."""
    files = crash_files(path, settings)
    row = CrashRow(id=0, content_hash="", directory=str(path.parent), stem=path.stem, files=[str(f) for f in files],
                   state="found", found_at=time.time(), report=None, raw=None, signature_id=None, quality=None,
                   file_seq=None, issue_number=None, attempts=0, last_error=None)
    # The uploader's own analysis; it reads only the crash's files (no spool, no GitHub).
    outcome = Analyser(settings, environ, rules_for(analysis)).analyse(row)
    lines = [f"dry run: nothing is written, GitHub is not asked ({', '.join(f.name for f in files)})"]
    lines += [f"  analysis: {note}" for note in outcome.notes]
    if outcome.report is None:
        raise ParseError(f"{path.name} would not be filed: {outcome.problem}")
    report = outcome.report
    lines += ["", summary(str(path), report), ""]
    if report.kind != "crash":
        lines.append(f"would not be filed: it is a {report.kind}, not a crash")
        return "\n".join(lines)
    labels = list(settings.labels)
    if report.signature is not None and report.signature.quality == "low":
        labels.append(settings.low_quality_label)
    where = settings.repo or "(no repository set: pass --repo or set [uploader] repo)"
    lines.append(f"would file into {where}: {title_for(report)!r}, labels {', '.join(labels)} "
                 "(or count it on the open issue with the same signature)")
    if report.signature is not None and report.signature.quality == "low":
        lines.append("the signature is of low quality: no symbols for the crashing frames. With a dump, check CDB "
                     "and the symbol path (crashfix doctor --host); keep each build's .pdb")
    return "\n".join(lines)
