"""Do the trainer's defaults need tuning? On two corpora of different character (the clean
sample corpus, and the noisy one of lepton/corpus/noisy.py: short informal texts,
inconsistent casing, a rare type), train once with every default (learning rate chosen
from the encoder's size, epochs bounded by early stopping) and once per point of a
learning-rate x batch-size grid, chosen by dev F1; report test entity F1 of both.

    .venv/bin/python bench/bench_defaults.py --docs 1000 --base minilm

Goal (issue 7): defaults within 2 F1 points of the tuned run on both corpora.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lepton.annotation.schema import load_schema  # noqa: E402
from lepton.corpus.noisy import noisy_records  # noqa: E402
from lepton.corpus.sample import sample_records  # noqa: E402
from lepton.ner.config import TrainConfig  # noqa: E402
from lepton.ner.encoders import load_encoder  # noqa: E402
from lepton.ner.train import encode_all, evaluate, seed_everything, train  # noqa: E402

LABELS = load_schema().bio_tags()


def run(base, splits, cfg: TrainConfig) -> dict:
    seed_everything(cfg.seed)
    tok, model = load_encoder(base, [r.text for r in splits["train"]], LABELS)
    res = train(model, tok, splits["train"], splits["dev"], LABELS, cfg)
    test_enc, _ = encode_all(tok, splits["test"], {l: i for i, l in enumerate(LABELS)}, cfg)
    test = evaluate(model, test_enc, dict(enumerate(LABELS)))
    return {"dev_f1": res.dev.get("f1", 0.0), "test_f1": test["f1"], "epochs_run": len(res.history),
            "best_epoch": res.best_epoch, "learning_rate": res.learning_rate, "batch_size": cfg.batch_size}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--base", default="minilm")
    ap.add_argument("--lrs", default="3e-5,1e-4,3e-4")
    ap.add_argument("--batches", default="8,32")
    ap.add_argument("--max-epochs", type=int, default=20)
    args = ap.parse_args()
    corpora = {"clean sample": sample_records(args.docs, seed=41), "noisy informal": noisy_records(args.docs, seed=43)}
    grid = list(itertools.product([float(x) for x in args.lrs.split(",")], [int(x) for x in args.batches.split(",")]))
    report = {}
    for name, recs in corpora.items():
        n = len(recs)
        splits = {"train": recs[: n * 8 // 10], "dev": recs[n * 8 // 10: n * 9 // 10], "test": recs[n * 9 // 10:]}
        default = run(args.base, splits, TrainConfig(epochs=args.max_epochs, max_length=128))
        print(f"{name}: defaults {default}", flush=True)
        trials = []
        for lr, batch in grid:
            trials.append(run(args.base, splits, TrainConfig(epochs=args.max_epochs, learning_rate=lr,
                                                             batch_size=batch, max_length=128)))
            print(f"{name}: lr {lr} batch {batch}: {trials[-1]}", flush=True)
        tuned = max(trials, key=lambda t: t["dev_f1"])
        report[name] = {"defaults": default, "tuned": tuned, "gap_points": round(100 * (tuned["test_f1"] - default["test_f1"]), 2)}
        print(f"{name}: tuned (by dev F1) test F1 {tuned['test_f1']:.4f}, defaults {default['test_f1']:.4f}, "
              f"gap {report[name]['gap_points']:+.2f} points", flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
