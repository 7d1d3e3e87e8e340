"""Grouping quality over labelled same-crash clusters: BCubed precision, recall and F, and the pairs.

    python benchmarks/grouping.py [--shared ../shared]

Each corpus row is analysed as `crashfix analyze` does; reports are grouped by signature id
and by `crashfix.analysis.grouping.same_crash` (cut-short prefixes, unqualified names). The
gold clusters: `../shared/corpus2/MANIFEST.tsv`'s `cluster` column, and the same-crash groups
of `../shared/corpus` listed in tests/analysis/test_corpus.py; every other row is its own
cluster. Over-merge counts pairs grouped together from different gold clusters; over-split
counts pairs of one gold cluster left apart. Rows that cannot be analysed are singletons.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.analysis.analyze import analyze_path  # noqa: E402
from crashfix.analysis.grouping import group  # noqa: E402
from crashfix.analysis.models import Signature  # noqa: E402
from crashfix.errors import ParseError  # noqa: E402
from tests.analysis.test_corpus import SAME_CRASH  # noqa: E402


def gold_clusters(shared: Path) -> list[tuple[str, str]]:
    """(path, gold cluster) for every row of both corpora."""
    rows: list[tuple[str, str]] = []
    grouped = {name: f"corpus:{index}" for index, names in enumerate(SAME_CRASH) for name in names}
    with (shared / "corpus" / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            rows.append((f"corpus/{row['file']}", grouped.get(row["file"], f"corpus/{row['file']}")))
    with (shared / "corpus2" / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            cluster = (row.get("cluster") or "").strip()
            rows.append((f"corpus2/{row['file']}", f"corpus2:{cluster}" if cluster else f"corpus2/{row['file']}"))
    return rows


def bcubed(predicted: list[object], gold: list[str]) -> tuple[float, float, float]:
    """BCubed precision, recall and F over items (Amigó et al. 2009)."""
    precision = recall = 0.0
    for i in range(len(gold)):
        same_predicted = [j for j in range(len(gold)) if predicted[j] == predicted[i]]
        same_gold = [j for j in range(len(gold)) if gold[j] == gold[i]]
        correct = sum(1 for j in same_predicted if gold[j] == gold[i])
        precision += correct / len(same_predicted)
        recall += correct / len(same_gold)
    precision /= len(gold)
    recall /= len(gold)
    return precision, recall, 2 * precision * recall / (precision + recall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared material folder")
    args = parser.parse_args()
    rows = gold_clusters(args.shared)
    signatures: list[Signature | None] = []
    for path, _ in rows:
        try:
            signatures.append(analyze_path(args.shared / path).signature)
        except ParseError:
            signatures.append(None)
    readable = [(i, s) for i, s in enumerate(signatures) if s is not None]
    groups = group([s for _, s in readable])
    predicted: list[object] = [f"unread:{i}" for i in range(len(rows))]
    for (i, _), number in zip(readable, groups):
        predicted[i] = number
    gold = [cluster for _, cluster in rows]
    precision, recall, f_score = bcubed(predicted, gold)
    over_merge = [(rows[i][0], rows[j][0]) for i in range(len(rows)) for j in range(i + 1, len(rows))
                  if predicted[i] == predicted[j] and gold[i] != gold[j]]
    over_split = [(rows[i][0], rows[j][0]) for i in range(len(rows)) for j in range(i + 1, len(rows))
                  if predicted[i] != predicted[j] and gold[i] == gold[j]]
    labelled = sum(1 for cluster in set(gold) if sum(1 for g in gold if g == cluster) > 1)
    print(f"rows: {len(rows)} ({len(readable)} analysed), gold clusters with more than one row: {labelled}")
    print("grouping: signature id, then same_crash (prefix of >= 2 frames, unqualified names), good quality only")
    print(f"BCubed precision {precision:.3f}  recall {recall:.3f}  F {f_score:.3f}")
    print(f"over-merged pairs: {len(over_merge)}  over-split pairs: {len(over_split)}")
    for first, second in over_merge:
        print(f"  merged  {first} ~ {second}")
    for first, second in over_split:
        print(f"  split   {first} ~ {second}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
