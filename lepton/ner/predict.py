"""Text in, character spans out: the shape Label Studio pre-annotations and the served
model both need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from lepton.ner.alignment import encode, tags_to_char_spans
from lepton.ner.train import predict_words


@dataclass
class ModelPredictor:
    """One model and its tokenizer behind the interface every predictor has (a registered
    version's pyfunc holds one; an ensemble's holds lepton.ner.ensemble.EnsemblePredictor)."""
    model: object
    tokenizer: object
    max_length: int = 256

    def predictions(self, texts: list[str], batch_size: int = 32) -> list[Prediction]:
        return predict_with_uncertainty(self.model, self.tokenizer, texts, self.max_length, batch_size)


CHUNK = 2048  # documents tokenized and length-grouped together: bounded memory, full batches


def predict_file(predictor, in_path: Path, out_path: Path, batch_size: int = 64,
                 progress: Callable[[str], None] | None = None) -> int:
    """Every record of a JSON-lines file (record_id, text), by `predictor` (anything with
    `predictions(texts, batch_size)`: ModelPredictor, an ensemble), in chunks of CHUNK documents each
    sorted into batches of similar length; one line per record out: its spans (offsets,
    label, score: never the text, which holds the names) and its uncertainty. Returns the
    number of records."""
    import orjson

    from lepton.atomic import replaced

    done = 0
    with Path(in_path).open("rb") as fh, replaced(Path(out_path)) as out:
        while True:
            docs = [orjson.loads(line) for line in islice(fh, CHUNK) if line.strip()]
            if not docs:
                break
            preds = predictor.predictions([d["text"] for d in docs], batch_size)
            for d, p in zip(docs, preds):
                spans = [{k: sp[k] for k in ("start", "end", "label", "score")} for sp in p.spans]
                out.write(orjson.dumps({"record_id": d["record_id"], "spans": spans,
                                        "uncertainty": round(p.uncertainty, 6)}).decode() + "\n")
            done += len(docs)
            if progress:
                progress(f"predicted {done} records")
    return done


def read_predictions(path: Path) -> dict[str, Prediction]:
    """Record id -> its Prediction (spans without their text: callers slice it from the text
    they hold, which after redaction is not the text the model read)."""
    import orjson

    with Path(path).open("rb") as fh:
        return {d["record_id"]: Prediction(d["spans"], d["uncertainty"]) for d in map(orjson.loads, fh)}


def moved(prediction: Prediction, text: str, cuts=()) -> Prediction:
    """Spans predicted on a record's text before redaction, on its text after (`cuts` from the
    governed record), each with the text it now covers."""
    from lepton.governance.policy import move_offset

    spans = []
    for sp in prediction.spans:
        a, b = move_offset(sp["start"], cuts, False), move_offset(sp["end"], cuts, True)
        spans.append({**sp, "start": a, "end": b, "text": text[a:b]})
    return Prediction(spans, prediction.uncertainty)


@dataclass
class Prediction:
    spans: list[dict]   # start, end, label, text, score (the span's weakest word confidence)
    uncertainty: float  # mean normalised token entropy over the document's words, 0..1


def under_schema(predictions: list[Prediction], fit) -> list[Prediction]:
    """Predictions with their labels read under the current schema (`fit`: a
    lepton.annotation.schema.ModelLabels); spans of a removed label are dropped."""
    return [Prediction(fit.apply(p.spans)[0], p.uncertainty) for p in predictions]


def predict_with_uncertainty(model, tokenizer, texts: list[str], max_length: int = 256,
                             batch_size: int = 32) -> list[Prediction]:
    """`model`: one model, or a list sharing `tokenizer` and labels (probabilities averaged)."""
    first = model[0] if isinstance(model, (list, tuple)) else model
    id2label = {int(k): v for k, v in first.config.id2label.items()}
    label2id = {v: k for k, v in id2label.items()}
    encoded = [encode(tokenizer, t, [], label2id, max_length) for t in texts]
    device = str(next(first.parameters()).device)
    tags, scores, entropies = predict_words(model, encoded, id2label, batch_size=batch_size, device=device)
    return [Prediction(tags_to_char_spans(tg, e.word_spans, t, sc), sum(en) / len(en) if en else 0.0)
            for tg, sc, en, e, t in zip(tags, scores, entropies, encoded, texts)]


def governed_predictions(records, predictions: dict[str, Prediction], cuts: dict[str, list]) -> list[Prediction]:
    """The predictions of governed records (lepton.corpus.records.Record, their text possibly
    redacted), in their order, moved through each record's redaction cuts; a record the
    model did not see gets none."""
    return [moved(predictions[r.record_id], r.text, cuts.get(r.record_id, ())) if r.record_id in predictions
            else Prediction([], 0.0) for r in records]
