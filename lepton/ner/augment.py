"""Training-set augmentation, by configuration: entity-mention replacement within type
(another mention of the same type from the training split takes the span's place, offsets
moved) and label-preserving perturbations (the casing of words outside entities). Only
the train split is augmented; dev and test stay as annotated. The result is a derived
dataset with its own id, which lineage records between the dataset version and the run."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass

from lepton.corpus.records import Record, Span


@dataclass(frozen=True)
class AugmentConfig:
    copies: int = 1                 # augmented copies per training record
    mention_replacement: float = 0.5  # chance that each entity mention is swapped for another of its type
    recase: float = 0.2             # chance that each word outside entities changes case
    seed: int = 13

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def _recase(rng: random.Random, segment: str, p: float) -> str:
    words = segment.split(" ")
    out = []
    for w in words:
        if rng.random() < p:
            new = rng.choice((w.lower(), w.upper(), w.capitalize()))
            w = new if len(new) == len(w) else w
        out.append(w)
    return " ".join(out)


def augment(records: list[Record], cfg: AugmentConfig) -> list[Record]:
    """The originals followed by `copies` augmented versions of each (record ids derived)."""
    rng = random.Random(cfg.seed)
    mentions: dict[str, list[str]] = {}
    for rec in records:
        for sp in rec.spans:
            mentions.setdefault(sp.label, []).append(rec.text[sp.start:sp.end])
    for label in mentions:
        mentions[label] = sorted(set(mentions[label]))
    out = list(records)
    for copy in range(cfg.copies):
        for rec in records:
            pieces, spans, pos, last = [], [], 0, 0
            for sp in sorted(rec.spans, key=lambda s: s.start):
                outside = _recase(rng, rec.text[last:sp.start], cfg.recase)
                mention = rec.text[sp.start:sp.end]
                if rng.random() < cfg.mention_replacement and len(mentions[sp.label]) > 1:
                    mention = rng.choice(mentions[sp.label])
                pieces += [outside, mention]
                pos += len(outside)
                spans.append(Span(pos, pos + len(mention), sp.label, mention))
                pos += len(mention)
                last = sp.end
            pieces.append(_recase(rng, rec.text[last:], cfg.recase))
            text = "".join(pieces)
            out.append(Record(f"{rec.record_id}~aug{copy}-{cfg.key()}", rec.source, rec.line, text, tuple(spans)))
    return out
