"""The PII detection grid: every detector's value kinds in every surrounding context, phone
numbers in the national and international formats of every region the policy accepts, and
look-alikes that must not fire. Shared by the test (which holds the goal) and
`bench/pii_grid.py` (which writes the per-type figures to bench/RESULTS.md).

Phone numbers are libphonenumber's own example numbers per region (mobile and fixed line),
so the grid follows the regions a policy names without a hand-kept list of formats.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import phonenumbers

VALUES = {
    "EMAIL": ["ana.silva@example.org", "o'brien+news@mail.example.co.uk", "x_y-9@sub-domain.example.io"],
    "IP_ADDRESS": ["192.168.1.5", "10.0.0.254", "8.8.4.4", "2001:db8::8a2e:370:7334", "fe80::1"],
    "CREDIT_CARD": ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117"],
    "IBAN": ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606"],
    "NATIONAL_ID": ["536-90-4399", "12345678Z", "284057512345672"],
    "PERSON": ["Ana Silva", "Siobhan O'Neill", "Jean-Luc Moreau", "Zoë Ørsted-Hansen"],
}
# Where a value sits: "{v}" is replaced by it.
CONTEXTS = [
    "{v}", "{v} is on file", "Contact {v}", "Her details: {v}.", "Reach me at {v}, thanks", "Use {v}; not the old one",
    "(see {v})", "Wow, {v}!", 'He wrote "{v}" twice', "It said '{v}'", "Listed as [{v}] here", "Was it {v}?",
    "first line\n{v}\nlast line", "ends on a new line\n{v}", "tab\t{v}\tseparated",
]
# Contexts a type takes in a link (a phone number's tel: link keeps its spaces as people write them).
LINKS = {"EMAIL": ["mailto:{v}", "Write to <mailto:{v}>."], "IP_ADDRESS": ["http://{v}/admin", "See https://{v}:8443/."],
         "PHONE": ["tel:{v}", "Call <tel:{v}> now."]}
# Text that must give no finding at all.
LOOK_ALIKES = [
    "version 1.2.3 is out", "release 2.13.0-rc1 ships", "build 10.4.1b failed", "see section 3.2.1.",
    "order 4111 1111 1111 1112 was cancelled", "invoice 20261203-0042 is paid", "on 2026-12-03 and 03/12/2026",
    "at 14:05:33 sharp", "at 14:05.", "they won 3-1", "score 21-17 at half time", "room 4.12 on floor 4",
    "room B-204", "page 12 of 300", "it was 21.5 degrees", "a 16:9 screen", "in the year 2026", "postcode SW1A 1AA",
    "ISBN 978-0-306-40615-7", "pi is 3.14159265", "lot 12345", "ref A1B2C3", "the 1990s and 2000s",
    "The Bank of England", "Even So, he left", "You Can Do It", "In Good Time",
]


def phone_values(regions: tuple[str, ...]) -> list[tuple[str, str]]:
    """(region, number as written) in national and international formats."""
    out = []
    for region in regions:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            n = phonenumbers.example_number_for_type(region, kind)
            if n is None:
                continue
            for fmt in (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL):
                out.append((region, phonenumbers.format_number(n, fmt)))
    return sorted(set(out))


@dataclass(frozen=True)
class Cell:
    type: str | None   # None for a look-alike
    text: str
    start: int = 0
    end: int = 0


def grid(regions: tuple[str, ...]) -> list[Cell]:
    cells = []
    values = [(t, v) for t, vs in VALUES.items() for v in vs] + [("PHONE", v) for _, v in phone_values(regions)]
    for t, v in values:
        for context in CONTEXTS + LINKS.get(t, []):
            if ":" in v and context.startswith(("http://", "See https://")):
                v_in = f"[{v}]"  # an IPv6 address in a URL is bracketed
                text = context.replace("{v}", v_in)
                start = text.index(v_in) + 1
            else:
                text = context.replace("{v}", v)
                start = text.index(v)
            cells.append(Cell(t, text, start, start + len(v)))
    return cells + [Cell(None, text) for text in LOOK_ALIKES]


def score(detector, cells: list[Cell]) -> dict:
    """Per type: expected, found (the exact span, the right type), false (a finding that is no
    expected value: on a look-alike, of another type, or other offsets); recall and precision."""
    expected, found, false = Counter(), Counter(), Counter()
    misses, wrong = [], []
    for cell in cells:
        hits = detector.detect(cell.text)
        if cell.type is not None:
            expected[cell.type] += 1
        for f in hits:
            if cell.type == f.type and (f.start, f.end) == (cell.start, cell.end):
                found[f.type] += 1
            else:
                false[f.type] += 1
                wrong.append((cell.text, f.type, cell.text[f.start:f.end]))
        if cell.type is not None and not any(f.type == cell.type and (f.start, f.end) == (cell.start, cell.end)
                                             for f in hits):
            misses.append((cell.type, cell.text))
    types = sorted(set(expected) | set(false))
    per_type = {t: {"expected": expected[t], "found": found[t], "false": false[t],
                    "recall": found[t] / expected[t] if expected[t] else 1.0,
                    "precision": found[t] / (found[t] + false[t]) if found[t] + false[t] else 1.0} for t in types}
    total_found, total_false = sum(found.values()), sum(false.values())
    return {"per_type": per_type, "recall": total_found / sum(expected.values()),
            "precision": total_found / (total_found + total_false) if total_found + total_false else 1.0,
            "cells": len(cells), "misses": misses, "wrong": wrong}
