"""Text in, character spans out: the shape Label Studio pre-annotations and the served
model both need."""

from __future__ import annotations

from dataclasses import dataclass

from lepton.ner.alignment import encode, tags_to_char_spans
from lepton.ner.train import predict_words


def predict_spans(model, tokenizer, texts: list[str], max_length: int = 256) -> list[list[dict]]:
    return [p.spans for p in predict_with_uncertainty(model, tokenizer, texts, max_length)]


@dataclass
class Prediction:
    spans: list[dict]   # start, end, label, text, score (the span's weakest word confidence)
    uncertainty: float  # mean normalised token entropy over the document's words, 0..1


def under_schema(predictions: list[Prediction], fit) -> list[Prediction]:
    """Predictions with their labels read under the current schema (`fit`: a
    lepton.annotation.schema.ModelLabels); spans of a removed label are dropped."""
    return [Prediction(fit.apply(p.spans)[0], p.uncertainty) for p in predictions]


def predict_with_uncertainty(model, tokenizer, texts: list[str], max_length: int = 256) -> list[Prediction]:
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    label2id = {v: k for k, v in id2label.items()}
    encoded = [encode(tokenizer, t, [], label2id, max_length) for t in texts]
    device = str(next(model.parameters()).device)
    tags, scores, entropies = predict_words(model, encoded, id2label, device=device)
    return [Prediction(tags_to_char_spans(tg, e.word_spans, t, sc), sum(en) / len(en) if en else 0.0)
            for tg, sc, en, e, t in zip(tags, scores, entropies, encoded, texts)]
