"""Validation of 1M spans: the annotations contract through Great Expectations against the
same rules written as vectorised pandas, on the same frame, in the same run; and the load
time of the Dagster Definitions with and without GX imported.

    .venv/bin/python bench/bench_validation.py --spans 1000000

Goal (issue 5): GX within 3x the pandas version. Both must agree on every rule's failing
row count (0.1% of spans are planted bad, spread over the rules), or the run stops.
"""

from __future__ import annotations

import argparse
import importlib
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lepton.annotation.schema import load_schema  # noqa: E402
from lepton.corpus.records import Record, Span  # noqa: E402
from lepton.corpus.sample import SampleCorpus  # noqa: E402
from lepton.validation.gx_suite import spans_frame, validate_frame  # noqa: E402
from lepton.validation.spans import overlapping  # noqa: E402

SUITE = REPO / "expectations" / "annotations.json"
LABELS = load_schema().names


def corpus(n_spans: int, seed: int = 5) -> tuple[list[Record], set]:
    rng = random.Random(seed)
    out, total, i = [], 0, 0
    for text, spans in SampleCorpus(seed).documents(10 ** 9):
        spans = list(spans)
        if spans and rng.random() < 0.004:  # about 0.1% of spans broken, one rule each
            k = rng.randrange(len(spans))
            s = spans[k]
            spans[k] = rng.choice([
                Span(s.start, len(text) + 5, s.label, s.text),          # outside the text
                Span(s.start, s.end, "PERSON", s.text),                 # label not in the schema
                Span(s.start, s.end, s.label, "x" + (s.text or "")),    # text differs
                Span(max(0, s.start - 1), s.end, s.label, text[max(0, s.start - 1):s.end]),  # edge whitespace
            ])
            if len(spans) > 1 and rng.random() < 0.5:
                spans.append(Span(spans[0].start, spans[0].end, spans[0].label, spans[0].text))  # overlap
        out.append(Record(f"r{i}", "bench.jsonl", i + 1, text, tuple(spans)))
        total += len(spans)
        i += 1
        if total >= n_spans:
            # a few spans reported off token boundaries, as the annotation batch's report would
            return out, {(r.record_id, r.spans[0].start, r.spans[0].end) for r in out[::997] if r.spans}


def pandas_rules(df) -> dict[str, int]:
    """The contract's rules, vectorised: failing row count per rule."""
    start, end, n = df["start"], df["end"], df["text_len"]
    overlap = overlapping(df["record_id"], df["start"], df["end"])
    st = df["span_text"].fillna("").astype(str)
    return {
        "non-empty": int(len(df) == 0),
        "labels in the current schema": int((~df["label"].isin(LABELS)).sum()),
        "unique span ids": int(df["span_id"].duplicated(keep=False).sum()),
        "every span has a label": int(df["label"].isna().sum()),
        "inside text": int((~((start >= 0) & (start < end) & (end <= n))).sum()),
        "span text equals text[start:end]": int((~(df["text_at_span"].notna() & (df["span_text"] == df["text_at_span"]))).sum()),
        "no overlapping spans": int(overlap.sum()),
        "no edge whitespace": int((st != st.str.strip()).sum()),
        "aligned to tokens": int((~df["aligned"].astype(bool)).sum()),
    }


def load_time(with_gx: bool, repeat: int = 3) -> float:
    code = ("import time, sys; t = time.perf_counter(); "
            + ("import great_expectations; " if with_gx else "")
            + "import pipelines.definitions; "
            "assert ('great_expectations' in sys.modules) == %r; print(time.perf_counter() - t)" % with_gx)
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=REPO, capture_output=True, text=True,
                             check=True)
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return min(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    args = ap.parse_args()
    records, unaligned = corpus(args.spans)
    t0 = time.perf_counter()
    df = spans_frame(records, unaligned)
    frame_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    want = pandas_rules(df)
    pandas_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    importlib.import_module("great_expectations")  # timed on its own
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result, _ = validate_frame(df, SUITE, LABELS)
    gx_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    result, _ = validate_frame(df, SUITE, LABELS)
    gx_s = time.perf_counter() - t0
    got = {(r.expectation_config.meta or {}).get("rule"): int((r.result or {}).get("unexpected_count") or 0)
           for r in result.results}
    gx_counts = sorted(v for v in got.values())
    pd_counts = sorted(want.values())
    if gx_counts != pd_counts:
        raise SystemExit(f"GX and pandas disagree: {got} vs {want}")
    print(f"{len(df):,} spans in {len(records):,} documents; frame built in {frame_s:.1f} s")
    print(f"failing rows per rule (both agree): {want}")
    print(f"pandas, vectorised: {pandas_s:.2f} s")
    print(f"Great Expectations: {gx_s:.2f} s  ({gx_s / pandas_s:.2f}x pandas); the first run in a process "
          f"{gx_first:.2f} s ({gx_first / pandas_s:.2f}x), after importing GX ({import_s:.2f} s)")
    without, with_gx = load_time(False), load_time(True)
    print(f"Definitions load: {without:.2f} s without GX imported, {with_gx:.2f} s with it "
          f"(GX adds {with_gx - without:.2f} s)")


if __name__ == "__main__":
    main()
