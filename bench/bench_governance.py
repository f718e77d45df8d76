"""The governance pass (parse + clean + PII + classification) against a bare
`pandas.read_json(lines=True)` of the same file, in the same run.

    .venv/bin/python bench/bench_governance.py --docs 100000 1000000

Each measurement runs in its own child process so its peak memory (ru_maxrss) is its own.
Goal (issue 3): the whole governance pass within 4x the bare parse at 1M documents, with
memory flat (the same peak at 100k and 1M).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
from pathlib import Path
which, path, tmp = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
t = time.perf_counter()
if which == "pandas":
    import pandas as pd
    n = len(pd.read_json(path, lines=True))
else:
    from lepton.corpus.ingest import ingest_folder
    from lepton.crypto.fields import FieldCipher
    from lepton.crypto.keyring import Keyring
    from lepton.governance.pii import policy_detector
    from lepton.governance.policy import Policy
    from lepton.governance.stages import apply_policy, clean_batch, detect_batch
    from lepton.workspace import Layout, record_ids
    ring = Keyring(tmp / "keyring.json", bytes(32))
    cipher = FieldCipher(ring, "bench")
    policy = Policy.load(Path(sys.argv[4]))
    ids = record_ids(Layout(tmp / "ws"), ring)  # keyed, as in a new workspace
    rep = ingest_folder(path.parent, tmp / "raw.jsonl", tmp / "q.jsonl", protect=cipher.encrypt, ids=ids)
    clean_batch(tmp / "raw.jsonl", tmp / "clean.jsonl", tmp / "q2.jsonl", 100_000, protect=cipher.encrypt)
    detect_batch(tmp / "clean.jsonl", tmp / "pii.jsonl", policy_detector(policy))  # as the pipeline runs it
    apply_policy(tmp / "clean.jsonl", tmp / "pii.jsonl", tmp / "gov.jsonl", policy, cipher)
    n = rep.records_in
print(json.dumps({"n": n, "seconds": time.perf_counter() - t}))
"""


def child(which: str, path: Path, tmp: Path, policy: Path) -> dict:
    """Runs one side under GNU time for its own peak resident memory."""
    out = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", sys.executable, "-c", CHILD, which, str(path),
                          str(tmp), str(policy)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = int(out.stderr.rsplit("MAXRSS ", 1)[1].split()[0]) / 1024
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    repo = Path(__file__).resolve().parent.parent
    from lepton.corpus.sample import write_sample

    print("| docs | file MB | pandas.read_json s | pandas peak MB | governance s | docs/s | governance peak MB | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.docs:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "landing").mkdir()
            write_sample(tmp / "landing", n, seed=args.seed, conll_share=0.0)
            path = tmp / "landing" / f"sample-{args.seed}.jsonl"
            ref = child("pandas", path, tmp, repo / "policy" / "sensitivity.yaml")
            ours = child("lepton", path, tmp, repo / "policy" / "sensitivity.yaml")
            print(f"| {n:,} | {path.stat().st_size / 1e6:.0f} | {ref['seconds']:.1f} | {ref['peak_rss_mb']:.0f} | "
                  f"{ours['seconds']:.1f} | {n / ours['seconds']:,.0f} | {ours['peak_rss_mb']:.0f} | "
                  f"{ours['seconds'] / ref['seconds']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
