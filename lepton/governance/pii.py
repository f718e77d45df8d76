"""Personal-data detectors that run offline and fast.

Chosen over Presidio's analyzer: Presidio needs a spaCy pipeline per document (even a
blank one), its US SSN recognizer leans on context words, its URL recognizer fires inside
e-mail addresses, and it would cost far more than the parse it sits beside. Here cheap
regular expressions find candidates, and well-kept validators decide: `phonenumbers`
(Google's libphonenumber) for phone numbers, `python-stdnum` for Luhn-checked card
numbers, IBANs and national ids, `ipaddress` for IP addresses. A document without an
"@", a digit run or a dotted number never reaches a validator.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn
from stdnum.es import dni
from stdnum.fr import nir
from stdnum.us import ssn


@dataclass(frozen=True)
class Finding:
    type: str
    start: int
    end: int
    detector: str
    confidence: float

    def to_dict(self) -> dict:
        return {"type": self.type, "start": self.start, "end": self.end, "detector": self.detector,
                "confidence": self.confidence}


EMAIL = re.compile(r"\b[A-Za-z0-9][A-Za-z0-9._%+'-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
# not inside a longer dotted number (a version string), but a sentence's full stop may follow
IPV4 = re.compile(r"(?<!\d)(?<!\d\.)(?:\d{1,3}\.){3}\d{1,3}(?!\d)(?!\.\d)")
IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
NATIONAL_IDS: list[tuple[str, re.Pattern, Callable[[str], bool]]] = [
    ("us.ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), ssn.is_valid),
    ("es.dni", re.compile(r"\b\d{8}-?[A-Z]\b"), dni.is_valid),
    ("fr.nir", re.compile(r"\b[12] ?\d{2} ?\d{2} ?\d[\dAB] ?\d{3} ?\d{3} ?\d{2}\b"), nir.is_valid),
    # Not German IdNr or NHS numbers: their one-in-eleven check digits accept too many phone
    # numbers and order numbers of the same length.
]
DIGITS = re.compile(r"\d")
PHONE_CANDIDATE = re.compile(r"(?:\d[\s().\-/]{0,3}){7,}")  # seven digits or more, however separated
# Which type wins where two findings overlap: the more specific validator first.
PRIORITY = {"IBAN": 0, "CREDIT_CARD": 1, "NATIONAL_ID": 2, "EMAIL": 3, "IP_ADDRESS": 4, "PHONE": 5, "PERSON": 6}


BRACKETS = {"(": ")", "[": "]", "{": "}", "<": ">"}


class PiiDetector:
    """`regions`: where phone numbers written in national format are looked for (the
    policy's `phone_regions`); international numbers (+CC) are found whatever the list."""

    def __init__(self, regions: tuple[str, ...] = ("GB",),
                 person_detector: Callable[[str], list[Finding]] | None = None):
        self.regions = tuple(regions) or ("GB",)
        self.person_detector = person_detector

    def detect(self, text: str, extra: list[Finding] = ()) -> list[Finding]:
        """`extra`: findings made elsewhere for this text (person names from the predictions
        asset), resolved against these where they overlap."""
        found: list[Finding] = list(extra)
        if "@" in text:
            found += [Finding("EMAIL", m.start(), m.end(), "regex.email", 0.95) for m in EMAIL.finditer(text)]
        if DIGITS.search(text):
            found += self._numbers(text)
        if self.person_detector is not None:
            found += self.person_detector(text)
        return _resolve_overlaps(found)

    def _numbers(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        # Every numeric type needs seven digits in a run (however separated) or a dotted quad;
        # most text with a digit has neither, and one scan settles it.
        if not PHONE_CANDIDATE.search(text) and not IPV4.search(text) and ":" not in text:
            return out
        for m in IBAN.finditer(text):
            if iban.is_valid(m.group()):
                out.append(Finding("IBAN", m.start(), m.end(), "stdnum.iban", 0.99))
        for m in CARD.finditer(text):
            digits = re.sub(r"[ -]", "", m.group())
            if 13 <= len(digits) <= 19 and luhn.is_valid(digits) and digits[0] in "3456":
                out.append(Finding("CREDIT_CARD", m.start(), m.end(), "stdnum.luhn", 0.9))
        for name, pattern, valid in NATIONAL_IDS:
            for m in pattern.finditer(text):
                if valid(m.group()):
                    out.append(Finding("NATIONAL_ID", m.start(), m.end(), f"stdnum.{name}", 0.85))
        for m in IPV4.finditer(text):
            try:
                ipaddress.IPv4Address(m.group())
                out.append(Finding("IP_ADDRESS", m.start(), m.end(), "ipaddress.v4", 0.9))
            except ValueError:
                pass  # four dotted numbers that are not an address (e.g. a version string): not PII
        if ":" in text:
            for m in IPV6.finditer(text):
                try:
                    ipaddress.IPv6Address(m.group())
                    out.append(Finding("IP_ADDRESS", m.start(), m.end(), "ipaddress.v6", 0.9))
                except ValueError:
                    pass  # colon-separated hex that is not an address (e.g. a clock time): not PII
        spans = {_unbracketed(text, m.start, m.end)
                 for m in phonenumbers.PhoneNumberMatcher(text, self.regions[0], leniency=phonenumbers.Leniency.VALID)}
        # the other regions read only the runs of seven digits or more that nothing found so
        # far explains, each with a little context: a pass over the whole text per region
        # cost 2.5x the detection on the sample corpus
        for s0, e0 in _unexplained_digit_runs(text, [(f.start, f.end) for f in out] + sorted(spans)):
            lo, hi = max(0, s0 - 6), min(len(text), e0 + 2)
            for region in self.regions[1:]:
                spans |= {_unbracketed(text, lo + m.start, lo + m.end) for m in phonenumbers.PhoneNumberMatcher(
                    text[lo:hi], region, leniency=phonenumbers.Leniency.VALID)}
        # where regions read one number differently, the longest reading wins
        spans = {(s, e) for s, e in spans if not any(a <= s and e <= b and (a, b) != (s, e) for a, b in spans)}
        out += [Finding("PHONE", s, e, "phonenumbers", 0.9) for s, e in sorted(spans)]
        return out


def _unexplained_digit_runs(text: str, found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in PHONE_CANDIDATE.finditer(text)
            if not any(s <= m.start() and m.end() - 1 <= e for s, e in found)]


def _unbracketed(text: str, start: int, end: int) -> tuple[int, int]:
    """"[+44 20 7946 0958]", "(020 7946 0958)": a bracket the number does not close (or
    open) belongs to the sentence, not the number."""
    while start < end and text[start] in BRACKETS and BRACKETS[text[start]] not in text[start:end]:
        start += 1
    while start < end and text[end - 1] in BRACKETS.values() and not any(
            o in text[start:end] for o, c in BRACKETS.items() if c == text[end - 1]):
        end -= 1
    return start, end


def policy_detector(policy, person_detector: Callable[[str], list[Finding]] | None = None) -> PiiDetector:
    """The detector the pipeline runs under a sensitivity policy (lepton.governance.policy):
    its phone regions, person names from the given-name dictionary always, and from the
    champion model (`person_detector`) once there is one."""
    from lepton.governance.names import gazetteer_person_detector

    names = gazetteer_person_detector(policy.not_given_names)

    def persons(text: str) -> list[Finding]:
        return names(text) + (person_detector(text) if person_detector is not None else [])
    return PiiDetector(regions=policy.phone_regions, person_detector=persons)


def _resolve_overlaps(found: list[Finding]) -> list[Finding]:
    """Keeps the most specific finding where several cover the same characters."""
    kept: list[Finding] = []
    for f in sorted(found, key=lambda f: (PRIORITY.get(f.type, 9), -(f.end - f.start), f.start)):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def schema_person_labels(schema, model_labels: list[str], model: str) -> tuple[str, ...]:
    """The model's labels that mean a person's name: those the label schema reads as a label
    marked `pii: PERSON` (a champion of another schema is read through its declared mapping)."""
    fit = schema.reconcile(model_labels, model)
    persons = set(schema.pii_labels("PERSON"))
    return tuple(lab for lab, now in fit.mapping.items() if now in persons)


def person_findings(predictions: dict, person_labels: tuple[str, ...]) -> dict[str, list[Finding]]:
    """Person names from the champion's predictions (record id -> lepton.ner.predict.Prediction):
    its spans of `person_labels`, by record id."""
    wanted = frozenset(person_labels)
    return {rid: [Finding("PERSON", s["start"], s["end"], "ner.champion", float(s.get("score", 0.5)))
                  for s in p.spans if s["label"] in wanted] for rid, p in predictions.items()}
