"""Steward queries over a lineage of 1M records: three dataset versions (900k records
each, overlapping), a training run and a model version on each, in the record ledger and
graph of lepton/lineage. Times each query against the issue's goal (under a second).

    .venv/bin/python bench/bench_lineage.py [--records 1000000] [--url sqlite:///...|postgresql+psycopg2://...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lepton.lineage.events import StageLineage  # noqa: E402
from lepton.lineage.ledger import RecordLedger  # noqa: E402
from lepton.lineage.queries import diff, downstream_of_record, upstream_of  # noqa: E402
from lepton.lineage.store import LineageStore  # noqa: E402


def timed(fn, repeat: int = 1):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--url", default=None)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lepton-lineage-bench-")
    url = args.url or f"sqlite:///{tmp}/lineage.db"
    store = LineageStore(url)
    ledger = RecordLedger(store)
    n = args.records
    ids = [f"rec-{i:08d}" for i in range(n)]
    step, width = n // 20, n * 9 // 10
    t0 = time.perf_counter()
    for v in range(3):
        chunk = ids[v * step: v * step + width]
        stage = StageLineage(store, run_id=f"run-{v}", code_version="bench")
        stage.add_dataset_version(f"v{v}", [], members={"train": chunk[: width * 8 // 10], "dev": chunk[width * 8 // 10: width * 9 // 10],
                                            "test": chunk[width * 9 // 10:]})
        stage.add_training_run(f"t{v}", f"v{v}")
        stage.add_model_version("m", v + 1, f"t{v}")
    build = time.perf_counter() - t0
    print(f"{n:,} records, {3 * width:,} memberships in 3 dataset versions on {url.split(':')[0]}: built in {build:.1f} s")
    rng = random.Random(1)
    sample = [ids[rng.randrange(n)] for _ in range(200)]
    _, down = timed(lambda: [downstream_of_record(store, ledger, r) for r in sample])
    per = down[0] / len(sample)
    print(f"downstream of a record (to every dataset and model version): {1000 * per:.1f} ms mean over 200 records")
    _, up = timed(lambda: upstream_of(store, ledger, "model_version:m/2"), 3)
    print(f"upstream of a model version (chain + record counts by split): {statistics.median(up):.3f} s median of 3")
    _, up_ids = timed(lambda: upstream_of(store, ledger, "model_version:m/2", with_records=True), 1)
    print(f"upstream of a model version with all {width:,} record ids: {up_ids[0]:.2f} s")
    d, dt = timed(lambda: diff(store, ledger, "dataset_version:v0", "dataset_version:v1"), 1)
    print(f"diff of two versions ({len(d['added']):,} added, {len(d['removed']):,} removed): {dt[0]:.2f} s")


if __name__ == "__main__":
    main()
