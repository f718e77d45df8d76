"""One training job: records in, a model folder and a result out, in this process or as N
processes under `torchrun` (DistributedDataParallel: NCCL on GPUs, gloo on CPU).

The same function runs in both cases; under torchrun each rank reads its inputs itself (a
dataset version it decrypts with the keyring, or plain files), so no decrypted data is
written for the workers. Rank 0 evaluates, saves the model in Hugging Face format and
writes result.json; the caller logs it to MLflow.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lepton.annotation.schema import bio_tags
from lepton.corpus.records import Record
from lepton.ner.config import TrainConfig
from lepton.ner.encoders import load_encoder
from lepton.ner.train import Distributed, encode_all, evaluate, seed_everything, train


@dataclass
class JobSpec:
    base_encoder: str
    config: dict
    out_dir: str
    dataset_dir: str | None = None       # an encrypted dataset version (decrypted by each rank)
    files: dict = field(default_factory=dict)  # or plain JSONL files: {"train": ..., "dev": ..., "test": ...}
    nproc: int = 1
    progress_bar: bool = False
    augment: dict | None = None  # AugmentConfig fields: the train split is augmented in memory
    labels: list[str] = field(default_factory=list)  # entity labels of the model's head, in schema order

    def save(self, path: Path) -> Path:
        Path(path).write_text(json.dumps(asdict(self)))
        return Path(path)


def _records(spec: JobSpec, split: str, keyring=None) -> list[Record]:
    """A dataset version decrypts with the caller's keyring (in process) or, under torchrun,
    with the one each rank opens from settings."""
    if spec.dataset_dir:
        from lepton.datasets.version import load_split
        from lepton.settings import Settings
        from lepton.stores import keyring_for

        return load_split(Path(spec.dataset_dir), split, keyring or keyring_for(Settings.from_env()))
    from lepton.corpus.ingest import read_records

    return read_records(Path(spec.files[split]))


def _distributed() -> Distributed:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        import torch

        return Distributed(device="cuda" if torch.cuda.is_available() else "cpu")
    import torch
    import torch.distributed as tdist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        tdist.init_process_group("nccl")
        return Distributed(rank, world, f"cuda:{local}")
    tdist.init_process_group("gloo")
    return Distributed(rank, world, "cpu")


def run_job(spec: JobSpec, progress=None, keyring=None) -> dict:
    """Trains and, on rank 0, evaluates on dev and test and saves model and result."""
    import time

    import torch

    dist = _distributed()
    splits = {s: _records(spec, s, keyring) for s in ("train", "dev", "test")}
    augmentation = None
    if spec.augment:
        from lepton.ner.augment import AugmentConfig, augment

        aug = AugmentConfig(**spec.augment)
        before = len(splits["train"])
        splits["train"] = augment(splits["train"], aug)
        augmentation = {"key": aug.key(), "config": spec.augment, "train_documents_before": before,
                        "train_documents_after": len(splits["train"])}
    cfg = TrainConfig(**spec.config)
    if not spec.labels:
        raise ValueError("a training job needs its entity labels (the schema's, or the data's)")
    labels = bio_tags(spec.labels)
    seed_everything(cfg.seed)  # before the encoder: a new classification head is initialised at random
    tokenizer, model = load_encoder(spec.base_encoder, [r.text for r in splits["train"]], labels)
    steps: list[dict] = []
    started = time.perf_counter()
    result = train(model, tokenizer, splits["train"], splits["dev"], labels, cfg,
                   on_step=lambda step, m: steps.append({"step": step, **m}),
                   progress=progress or (print if dist.main else None), dist=dist,
                   progress_bar=spec.progress_bar)
    out = None
    if dist.main:
        label2id = {l: i for i, l in enumerate(labels)}
        test_enc, test_align = encode_all(tokenizer, splits["test"], label2id, cfg)
        test = evaluate(model, test_enc, dict(enumerate(labels)), splits["test"], dist.device, result.precision)
        model_dir = Path(spec.out_dir) / "model"
        model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        epochs_run = len(result.history)
        out = {
            "test": test, "dev": result.dev, "dev_f1": result.dev.get("f1", 0.0), "best_epoch": result.best_epoch,
            "history": result.history, "steps": steps, "alignment": {**result.alignment, "test": test_align},
            "learning_rate": result.learning_rate, "precision": result.precision,
            "stopped_early": result.stopped_early, "epochs_run": epochs_run, "world_size": dist.world,
            "device": dist.device, "train_seconds": round(result.train_seconds, 3),
            "wall_seconds": round(time.perf_counter() - started, 3),
            "train_documents": len(splits["train"]), "train_windows": result.train_windows,
            "sentences_per_second": round(len(splits["train"]) * epochs_run / max(result.train_seconds, 1e-9), 2),
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "tokenizer": type(tokenizer).__name__, "labels": labels, "model_dir": str(model_dir),
            "augmentation": augmentation,
        }
        (Path(spec.out_dir) / "result.json").write_text(json.dumps(out, indent=1))
    if dist.world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return out


def launch(spec: JobSpec, progress=None, keyring=None) -> dict:
    """In this process for one process; `torchrun --nproc-per-node N` otherwise, its
    progress lines passed on as they come."""
    Path(spec.out_dir).mkdir(parents=True, exist_ok=True)
    if spec.nproc <= 1:
        return run_job(spec, progress, keyring)
    spec_path = spec.save(Path(spec.out_dir) / "job.json")
    # One machine by default; on a cluster, LEPTON_TORCHRUN_ARGS carries torchrun's own
    # rendezvous options (e.g. "--nnodes=2 --rdzv-backend=c10d --rdzv-endpoint=head:29400"),
    # and the same command runs on every node.
    rendezvous = shlex.split(os.environ.get("LEPTON_TORCHRUN_ARGS", "")) or ["--standalone"]
    cmd = [sys.executable, "-m", "torch.distributed.run", *rendezvous, f"--nproc-per-node={spec.nproc}",
           "-m", "lepton.ner.job", str(spec_path)]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    tail: deque[str] = deque(maxlen=30)
    for line in proc.stdout:
        line = line.rstrip()
        tail.append(line)
        if progress and line.startswith("epoch "):
            progress(line)
    if proc.wait() != 0:
        raise RuntimeError(f"torchrun with {spec.nproc} processes failed (exit {proc.returncode}):\n"
                           + "\n".join(tail))
    return json.loads((Path(spec.out_dir) / "result.json").read_text())


if __name__ == "__main__":
    run_job(JobSpec(**json.loads(Path(sys.argv[1]).read_text())))
