"""`lepton train FILE`: the trainer on a CoNLL or JSONL file, outside the pipeline."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from lepton.cli.shared import mlflow_for
from lepton.settings import Settings


def _read(path: Path, scheme: str) -> tuple[list, list]:
    """Records and rejections (file, line, rule) from a JSONL or CoNLL file."""
    from lepton.corpus.conll import read_conll
    from lepton.corpus.jsonl import read_jsonl
    from lepton.corpus.records import Record

    name = path.name.removesuffix(".gz")
    items = read_conll(path, path.name, scheme) if name.endswith((".conll", ".txt", ".iob")) else read_jsonl(
        path, path.name)
    records, rejected = [], []
    for item in items:
        (records if isinstance(item, Record) else rejected).append(item)
    return records, rejected


@click.command("train")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dev", "dev_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Dev file; without it DATA is split 80/10/10 by document (seeded).")
@click.option("--test", "test_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Test file (with --dev).")
@click.option("--scheme", type=click.Choice(["iob2", "iob1", "bioes"]), default="iob2", show_default=True,
              help="Tag scheme of a CoNLL file.")
@click.option("--base", "base_encoder", default=None, help="tiny, minilm or a local model folder [LEPTON_BASE_ENCODER].")
@click.option("--epochs", type=int, default=None, help="Upper bound; early stopping usually ends sooner [20].")
@click.option("--patience", type=int, default=None, help="Epochs without a better dev F1 before stopping [3].")
@click.option("--batch-size", type=int, default=None, help="Global batch size [16].")
@click.option("--grad-accumulation", type=int, default=1, show_default=True)
@click.option("--lr", "learning_rate", type=float, default=None, help="Default: chosen from the encoder's size.")
@click.option("--scheduler", type=click.Choice(["linear", "cosine"]), default="linear", show_default=True)
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp16", "fp32"]), default="auto", show_default=True)
@click.option("--max-length", type=int, default=256, show_default=True, help="Tokens per window; longer documents slide.")
@click.option("--stride", type=int, default=32, show_default=True, help="Tokens shared by neighbouring windows.")
@click.option("--label-subtokens", type=click.Choice(["first", "all"]), default="first", show_default=True)
@click.option("--processes", type=int, default=1, show_default=True,
              help="Processes under torchrun (DistributedDataParallel; gloo on CPU, NCCL on GPUs).")
@click.option("--seed", type=int, default=None)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the model (Hugging Face format) and result.json here.")
@click.option("--sweep", "sweep_space", default=None, metavar="NAME=V1,V2;...",
              help='Grid search, e.g. "learning_rate=1e-4,5e-5;batch_size=16,32": one nested MLflow run per '
                   "point, the best dev entity F1 chosen and its model logged on the parent run.")
@click.option("--mlflow/--no-mlflow", "to_mlflow", default=True, show_default=True,
              help="Log the run to the workspace's MLflow store.")
def train_cmd(data, dev_file, test_file, scheme, base_encoder, epochs, patience, batch_size, grad_accumulation,
              learning_rate, scheduler, precision, max_length, stride, label_subtokens, processes, seed, out_dir,
              sweep_space, to_mlflow) -> None:
    """Fine-tune a token-classification model on DATA (JSONL with spans, or CoNLL)."""
    from lepton.datasets.split import split_records
    from lepton.ner.job import JobSpec, launch
    from lepton.ner.train import TrainConfig

    s = Settings.from_env()
    records, rejected = _read(data, scheme)
    for r in rejected[:10]:
        click.echo(f"skipped {r.source}:{r.line}: {r.rule}", err=True)
    if not records:
        raise click.ClickException(f"{data}: no usable record ({len(rejected)} rejected)")
    if dev_file:
        splits = {"train": records, "dev": _read(dev_file, scheme)[0],
                  "test": _read(test_file, scheme)[0] if test_file else []}
    else:
        unique = {r.record_id: r for r in records}
        cut = split_records(list(unique), seed=s.seed if seed is None else seed)
        splits = {k: [unique[i] for i in ids] for k, ids in cut.items()}
    cfg = TrainConfig(
        epochs=epochs or s.epochs, patience=patience or s.patience, batch_size=batch_size or s.batch_size,
        grad_accumulation=grad_accumulation, learning_rate=learning_rate or s.learning_rate, scheduler=scheduler,
        precision=precision, max_length=max_length, stride=stride, label_subtokens=label_subtokens,
        seed=s.seed if seed is None else seed)
    click.echo(f"{data}: {len(records)} records ({len(rejected)} rejected); "
               + ", ".join(f"{k} {len(v)}" for k, v in splits.items()), err=True)
    with tempfile.TemporaryDirectory(prefix="lepton-train-") as tmp:
        files = {}
        for split, recs in splits.items():
            files[split] = str(Path(tmp) / f"{split}.jsonl")
            Path(files[split]).write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in recs))
        spec = JobSpec(base_encoder=base_encoder or s.base_encoder, config=cfg.to_params(),
                       out_dir=str(out_dir or Path(tmp) / "out"), files=files, nproc=processes, progress_bar=True)
        # one process: a progress bar on the terminal; several: the ranks' epoch lines
        progress = (lambda line: None) if processes == 1 else (lambda line: click.echo(line, err=True))
        if sweep_space:
            from lepton.ner.sweep import parse_space, sweep

            if not to_mlflow:
                raise click.UsageError("--sweep records its trials as nested MLflow runs: drop --no-mlflow")
            try:
                space = parse_space(sweep_space)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--sweep") from None
            result = sweep(spec, space, mlflow_for(s), {"input_file": data.name}, {"lepton.source": "lepton train"},
                           progress=lambda line: click.echo(line, err=True))
        else:
            result = launch(spec, progress=progress)
            if to_mlflow:
                from lepton.ner.run import log_training

                result = log_training(mlflow_for(s), result, spec, {"input_file": data.name},
                                      {"lepton.source": "lepton train"})
    summary = {k: result.get(k) for k in ("run_id", "sweep_run_id", "chosen", "best_epoch", "epochs_run", "stopped_early", "learning_rate",
                                          "precision", "world_size", "sentences_per_second")}
    summary.update(dev_f1=round(result["dev_f1"], 4), test_f1=round(result["test"]["f1"], 4),
                   model_dir=result["model_dir"] if out_dir else None)
    click.echo(json.dumps(summary, indent=1))
