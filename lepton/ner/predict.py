"""Text in, character spans out: the shape Label Studio pre-annotations and the served
model both need."""

from __future__ import annotations

from lepton.ner.alignment import encode, tags_to_char_spans
from lepton.ner.train import predict_tags


def predict_spans(model, tokenizer, texts: list[str], max_length: int = 256) -> list[list[dict]]:
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    label2id = {v: k for k, v in id2label.items()}
    encoded = [encode(tokenizer, t, [], label2id, max_length) for t in texts]
    tags, scores = predict_tags(model, encoded, id2label)
    return [tags_to_char_spans(tg, e.word_spans, t, sc)
            for tg, sc, e, t in zip(tags, scores, encoded, texts)]
