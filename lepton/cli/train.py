"""`lepton train FILE`: the trainer on a file of any registered format, outside the pipeline."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import click

from lepton.corpus.formats import FORMATS
from lepton.ner.config import default, help_text
from lepton.settings import Settings
from lepton.stores import mlflow_for


@click.command("train")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dev", "dev_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Dev file; without it DATA is split 80/10/10 by document (seeded).")
@click.option("--test", "test_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Test file (with --dev).")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default=None,
              help="Format of the files (default: from the suffix, see lepton/corpus/formats.py; LEPTON_FORMATS).")
@click.option("--scheme", type=click.Choice(["iob2", "iob1", "bioes"]), default=None,
              help="Tag scheme of CoNLL and token/tag files [LEPTON_CONLL_SCHEME, iob2].")
@click.option("--conll-unit", type=click.Choice(["auto", "document", "sentence"]), default=None,
              help="A CoNLL record per -DOCSTART- document or per sentence [LEPTON_CONLL_UNIT, auto].")
@click.option("--tag-names", default=None, metavar="O,B-X,...",
              help="Names of integer ner_tags, in id order (or a dataset_info.json beside the file) [LEPTON_TAG_NAMES].")
@click.option("--labels", "labels_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Pin the label set to a schema file (e.g. policy/labels.yaml): a tag outside it is an error. "
                   "Default: the labels found in the data.")
@click.option("--base", "base_encoder", default=None, help="tiny, minilm or a local model folder [LEPTON_BASE_ENCODER].")
# Training options: help and defaults from TrainConfig; the first four fall back to the
# settings (LEPTON_EPOCHS, LEPTON_PATIENCE, LEPTON_BATCH_SIZE, LEPTON_LEARNING_RATE) when not given.
@click.option("--epochs", type=int, default=None, help=help_text("epochs"))
@click.option("--patience", type=int, default=None, help=help_text("patience"))
@click.option("--batch-size", type=int, default=None, help=help_text("batch_size"))
@click.option("--grad-accumulation", type=int, default=default("grad_accumulation"), help=help_text("grad_accumulation"))
@click.option("--lr", "learning_rate", type=float, default=None, help=help_text("learning_rate"))
@click.option("--scheduler", type=click.Choice(["linear", "cosine"]), default=default("scheduler"),
              help=help_text("scheduler"))
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp16", "fp32"]), default=default("precision"),
              help=help_text("precision"))
@click.option("--max-length", type=int, default=default("max_length"), help=help_text("max_length"))
@click.option("--stride", type=int, default=default("stride"), help=help_text("stride"))
@click.option("--label-subtokens", type=click.Choice(["first", "all"]), default=default("label_subtokens"),
              help=help_text("label_subtokens"))
@click.option("--processes", type=int, default=1, show_default=True,
              help="Processes under torchrun (DistributedDataParallel; gloo on CPU, NCCL on GPUs).")
@click.option("--seed", type=int, default=None, help=help_text("seed") + " (LEPTON_SEED)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the model (Hugging Face format) and result.json here.")
@click.option("--sweep", "sweep_space", default=None, metavar="NAME=V1,V2;...",
              help='Grid search, e.g. "learning_rate=1e-4,5e-5;batch_size=16,32": one nested MLflow run per '
                   "point, the best dev entity F1 chosen and its model logged on the parent run.")
@click.option("--mlflow/--no-mlflow", "to_mlflow", default=True, show_default=True,
              help="Log the run to the workspace's MLflow store.")
def train_cmd(data, dev_file, test_file, fmt, scheme, conll_unit, tag_names, labels_file, base_encoder, epochs, patience, batch_size, grad_accumulation,
              learning_rate, scheduler, precision, max_length, stride, label_subtokens, processes, seed, out_dir,
              sweep_space, to_mlflow) -> None:
    """Fine-tune a token-classification model on DATA (any registered format: JSONL with spans, Hugging
    Face token/tag JSONL, CoNLL, CSV, Label Studio JSON export)."""
    from dataclasses import replace

    from lepton.annotation.schema import SchemaError, load_schema
    from lepton.corpus.formats import FormatError, ReaderOptions
    from lepton.datasets.split import split_records
    from lepton.ner.config import TrainConfig
    from lepton.ner.inputs import collapse_repeats, labels_from_data, pin_labels, read_file, repeats_of
    from lepton.ner.job import JobSpec, launch

    s = Settings.from_env()
    options = ReaderOptions.from_settings(s)
    options = replace(options, **{k: v for k, v in (("conll_scheme", scheme), ("conll_unit", conll_unit),
                                                    ("tag_names", tuple(tag_names.split(",")) if tag_names else None))
                                  if v is not None})
    try:
        reads = [read_file(p, options, fmt) for p in (data, dev_file, test_file) if p]
        schema = load_schema(labels_file) if labels_file else None
        mapped = pin_labels(reads, schema) if schema else {}
    except (FormatError, SchemaError) as exc:
        raise click.ClickException(str(exc)) from None
    for fr in reads:
        for r in fr.rejected[:10]:
            click.echo(f"skipped {fr.path}:{r.line}: {r.rule}: {r.detail}", err=True)
    main = reads[0]
    if not main.records:
        raise click.ClickException(f"{data}: no usable record ({len(main.rejected)} rejected)")
    if dev_file:
        splits = {"train": main.records, "dev": reads[1].records, "test": reads[2].records if test_file else []}
        repeats = {"within_train": collapse_repeats(main.records)[1],
                   "dev_repeating_train": repeats_of(main.records, splits["dev"]),
                   "test_repeating_train": repeats_of(main.records, splits["test"]),
                   "rule": "given splits are kept as they are; repeats are counted"}
    else:
        unique, counts = collapse_repeats(main.records)
        by_id = {r.record_id: r for r in unique}
        cut = split_records(list(by_id), seed=s.seed if seed is None else seed)
        splits = {k: [by_id[i] for i in ids] for k, ids in cut.items()}
        repeats = {**counts, "rule": "a repeated text is kept once, where it first occurs (repeats never straddle "
                                     "splits); a repeat with other tags is counted as conflicting"}
    found, unseen = labels_from_data(splits)
    labels = schema.names if schema else found
    if not labels:
        raise click.ClickException(f"{data}: no entity label in the data; nothing to learn")
    for split, missing in unseen.items():
        click.echo(f"warning: labels in {split} but never in train (the model cannot predict them): "
                   + ", ".join(f"{k} ({n} spans)" for k, n in missing.items()), err=True)
    accounting = {
        "files": [{"file": fr.path, "records_in": fr.records_in, "accepted": len(fr.records),
                   "rejected": len(fr.rejected), "rules": dict(Counter(r.rule for r in fr.rejected))} for fr in reads],
        "repeats": repeats, "splits": {k: len(v) for k, v in splits.items()},
        "labels": list(labels), "labels_from": str(labels_file) if schema else "data",
        "label_schema_version": schema.version if schema else None, "labels_mapped": mapped,
        "labels_unseen_in_train": unseen,
    }
    if not dev_file:
        collapsed = repeats["identical"] + repeats["conflicting"]
        click.echo(f"{data}: {main.records_in} records ({len(main.rejected)} rejected, {collapsed} repeats kept once: "
                   f"{repeats['identical']} identical, {repeats['conflicting']} with other tags); "
                   + ", ".join(f"{k} {len(v)}" for k, v in splits.items()), err=True)
    else:
        click.echo("; ".join(f"{fr.path}: {fr.records_in} records ({len(fr.rejected)} rejected)" for fr in reads)
                   + f"; {repeats['dev_repeating_train']} dev and {repeats['test_repeating_train']} test records "
                     "repeat a training text", err=True)
    click.echo(f"labels ({accounting['labels_from']}): {', '.join(labels)}", err=True)
    cfg = TrainConfig(
        epochs=epochs or s.epochs, patience=patience or s.patience, batch_size=batch_size or s.batch_size,
        grad_accumulation=grad_accumulation, learning_rate=learning_rate or s.learning_rate, scheduler=scheduler,
        precision=precision, max_length=max_length, stride=stride, label_subtokens=label_subtokens,
        seed=s.seed if seed is None else seed)
    with tempfile.TemporaryDirectory(prefix="lepton-train-") as tmp:
        files = {}
        for split, recs in splits.items():
            files[split] = str(Path(tmp) / f"{split}.jsonl")
            Path(files[split]).write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in recs))
        spec = JobSpec(base_encoder=base_encoder or s.base_encoder, config=cfg.to_params(),
                       out_dir=str(out_dir or Path(tmp) / "out"), files=files, nproc=processes, progress_bar=True,
                       labels=list(labels))
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
            result["input"] = accounting
            Path(spec.out_dir, "result.json").write_text(json.dumps(result, indent=1))
            if to_mlflow:
                from lepton.ner.run import log_training

                result = log_training(mlflow_for(s), result, spec, {"input_file": data.name},
                                      {"lepton.source": "lepton train"})
    summary = {k: result.get(k) for k in ("run_id", "sweep_run_id", "chosen", "best_epoch", "epochs_run", "stopped_early", "learning_rate",
                                          "precision", "world_size", "sentences_per_second")}
    summary.update(dev_f1=round(result["dev_f1"], 4), test_f1=round(result["test"]["f1"], 4),
                   model_dir=result["model_dir"] if out_dir else None, input=accounting)
    click.echo(json.dumps(summary, indent=1))
