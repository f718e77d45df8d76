"""A plain PyTorch fine-tuning loop for token classification.

Written out rather than using transformers' Trainer so that the metric that selects the
best epoch is seqeval's entity-level F1 on word-first sub-tokens, computed the same way
at training and evaluation time, and so each epoch reports through one callback that
the caller routes to MLflow (Trainer would open its own MLflow run).
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from lepton.corpus.records import Record
from lepton.ner.alignment import IGNORE, Encoded, encode


@dataclass
class TrainConfig:
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    max_length: int = 256
    seed: int = 13

    def to_params(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    dev: dict = field(default_factory=dict)
    alignment: dict = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def encode_all(tokenizer, records: list[Record], label2id: dict[str, int], max_length: int):
    encoded = [encode(tokenizer, r.text, r.spans, label2id, max_length) for r in records]
    report = {
        "spans": sum(len(r.spans) for r in records),
        "misaligned": sum(len(e.misaligned) for e in encoded),
        "truncated": sum(len(e.truncated) for e in encoded),
    }
    return encoded, report


def _batches(encoded: list[Encoded], batch_size: int, rng: random.Random | None):
    import torch

    order = list(range(len(encoded)))
    if rng is not None:
        rng.shuffle(order)
    for i in range(0, len(order), batch_size):
        chunk = [encoded[j] for j in order[i:i + batch_size]]
        width = max(len(e.input_ids) for e in chunk)

        def pad(seq, value):
            return seq + [value] * (width - len(seq))

        yield {
            "input_ids": torch.tensor([pad(e.input_ids, 0) for e in chunk]),
            "attention_mask": torch.tensor([pad(e.attention_mask, 0) for e in chunk]),
            "labels": torch.tensor([pad(e.labels, IGNORE) for e in chunk]),
        }


def predict_tags(model, encoded: list[Encoded], id2label: dict[int, str], batch_size: int = 32,
                 with_entropy: bool = False):
    """Word-level predicted tags (and per-word confidence) for each encoded document; with
    `with_entropy`, also each word's normalised entropy (0 sure, 1 uniform), which is what
    ranks tasks for annotators."""
    import math

    import torch

    model.eval()
    tags, scores, entropies = [], [], []
    with torch.no_grad():
        for i in range(0, len(encoded), batch_size):
            chunk = encoded[i:i + batch_size]
            batch = next(_batches(chunk, len(chunk), None))
            probs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.softmax(-1)
            conf, best = probs.max(-1)
            ent = -(probs * probs.clamp_min(1e-12).log()).sum(-1) / math.log(probs.shape[-1])
            for k, e in enumerate(chunk):
                tags.append([id2label[int(best[k, t])] for t in e.word_starts])
                scores.append([float(conf[k, t]) for t in e.word_starts])
                entropies.append([float(ent[k, t]) for t in e.word_starts])
    return (tags, scores, entropies) if with_entropy else (tags, scores)


def evaluate(model, encoded: list[Encoded], id2label: dict[int, str]) -> dict:
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    gold = [[id2label[e.labels[t]] for t in e.word_starts] for e in encoded]
    pred, _ = predict_tags(model, encoded, id2label)
    if not any(gold):
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "per_label": {}}
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    per_label = {k: {m: float(v[m]) for m in ("precision", "recall", "f1-score")}
                 for k, v in report.items() if "avg" not in k}
    return {
        "precision": float(precision_score(gold, pred, zero_division=0)),
        "recall": float(recall_score(gold, pred, zero_division=0)),
        "f1": float(f1_score(gold, pred, zero_division=0)),
        "per_label": per_label,
    }


def train(model, tokenizer, train_records: list[Record], dev_records: list[Record],
          labels: list[str], cfg: TrainConfig,
          on_epoch: Callable[[int, dict], None] | None = None,
          progress: Callable[[str], None] | None = None) -> TrainResult:
    import torch
    from transformers import get_linear_schedule_with_warmup

    seed_everything(cfg.seed)
    label2id = {l: i for i, l in enumerate(labels)}
    id2label = dict(enumerate(labels))
    train_enc, train_report = encode_all(tokenizer, train_records, label2id, cfg.max_length)
    dev_enc, dev_report = encode_all(tokenizer, dev_records, label2id, cfg.max_length)
    steps_per_epoch = math.ceil(len(train_enc) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * cfg.warmup_ratio), total)
    rng = random.Random(cfg.seed)
    best_f1, best_epoch, best_state = -1.0, 0, None
    result = TrainResult(best_epoch=0, alignment={"train": train_report, "dev": dev_report})
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        loss_sum, n = 0.0, 0
        for step, batch in enumerate(_batches(train_enc, cfg.batch_size, rng), start=1):
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            loss_sum += loss.item()
            n += 1
            if progress and (step % 20 == 0 or step == steps_per_epoch):
                progress(f"epoch {epoch}/{cfg.epochs} step {step}/{steps_per_epoch} loss {loss_sum / n:.4f}")
        dev = evaluate(model, dev_enc, id2label)
        metrics = {"train_loss": loss_sum / max(n, 1), "dev_precision": dev["precision"],
                   "dev_recall": dev["recall"], "dev_f1": dev["f1"]}
        result.history.append({"epoch": epoch, **metrics})
        if on_epoch:
            on_epoch(epoch, metrics)
        if dev["f1"] > best_f1:
            best_f1, best_epoch = dev["f1"], epoch
            best_state = copy.deepcopy(model.state_dict())
            result.dev = dev
    if best_state is not None:
        model.load_state_dict(best_state)
    result.best_epoch = best_epoch
    return result
