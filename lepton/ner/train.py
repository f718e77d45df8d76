"""A PyTorch fine-tuning loop for token classification, on one CPU or many GPUs.

Written out rather than using transformers' Trainer for four reasons the benchmark
measures or the tests check: batches are grouped by token length and padded only to
their longest window; the loss is normalised by the global number of labelled words, so
N DistributedDataParallel processes take exactly the step one process would on the same
global batch; the metric that selects the best epoch is seqeval's strict entity F1 on
words, computed the same way at training and evaluation time; and each step and epoch
reports through callbacks the caller routes to MLflow (Trainer would open its own run).
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from lepton.corpus.records import Record
from lepton.failpoints import failpoint
from lepton.ner.alignment import IGNORE, Encoded, encode
from lepton.ner.batching import collate, length_grouped, shard
from lepton.ner.config import TrainConfig
from lepton.ner.evaluation import evaluate_tags


def default_learning_rate(num_parameters: int) -> float:
    """Measured on the sample corpora (bench/bench_defaults.py): a randomly initialised
    encoder of a few million parameters needs a far larger step than a pretrained one,
    and larger pretrained encoders a smaller one."""
    if num_parameters < 5_000_000:
        return 3e-3
    if num_parameters < 60_000_000:
        return 1e-4
    return 3e-5




@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass
class TrainResult:
    best_epoch: int
    learning_rate: float = 0.0
    precision: str = "fp32"
    stopped_early: bool = False
    history: list[dict] = field(default_factory=list)
    dev: dict = field(default_factory=dict)
    alignment: dict = field(default_factory=dict)
    train_windows: int = 0
    train_seconds: float = 0.0  # time in optimisation steps (dev evaluation excluded)


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def encode_all(tokenizer, records: list[Record], label2id: dict[str, int], cfg: TrainConfig):
    encoded = [encode(tokenizer, r.text, r.spans, label2id, cfg.max_length, cfg.stride, cfg.label_subtokens)
               for r in records]
    report = {
        "spans": sum(len(r.spans) for r in records),
        "misaligned": sum(len(e.misaligned) for e in encoded),
        "windows": sum(len(e.windows) for e in encoded),
        "documents_windowed": sum(len(e.windows) > 1 for e in encoded),
    }
    return encoded, report


def resolve_precision(requested: str, device: str) -> str:
    import torch

    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def _autocast(precision: str, device: str):
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def predict_words(model, encoded: list[Encoded], id2label: dict[int, str], batch_size: int = 32,
                  device: str = "cpu", precision: str = "fp32"):
    """Per document: word tags, each word's confidence and its normalised entropy (0 sure,
    1 uniform). `model` may be a list of models sharing the tokenizer: their token
    probabilities are averaged (an ensemble). A word seen in two windows is read from the one where it is furthest from
    an edge, so it has context on both sides."""
    import torch

    models = list(model) if isinstance(model, (list, tuple)) else [model]  # several: probabilities averaged
    flat = [(d, w) for d, e in enumerate(encoded) for w in range(len(e.windows))]
    lengths = [len(encoded[d].windows[w].input_ids) for d, w in flat]
    best = [[(-1, 0, 0.0, 0.0)] * len(e.word_spans) for e in encoded]
    for m in models:
        m.eval()
    with torch.no_grad():
        for batch in length_grouped(lengths, batch_size, None):
            wins = [encoded[flat[i][0]].windows[flat[i][1]] for i in batch]
            t = collate(wins)
            ids, mask = t["input_ids"].to(device), t["attention_mask"].to(device)
            probs = 0
            for m in models:
                with _autocast(precision, device):
                    logits = m(input_ids=ids, attention_mask=mask).logits
                probs = probs + logits.float().softmax(-1)
            probs = probs / len(models)
            conf, arg = probs.max(-1)
            ent = -(probs * probs.clamp_min(1e-12).log()).sum(-1) / math.log(probs.shape[-1])
            conf, arg, ent = conf.cpu().tolist(), arg.cpu().tolist(), ent.cpu().tolist()
            for k, i in enumerate(batch):
                d, win = flat[i][0], wins[k]
                last = len(win.input_ids) - 1
                for word, tok in win.positions:
                    centrality = min(tok, last - tok)
                    if centrality > best[d][word][0]:
                        best[d][word] = (centrality, arg[k][tok], conf[k][tok], ent[k][tok])
    tags = [[id2label[b[1]] for b in doc] for doc in best]
    scores = [[b[2] for b in doc] for doc in best]
    entropies = [[b[3] for b in doc] for doc in best]
    return tags, scores, entropies


def evaluate(model, encoded: list[Encoded], id2label: dict[int, str], records: list[Record] | None = None,
             device: str = "cpu", precision: str = "fp32") -> dict:
    gold = [[id2label[i] for i in e.word_labels] for e in encoded]
    pred, _, _ = predict_words(model, encoded, id2label, device=device, precision=precision)
    return evaluate_tags(gold, pred, records)


def _loss(model, windows, n_words: int, world: int, precision: str, device: str):
    """Summed token cross-entropy over this rank's windows / labelled words in the global
    batch, times the world size (DDP averages gradients over ranks): the gradient one
    process would compute on the whole global batch."""
    import torch

    t = collate(windows)
    with _autocast(precision, device):
        logits = model(input_ids=t["input_ids"].to(device), attention_mask=t["attention_mask"].to(device)).logits
    loss_sum = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), t["labels"].to(device).flatten(),
                                                 ignore_index=IGNORE, reduction="sum")
    return loss_sum * world / max(n_words, 1), loss_sum.detach()


def train(model, tokenizer, train_records: list[Record], dev_records: list[Record],
          labels: list[str], cfg: TrainConfig,
          on_epoch: Callable[[int, dict], None] | None = None,
          on_step: Callable[[int, dict], None] | None = None,
          progress: Callable[[str], None] | None = None,
          dist: Distributed | None = None, progress_bar: bool = False) -> TrainResult:
    import time

    import torch
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

    dist = dist or Distributed()
    seed_everything(cfg.seed)
    label2id = {l: i for i, l in enumerate(labels)}
    id2label = dict(enumerate(labels))
    train_enc, train_report = encode_all(tokenizer, train_records, label2id, cfg)
    dev_enc, dev_report = encode_all(tokenizer, dev_records, label2id, cfg)
    windows = [w for e in train_enc for w in e.windows]
    lengths = [len(w.input_ids) for w in windows]
    words = [sum(l != IGNORE for l in w.labels) for w in windows]
    precision = resolve_precision(cfg.precision, dist.device)
    lr = cfg.learning_rate or default_learning_rate(sum(p.numel() for p in model.parameters()))
    if cfg.dropout is not None:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = cfg.dropout
    model.to(dist.device)
    net = model
    if dist.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=None if dist.device == "cpu" else [dist.device])
    steps_per_epoch = math.ceil(math.ceil(len(windows) / cfg.batch_size) / cfg.grad_accumulation)
    total = steps_per_epoch * cfg.epochs
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    # the fused kernel (CPU and CUDA), as transformers' Trainer uses on this torch
    optimizer = torch.optim.AdamW(groups, lr=lr, fused=True)
    make_schedule = get_cosine_schedule_with_warmup if cfg.scheduler == "cosine" else get_linear_schedule_with_warmup
    scheduler = make_schedule(optimizer, int(total * cfg.warmup_ratio), total)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    rng = random.Random(cfg.seed)
    best_f1, best_epoch, best_state, since_best = -1.0, 0, None, 0
    result = TrainResult(best_epoch=0, learning_rate=lr, precision=precision, train_windows=len(windows),
                         alignment={"train": train_report, "dev": dev_report})
    step, started, eval_seconds = 0, time.perf_counter(), 0.0
    bar = tqdm(total=total, desc="training", unit="step", disable=not (progress_bar and dist.main))
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        loss_sum, word_sum = 0.0, 0
        batches = length_grouped(lengths, cfg.batch_size, rng, cfg.length_grouping)
        for b, batch in enumerate(batches, start=1):
            mine = shard(batch, dist.rank, dist.world)
            n_words = sum(words[i] for i in batch)
            boundary = b % cfg.grad_accumulation == 0 or b == len(batches)
            # a rank with no example in a short last batch still joins DDP's all-reduce, with a zero loss
            scale = 1.0 if mine else 0.0
            sync = contextlib.nullcontext() if boundary or dist.world == 1 else net.no_sync()
            with sync:
                loss, raw = _loss(net, [windows[i] for i in (mine or batch[:1])], n_words, dist.world, precision,
                                  dist.device)
                loss = loss * scale / cfg.grad_accumulation
                (scaler.scale(loss) if scaler else loss).backward()
            loss_sum += float(raw) * scale
            word_sum += sum(words[i] for i in mine)
            if not boundary:
                continue
            if scaler:
                scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            failpoint("train.step")
            bar.update(1)
            if step % cfg.log_every == 0 or b == len(batches):
                metrics = {"train_loss_step": loss_sum / max(word_sum, 1), "learning_rate": scheduler.get_last_lr()[0]}
                if on_step and dist.main:
                    on_step(step, metrics)
                if progress and dist.main:
                    progress(f"epoch {epoch}/{cfg.epochs} step {step - (epoch - 1) * steps_per_epoch}/"
                             f"{steps_per_epoch} loss {metrics['train_loss_step']:.4f}")
        if dist.world > 1:  # the epoch's loss over every rank's share, as one process would see it
            totals = torch.tensor([loss_sum, float(word_sum)], dtype=torch.float64, device=dist.device)
            torch.distributed.all_reduce(totals)
            loss_sum, word_sum = float(totals[0]), int(totals[1])
        eval_started = time.perf_counter()
        dev = evaluate(model, dev_enc, id2label, dev_records, dist.device, precision) if dist.main else None
        if dist.world > 1:
            shared = [dev]
            torch.distributed.broadcast_object_list(shared, src=0)
            dev = shared[0]
        eval_seconds += time.perf_counter() - eval_started
        metrics = {"train_loss": loss_sum / max(word_sum, 1), "dev_precision": dev["precision"],
                   "dev_recall": dev["recall"], "dev_f1": dev["f1"]}
        result.history.append({"epoch": epoch, "step": step, **metrics})
        if on_epoch and dist.main:
            on_epoch(epoch, metrics)
        bar.set_postfix(dev_f1=round(dev["f1"], 4))
        if progress and dist.main:
            progress(f"epoch {epoch}: train loss {metrics['train_loss']:.4f}, dev entity F1 {dev['f1']:.4f}")
        if dev["f1"] > best_f1:
            best_f1, best_epoch, since_best = dev["f1"], epoch, 0
            best_state = copy.deepcopy(model.state_dict())
            result.dev = dev
        else:
            since_best += 1
            if since_best >= cfg.patience:
                result.stopped_early = epoch < cfg.epochs
                break
    bar.close()
    result.train_seconds = time.perf_counter() - started - eval_seconds  # optimisation only, not dev scoring
    if best_state is not None:
        model.load_state_dict(best_state)
    result.best_epoch = best_epoch
    return result
