"""Training throughput and test entity F1 of three recipes on the same data, base encoder,
epochs, batch size and learning rate, in one run:

  (a) Lepton's trainer (length-grouped batches, dynamic padding, first-sub-token labels);
  (b) the canonical Hugging Face recipe: `Trainer` + `DataCollatorForTokenClassification`,
      first-sub-token alignment from `word_ids()`;
  (c) the naive recipe: every sentence padded to 128 tokens, word tags laid on word-piece
      positions (word i on token i+1) without alignment, read back the same way.

    .venv/bin/python bench/bench_trainer.py --docs 1200 --epochs 2 --base minilm

Throughput is training examples (documents of 1-3 sentences) per second of optimisation,
without evaluation. F1 is seqeval strict IOB2 over words on the same test documents.
Goal (issue 7): (a) >= 1.3x (b) at an F1 within 0.5 point or better, and >= 3x (c).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lepton.annotation.schema import load_schema  # noqa: E402
from lepton.corpus.sample import sample_records  # noqa: E402
from lepton.ner.alignment import IGNORE, encode  # noqa: E402
from lepton.ner.config import TrainConfig  # noqa: E402
from lepton.ner.encoders import load_encoder  # noqa: E402
from lepton.ner.evaluation import evaluate_tags  # noqa: E402
from lepton.ner.train import encode_all, evaluate, seed_everything, train  # noqa: E402

LABELS = load_schema().bio_tags()
LABEL2ID = {l: i for i, l in enumerate(LABELS)}
ID2LABEL = dict(enumerate(LABELS))


def words_and_tags(tokenizer, rec):
    enc = encode(tokenizer, rec.text, rec.spans, LABEL2ID, 512)
    return [rec.text[s:e] for s, e in enc.word_spans], enc.word_labels


def lepton_recipe(base, train_recs, dev_recs, test_recs, epochs, batch, lr, seed):
    seed_everything(seed)
    tok, model = load_encoder(base, [r.text for r in train_recs], LABELS)
    cfg = TrainConfig(epochs=epochs, patience=epochs, batch_size=batch, learning_rate=lr, seed=seed, max_length=128)
    result = train(model, tok, train_recs, dev_recs, LABELS, cfg)
    test_enc, _ = encode_all(tok, test_recs, LABEL2ID, cfg)
    return len(train_recs) * epochs / result.train_seconds, evaluate(model, test_enc, ID2LABEL)["f1"]


def hf_recipe(base, train_recs, test_recs, epochs, batch, lr, seed):
    from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments

    seed_everything(seed)
    tok, model = load_encoder(base, [r.text for r in train_recs], LABELS)
    rows = []
    for rec in train_recs:
        words, tags = words_and_tags(tok, rec)
        enc = tok(words, is_split_into_words=True, truncation=True, max_length=128)
        labels, prev = [], None
        for wid in enc.word_ids():
            labels.append(IGNORE if wid is None or wid == prev else tags[wid])
            prev = wid
        rows.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels})
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=batch, num_train_epochs=epochs,
                                 learning_rate=lr, weight_decay=0.01, max_grad_norm=1.0,
                                 warmup_steps=int(0.1 * epochs * ((len(rows) + batch - 1) // batch)),
                                 report_to="none", save_strategy="no", eval_strategy="no", logging_strategy="no",
                                 seed=seed, use_cpu=True, dataloader_num_workers=0, disable_tqdm=True)
        trainer = Trainer(model=model, args=args, train_dataset=rows,
                          data_collator=DataCollatorForTokenClassification(tok))
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
    test_enc, _ = encode_all(tok, test_recs, LABEL2ID, TrainConfig(max_length=128))
    return len(train_recs) * epochs / seconds, evaluate(model, test_enc, ID2LABEL)["f1"]


def naive_recipe(base, train_recs, test_recs, epochs, batch, lr, seed):
    import torch
    from transformers import get_linear_schedule_with_warmup

    seed_everything(seed)
    tok, model = load_encoder(base, [r.text for r in train_recs], LABELS)

    def tensors(recs):
        ids, masks, labels, gold = [], [], [], []
        for rec in recs:
            words, tags = words_and_tags(tok, rec)
            enc = tok(rec.text, padding="max_length", truncation=True, max_length=128)
            lab = [IGNORE] * 128
            for i, t in enumerate(tags[:126]):
                lab[i + 1] = t  # word i on token i+1, whatever the word pieces are
            ids.append(enc["input_ids"])
            masks.append(enc["attention_mask"])
            labels.append(lab)
            gold.append([ID2LABEL[t] for t in tags])
        return torch.tensor(ids), torch.tensor(masks), torch.tensor(labels), gold

    ids, masks, labels, _ = tensors(train_recs)
    steps = epochs * ((len(train_recs) + batch - 1) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * steps), steps)
    rng = random.Random(seed)
    model.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = list(range(len(train_recs)))
        rng.shuffle(order)
        for i in range(0, len(order), batch):
            b = order[i:i + batch]
            loss = model(input_ids=ids[b], attention_mask=masks[b], labels=labels[b]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
    seconds = time.perf_counter() - t0
    model.eval()
    t_ids, t_masks, _, gold = tensors(test_recs)
    with torch.no_grad():
        pred_ids = model(input_ids=t_ids, attention_mask=t_masks).logits.argmax(-1).tolist()
    pred = [[ID2LABEL[pred_ids[d][i + 1]] if i < 126 else "O" for i in range(len(g))] for d, g in enumerate(gold)]
    return len(train_recs) * epochs / seconds, evaluate_tags(gold, pred)["f1"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--base", default="minilm")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    recs = sample_records(args.docs, seed=args.seed)
    n = len(recs)
    train_recs, dev_recs, test_recs = recs[: n * 8 // 10], recs[n * 8 // 10: n * 9 // 10], recs[n * 9 // 10:]
    out = {}
    common = (args.epochs, args.batch, args.lr, args.seed)
    out["lepton"] = lepton_recipe(args.base, train_recs, dev_recs, test_recs, *common)
    out["hf_trainer"] = hf_recipe(args.base, train_recs, test_recs, *common)
    out["naive_pad128"] = naive_recipe(args.base, train_recs, test_recs, *common)
    for name, (sps, f1) in out.items():
        print(f"{name:>13}: {sps:7.1f} examples/s  test entity F1 {f1:.4f}")
    a, b, c = out["lepton"], out["hf_trainer"], out["naive_pad128"]
    print(f"lepton vs HF Trainer: {a[0] / b[0]:.2f}x throughput, F1 {100 * (a[1] - b[1]):+.2f} points; "
          f"vs naive: {a[0] / c[0]:.2f}x, F1 {100 * (a[1] - c[1]):+.2f} points")
    if args.json:
        args.json.write_text(json.dumps({k: {"examples_per_s": v[0], "test_f1": v[1]} for k, v in out.items()}))


if __name__ == "__main__":
    main()
