"""A noisier, harder corpus for choosing defaults: short informal texts (one sentence, chat
fillers and emoji), inconsistent casing (lower, UPPER, as written, word by word, entities
included) and a rare entity type (MISC kept in few documents). Derived from the sample
corpus so gold spans stay exact; deterministic per seed."""

from __future__ import annotations

import random

from lepton.corpus.records import Record, Span, record_id
from lepton.corpus.sample import SampleCorpus

OPENERS = ["", "", "lol ", "omg ", "btw ", "ok so ", "fyi ", "hey, "]
CLOSERS = ["", "", " lol", " !!", " 🙂", " u know", " smh", " ...", " #news"]
RARE_KEEP = 0.08  # share of documents with a MISC entity that are kept


def _recase(rng: random.Random, text: str) -> str:
    out = []
    for word in text.split(" "):
        roll = rng.random()
        new = word.lower() if roll < 0.45 else word.upper() if roll < 0.55 else word
        out.append(new if len(new) == len(word) else word)  # e.g. "ß".upper() is longer: keep offsets exact
    return " ".join(out)


def noisy_records(n: int, seed: int = 29, source: str = "noisy.jsonl") -> list[Record]:
    corpus, rng, out, i = SampleCorpus(seed), random.Random(seed), [], 0
    while len(out) < n:
        text, spans = corpus.document(i)
        i += 1
        cut = text.find(". ")
        if cut != -1:  # one sentence: short texts
            text = text[:cut + 1]
            spans = [s for s in spans if s.end <= cut + 1]
        if any(s.label == "MISC" for s in spans) and rng.random() > RARE_KEEP:
            continue
        body = _recase(rng, text.rstrip("."))
        opener, closer = rng.choice(OPENERS), rng.choice(CLOSERS)
        noisy = opener + body + closer
        moved = tuple(Span(s.start + len(opener), s.end + len(opener), s.label,
                           noisy[s.start + len(opener):s.end + len(opener)])
                      for s in spans if s.end <= len(body))
        out.append(Record(record_id(noisy, source), source, len(out) + 1, noisy, moved))
    return out
