"""Presidio's analyzer with its predefined pattern recognizers and a blank spaCy pipeline,
on the same planted values as tests/test_governance.py, and its speed per document.

Presidio is not a Lepton dependency; this runs in a throwaway environment:
    python3 -m venv /tmp/pvenv && /tmp/pvenv/bin/pip install presidio-analyzer spacy pytest hypothesis \
        phonenumbers python-stdnum orjson blake3 cryptography pyyaml universal-pathlib
    HF_HUB_OFFLINE=1 /tmp/pvenv/bin/python bench/eval_presidio.py
"""
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import spacy
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import SpacyNlpEngine


class BlankEngine(SpacyNlpEngine):
    def __init__(self):
        super().__init__(models=[{"lang_code": "en", "model_name": "blank"}])
    def load(self):
        self.nlp = {"en": spacy.blank("en")}

from tests.test_governance import NEGATIVES, POSITIVES, TEMPLATES

KIND = {"EMAIL": {"EMAIL_ADDRESS"}, "PHONE": {"PHONE_NUMBER"}, "CREDIT_CARD": {"CREDIT_CARD"},
        "IBAN": {"IBAN_CODE"}, "IP_ADDRESS": {"IP_ADDRESS"}, "NATIONAL_ID": {"US_SSN", "ES_NIF"}}
eng = BlankEngine(); eng.load()
analyzer = AnalyzerEngine(nlp_engine=eng, supported_languages=["en"])
rng = random.Random(1)
hits = total = fp = 0
misses = []
for kind, values in POSITIVES.items():
    for v in values:
        text = rng.choice(TEMPLATES).format(v)
        res = analyzer.analyze(text=text, language="en")
        total += 1
        ok = any(r.entity_type in KIND[kind] and text[r.start:r.end] == v for r in res)
        hits += ok
        if not ok: misses.append((kind, v, [(r.entity_type, text[r.start:r.end]) for r in res]))
for v in NEGATIVES:
    text = rng.choice(TEMPLATES).format(v)
    res = [r for r in analyzer.analyze(text=text, language="en") if r.score >= 0.5]
    fp += len(res)
    if res: misses.append(("NEG", v, [(r.entity_type, text[r.start:r.end], r.score) for r in res]))
print(f"presidio recall {hits}/{total}, false positives (score>=0.5) {fp} on {len(NEGATIVES)} negatives")
for m in misses: print("  ", m)
from lepton.corpus.sample import SampleCorpus

docs = [t for t, _ in SampleCorpus(13).documents(2000)]
t = time.perf_counter()
for d in docs: analyzer.analyze(text=d, language="en")
print(f"presidio: {2000 / (time.perf_counter() - t):.0f} docs/s on the sample corpus")
