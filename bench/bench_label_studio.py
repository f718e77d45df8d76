"""Label Studio: server start time, and sync throughput against the bare SDK listing.

Starts a fresh server (cold start: first migrations) in a temporary folder, restarts it
(warm start), creates a project with N tasks of one annotation each through the API, then
times, in the same run: (a) the bare SDK call that lists every task with its annotations
(the reference: what a hand-written poller would do on every tick); (b) Lepton's first
sync (that listing + fingerprints + a content-hashed snapshot written to disk); (c) a
later sync with nothing new (an index of annotation ids and update times only); (d) a
later sync after 1% of the annotations were edited (index + those tasks in full).

    .venv/bin/python bench/bench_label_studio.py --tasks 2000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lepton.annotation.convert import to_result  # noqa: E402
from lepton.annotation.schema import load_schema  # noqa: E402
from lepton.annotation.studio import Studio  # noqa: E402
from lepton.annotation.sync import SnapshotStore, sync  # noqa: E402
from lepton.corpus.sample import SampleCorpus  # noqa: E402
from tests.label_studio import Server, _free_port  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lepton-bench-ls-"))
    srv = Server(tmp / "ls", _free_port(), owned=True)
    try:
        cold = srv.start()
        srv.stop()
        warm = srv.start()
        studio = Studio(srv.url, srv.token)
        project = studio.ensure_project("bench", load_schema()).id
        corpus = SampleCorpus(3)
        tasks = []
        for i, (text, spans) in enumerate(corpus.documents(args.tasks)):
            tasks.append({"data": {"text": text, "record_id": f"r{i}", "record_batch": "b", "source": "s", "line": i},
                          "annotations": [{"result": to_result(spans), "ground_truth": False}]})
        t0 = time.perf_counter()
        studio.push(project, tasks)
        push_s = time.perf_counter() - t0
        bare, first, nochange, some = [], [], [], []
        edit = max(1, args.tasks // 100)
        for r in range(args.repeat):
            t0 = time.perf_counter()
            listed = [t.model_dump(mode="json") for t in
                      studio.client.tasks.list(project=project, fields="all", page_size=1000)]
            bare.append(time.perf_counter() - t0)
            store = SnapshotStore(tmp / f"snap{r}")
            t0 = time.perf_counter()
            snap = sync(studio, project, store, None)
            first.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert sync(studio, project, store, snap.snapshot_id) is None
            nochange.append(time.perf_counter() - t0)
            for t in listed[r * edit:(r + 1) * edit]:
                a = t["annotations"][0]
                studio.update_annotation(a["id"], a["result"][:-1] or a["result"], task=t["id"])
            t0 = time.perf_counter()
            later = sync(studio, project, store, snap.snapshot_id)
            some.append(time.perf_counter() - t0)
            assert later.changes == {"added": 0, "updated": edit, "removed": 0}, later.changes
        n_ann = sum(len(t["annotations"]) for t in listed)
        assert snap.annotations == n_ann == args.tasks
        b, f, z, m = min(bare), min(first), min(nochange), min(some)
        print(f"label studio cold start {cold:.1f} s, warm restart {warm:.1f} s")
        print(f"push {args.tasks} tasks with annotations: {push_s:.2f} s ({args.tasks / push_s:.0f} tasks/s)")
        print(f"(a) bare SDK listing of every task: {b:.2f} s ({n_ann / b:.0f} annotations/s)")
        print(f"(b) lepton first sync: {f:.2f} s ({n_ann / f:.0f} annotations/s), {f / b:.2f}x the listing")
        print(f"(c) lepton sync, nothing new: {z:.2f} s ({n_ann / z:.0f} annotations/s checked), {z / b:.2f}x")
        print(f"(d) lepton sync, {edit} edited: {m:.2f} s ({n_ann / m:.0f} annotations/s checked), {m / b:.2f}x")
    finally:
        srv.stop()
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
