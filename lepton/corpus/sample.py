"""A seeded synthetic English NER corpus, so the whole chain runs offline with no data set
to download. Templates and name lists are varied enough that a model has to generalise
from context (the same surface form appears as ORG and LOC), and some documents carry
planted personal data (e-mail addresses, phone numbers) for the governance stages."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

from lepton.corpus.conll import write_conll
from lepton.corpus.records import Record, Span, record_id

FIRST = """Alice Amara Ana Arjun Beatriz Bruno Chen Chloé Daniel Dmitri Elena Emeka Fatima Felix
Grace Hiroshi Ingrid Isabel Jamal Jonas Kateryna Kwame Laura Liam Maya Mateo Nadia Noah Olga
Omar Priya Rafael Sara Sofia Tariq Thomas Ursula Victor Wei Yusuf Zainab José Lucía Søren""".split()
LAST = """Adeyemi Bauer Becker Carvalho Chen Dubois Eriksen Fischer García Gupta Hansen Ivanova
Jensen Kowalski Larsen Martín Müller Nakamura Nguyen Novak O'Brien Okafor Patel Petrov Rossi
Santos Schmidt Silva Smith Tanaka Torres Walsh Weber Yamamoto Zhang Kovács Haddad Lindqvist""".split()
def _names(block: str) -> list[str]:
    return [n.strip() for n in block.replace("\n", " ").split("|") if n.strip()]


ORG = """Acme Corporation|Northwind Traders|Globex|Initech|Umbrella Health|Stark Industries|Wayne
Enterprises|Contoso|Fabrikam|Tailspin Toys|Blue Harbor Bank|Helios Energy|Orion Logistics|Vertex
Pharma|Nimbus Cloud|Red Kite Media|Silverline Rail|the World Health Organization|the United Nations|
the European Central Bank|Oxford University|the Red Cross|Siemens|Volvo|Nokia|Tata Motors|Banco
Sol|Maple Insurance|Quantum Labs|Greenfield Foods"""
LOC = """Berlin|Paris|Lagos|Nairobi|São Paulo|Toronto|Mumbai|Tokyo|Sydney|Oslo|Madrid|Cairo|Lima|
Zürich|Kraków|Seoul|Hanoi|Denver|Glasgow|Dublin|Lisbon|Accra|Chile|Kenya|Norway|Brazil|Japan|
Canada|the Alps|the Rhine Valley|New York|Cape Town"""
NATIONALITY = _names("German|French|Nigerian|Brazilian|Japanese|Kenyan|Norwegian|Chilean|Korean|Irish")
MISC = """Olympic Games|World Cup|Python|Android|Christmas|Ramadan|Tour de France|
Euro 2028|Boeing 787|Bluetooth|Champions League|Diwali|Linux"""
PRIZE = _names("Nobel Prize|Grammy Award|Booker Prize|Fields Medal|Turing Award|Pulitzer Prize")
ORG, LOC, MISC = _names(ORG), _names(LOC), _names(MISC)
# Invented names keep a model honest: a test document often holds names it never saw,
# so F1 measures use of context rather than memory of the name lists.
SYLLABLES = "ka lo mi ra ten vor bel dun fi gar hol ist jun kel lan mor nes ost pra quin rud sel tor ul vin wes yar zel".split()
ORG_SUFFIX = "Holdings|Systems|Group|Partners|Labs|Bank|Foods|Motors|Media|Energy".split("|")
NOVEL_RATE = 0.35
MONTHS = "January February March April May June July August September October November December".split()

TEMPLATES = [
    "{PER} joined {ORG} in {LOC} last {MONTH}.",
    "{ORG} announced that {PER} will lead its new office in {LOC}.",
    "According to {PER}, {ORG} expects strong growth in {LOC} next year.",
    "The {NAT} delegation met {PER} in {LOC} on {NUM} {MONTH}.",
    "{PER} and {PER} founded {ORG} after moving to {LOC}.",
    "Shares of {ORG} rose {NUM} percent after the {MISC} launch.",
    "{PER}, a spokesperson for {ORG}, declined to comment.",
    "Flights from {LOC} to {LOC} were cancelled because of the storm.",
    "{PER} won the {PRIZE} for her work at {ORG}.",
    "{PER} won the {PRIZE} for his research in {LOC}.",
    "Officials in {LOC} said {ORG} had not filed the permit.",
    "The {NAT} team beat {LOC} {NUM} to {NUM} on Sunday.",
    "{ORG} opened a warehouse near {LOC}, hiring {NUM} people.",
    "In {MONTH}, {PER} visited {LOC} to sign a deal with {ORG}.",
    "Critics say the new {NAT} rules favour {ORG} over smaller firms.",
    "{PER} told reporters in {LOC} that talks with {ORG} had stalled.",
    "The report by {ORG} ranks {LOC} first for air quality.",
    "{PER} moved from {ORG} to {ORG} in {MONTH}.",
    "Residents of {LOC} celebrated {MISC} with a parade.",
    "A {NAT} engineer, {PER}, designed the bridge in {LOC}.",
    "The meeting was postponed until {MONTH}.",
    "Prices fell by {NUM} percent in the third quarter.",
]
PII_TEMPLATES = [
    "For details contact {PER} at {EMAIL}.",
    "Call {PER} on {PHONE} before {NUM} {MONTH}.",
    "{PER} ({EMAIL}, {PHONE}) handles press enquiries for {ORG}.",
]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
ENTITY_SLOTS = {"PER": "PER", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC", "NAT": "MISC", "PRIZE": "MISC"}


def _ascii_slug(s: str) -> str:
    return re.sub(r"[^a-z]", "", s.lower().encode("ascii", "ignore").decode())


class SampleCorpus:
    """Deterministic per seed: document i is the same whatever the requested size."""

    def __init__(self, seed: int = 13, pii_rate: float = 0.1):
        self.seed = seed
        self.pii_rate = pii_rate

    @staticmethod
    def _invent(rng: random.Random) -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()

    def _fill(self, rng: random.Random, slot: str, person: list[str]) -> str:
        novel = rng.random() < NOVEL_RATE
        if slot == "PER":
            first = rng.choice(FIRST)
            last = self._invent(rng) if novel else rng.choice(LAST)
            person[:] = [first, last]
            return f"{first} {last}" if rng.random() < 0.8 else last
        if slot == "ORG":
            return f"{self._invent(rng)} {rng.choice(ORG_SUFFIX)}" if novel else rng.choice(ORG)
        if slot == "LOC":
            return self._invent(rng) if novel else rng.choice(LOC)
        if slot == "MISC":
            return rng.choice(MISC)
        if slot == "NAT":
            return rng.choice(NATIONALITY)
        if slot == "PRIZE":
            return rng.choice(PRIZE)
        if slot == "MONTH":
            return rng.choice(MONTHS)
        if slot == "NUM":
            return str(rng.randint(2, 99))
        if slot == "EMAIL":
            first, last = person or [rng.choice(FIRST), rng.choice(LAST)]
            return f"{_ascii_slug(first)}.{_ascii_slug(last)}@{rng.choice(['example.com', 'mail.example.org', 'corp.example.net'])}"
        if slot == "PHONE":
            return f"+44 20 7946 {rng.randint(0, 999):04d}"
        raise ValueError(f"unknown template slot {slot!r}")

    def _sentence(self, rng: random.Random, template: str, offset: int) -> tuple[str, list[Span]]:
        out, spans, pos, person = [], [], offset, []
        last = 0
        for m in PLACEHOLDER.finditer(template):
            lit = template[last:m.start()]
            out.append(lit)
            pos += len(lit)
            value = self._fill(rng, m.group(1), person)
            if m.group(1) in ENTITY_SLOTS:
                # a leading "the" is part of names like "the United Nations" but not of the entity
                if value.startswith("the "):
                    out.append("the ")
                    pos += 4
                    value = value[4:]
                spans.append(Span(pos, pos + len(value), ENTITY_SLOTS[m.group(1)], value))
            out.append(value)
            pos += len(value)
            last = m.end()
        out.append(template[last:])
        text = "".join(out)
        if text[:1].islower():
            text = text[0].upper() + text[1:]
        return text, spans

    def document(self, i: int) -> tuple[str, list[Span]]:
        rng = random.Random(f"{self.seed}:{i}")
        n_sent = rng.choice((1, 1, 2, 2, 3))
        text, spans = "", []
        for k in range(n_sent):
            use_pii = k == n_sent - 1 and rng.random() < self.pii_rate
            template = rng.choice(PII_TEMPLATES if use_pii else TEMPLATES)
            if text:
                text += " "
            sent, sent_spans = self._sentence(rng, template, len(text))
            text += sent
            spans.extend(sent_spans)
        return text, spans

    def documents(self, n: int) -> Iterator[tuple[str, list[Span]]]:
        for i in range(n):
            yield self.document(i)


def sample_records(n: int, seed: int = 13, source: str = "sample.jsonl") -> list[Record]:
    """The corpus as records in memory (tests, benchmarks, `lepton train --sample`)."""
    return [Record(record_id(text, source), source, i + 1, text, tuple(spans))
            for i, (text, spans) in enumerate(SampleCorpus(seed).documents(n))]


def write_sample(out_dir: Path, n: int, seed: int = 13, conll_share: float = 0.2) -> dict[str, int]:
    """Writes the first share of documents as JSONL and the rest as CoNLL, so the landing
    folder holds both formats without the same document arriving twice."""
    if not 1 <= n <= 1_000_000:
        raise ValueError(f"sample size must be between 1 and 1,000,000, got {n}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = SampleCorpus(seed)
    n_conll = int(round(n * conll_share))
    n_jsonl = n - n_conll
    jsonl_path = out_dir / f"sample-{seed}.jsonl"
    with jsonl_path.open("w", encoding="utf-8") as fh:
        for text, spans in corpus.documents(n_jsonl):
            doc = {"text": text, "spans": [s.to_dict() for s in spans]}
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    counts = {str(jsonl_path): n_jsonl}
    if n_conll:
        conll_path = out_dir / f"sample-{seed}.conll"
        write_conll((corpus.document(i) for i in range(n_jsonl, n)), conll_path)
        counts[str(conll_path)] = n_conll
    return counts
