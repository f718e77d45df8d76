"""Policy-cleared records as Label Studio tasks, with the model's guesses and how unsure it is.

Spans that arrived with the input become annotations (the input is gold: CoNLL corpora,
pre-labelled exports) or predictions (a person must confirm them), by setting. The
champion's spans are predictions tagged with its model version; the prediction's score
is 1 - uncertainty, because Label Studio's uncertainty sampling serves the lowest score first.
"""

from __future__ import annotations

from lepton.annotation.convert import to_result
from lepton.corpus.records import Record

INPUT_LABELS_MODES = ("annotations", "predictions", "ignore")
INPUT_MODEL_VERSION = "input-labels"


def build_tasks(records: list[Record], record_batch: str, input_labels: str = "annotations",
                predictions: list | None = None, model_version: str | None = None,
                schema_version: str | None = None) -> list[dict]:
    """`predictions`: one lepton.ner.predict.Prediction per record, from the champion, its
    labels already read under the schema (`schema_version`, which each task carries)."""
    if input_labels not in INPUT_LABELS_MODES:
        raise ValueError(f"input labels mode {input_labels!r}: expected one of {', '.join(INPUT_LABELS_MODES)}")
    tasks = []
    for i, rec in enumerate(records):
        data = {"text": rec.text, "record_id": rec.record_id, "record_batch": record_batch,
                "source": rec.source, "line": rec.line}
        if schema_version:
            data["label_schema_version"] = schema_version
        task: dict = {"data": data, "predictions": []}
        # Label Studio orders by the score of whichever prediction its join meets first, so
        # the input's prediction carries the task's score too.
        score = None if predictions is None else round(1.0 - predictions[i].uncertainty, 6)
        if input_labels == "annotations":
            task["annotations"] = [{"result": to_result(rec.spans), "ground_truth": False}]
        elif input_labels == "predictions":
            task["predictions"].append({"model_version": INPUT_MODEL_VERSION, "result": to_result(rec.spans),
                                        **({"score": score} if score is not None else {})})
        if predictions is not None:
            p = predictions[i]
            data["uncertainty"] = round(p.uncertainty, 6)
            task["predictions"].append({
                "model_version": model_version, "score": score,
                "result": to_result(p.spans, [s["score"] for s in p.spans]),
            })
        tasks.append(task)
    # Most uncertain first also in push order, so Sequential sampling (and a person scrolling
    # the Data Manager) sees the same order as the uncertainty queue.
    if predictions is not None:
        tasks.sort(key=lambda t: -t["data"]["uncertainty"])
    return tasks
