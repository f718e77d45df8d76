"""Pre-annotations that follow the champion: how fast `Studio.refresh_predictions` gives
unannotated tasks already in Label Studio a new model version's predictions (issue 17 point 4),
beside the rate at which the same tasks were imported in the first place (the reference, same
run, same server).

Against a running Label Studio server (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY; `make
label-studio` starts one):

    .venv/bin/python bench/bench_refresh.py --tasks 500
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lepton.annotation.schema import load_schema  # noqa: E402
from lepton.annotation.studio import Studio  # noqa: E402
from lepton.annotation.tasks import build_tasks  # noqa: E402
from lepton.corpus.records import Record  # noqa: E402
from lepton.corpus.sample import SampleCorpus  # noqa: E402
from lepton.ner.predict import Prediction  # noqa: E402


def tasks_for(records, model_version: str, shift: float) -> list[dict]:
    """Every record predicted by `model_version`: its gold spans as the guess, with a score."""
    preds = [Prediction([{**s.to_dict(), "score": 0.9} for s in r.spans], (i * 0.37 + shift) % 1)
             for i, r in enumerate(records)]
    return build_tasks(records, "bench", "ignore", preds, model_version, "bench")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=500)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    studio = Studio(os.environ["LABEL_STUDIO_URL"], os.environ["LABEL_STUDIO_API_KEY"])
    project = studio.ensure_project(f"bench-refresh-{uuid.uuid4().hex[:8]}", load_schema()).id
    records = [Record(f"bench-{i}", "bench.jsonl", i, text, tuple(spans))
               for i, (text, spans) in enumerate(SampleCorpus(seed=3).documents(args.tasks))]
    t0 = time.perf_counter()
    pushed = studio.push(project, tasks_for(records, "bench/v1", 0.0))
    push_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    refreshed = studio.refresh_predictions(project, tasks_for(records, "bench/v2", 0.5), "bench/v2")
    refresh_s = time.perf_counter() - t0
    again = studio.refresh_predictions(project, tasks_for(records, "bench/v2", 0.5), "bench/v2")
    out = {"tasks": args.tasks, "pushed": pushed["pushed"], "refreshed": refreshed, "refreshed_again": again,
           "push_tasks_per_s": round(args.tasks / push_s, 1), "refresh_tasks_per_s": round(refreshed / refresh_s, 1),
           "refresh_vs_push": round((refreshed / refresh_s) / (args.tasks / push_s), 3)}
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
