"""An optional grid search: each point of the grid is one nested MLflow run under a parent
run, and the point with the best dev entity F1 is chosen (test F1 is reported, never used
to choose)."""

from __future__ import annotations

import dataclasses
import itertools

from lepton.ner.config import TrainConfig, config_value
from lepton.ner.job import JobSpec, launch

FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def parse_space(text: str) -> dict[str, list]:
    """"learning_rate=1e-4,5e-5;batch_size=16,32" -> {name: [values]}, names checked
    against TrainConfig and values typed like its defaults."""
    space = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, values = part.partition("=")
        name = name.strip()
        if name not in FIELDS or not values:
            raise ValueError(f"sweep: {part!r} is not NAME=V1,V2 with NAME one of {', '.join(sorted(FIELDS))}")
        space[name] = [config_value(name, v.strip()) for v in values.split(",")]
    return space


def grid(space: dict[str, list]) -> list[dict]:
    names = sorted(space)
    return [dict(zip(names, values)) for values in itertools.product(*(space[n] for n in names))]


def sweep(spec: JobSpec, space: dict[str, list], store, params: dict, tags: dict, progress=None) -> dict:
    """Runs every point; returns the best trial's result with `trials` (point, dev F1, run id)."""
    import mlflow

    from lepton.ner.run import log_span_model, log_training

    trials = []
    with store.start_run(tags={**tags, "lepton.sweep": "grid"}) as parent:
        mlflow.log_params({f"space_{k}": ",".join(map(str, v)) for k, v in space.items()})
        for i, point in enumerate(grid(space)):
            sub = dataclasses.replace(spec, config={**spec.config, **point}, out_dir=f"{spec.out_dir}/trial-{i}")
            if progress:
                progress(f"trial {i + 1}: {point}")
            result = log_training(store, launch(sub, progress), sub, {**params, "trial": i}, tags, nested=True,
                                  log_model=False)
            trials.append({"point": point, "dev_f1": result["dev_f1"], "test_f1": result["test"]["f1"],
                           "run_id": result["run_id"], "result": result})
        best = max(trials, key=lambda t: t["dev_f1"])
        mlflow.log_params({f"best_{k}": v for k, v in best["point"].items()})
        mlflow.log_metrics({"best_dev_f1": best["dev_f1"], "best_test_f1": best["test_f1"]})
        mlflow.log_dict([{k: v for k, v in t.items() if k != "result"} for t in trials], "trials.json")
        model = log_span_model(best["result"]["model_dir"])
    return {**best["result"], "model_uri": model.model_uri, "model_id": model.model_id, "chosen": best["point"], "sweep_run_id": parent.info.run_id,
            "trials": [{k: v for k, v in t.items() if k != "result"} for t in trials]}
