"""The sensitivity policy (policy/sensitivity.yaml) and what it decides per record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from lepton.corpus.records import Span
from lepton.governance.pii import Finding

ACTIONS = {"pass", "redact", "encrypt"}


class PolicyError(Exception):
    pass


@dataclass(frozen=True)
class Policy:
    classes: tuple[str, ...]
    finding_class: dict[str, str]
    actions: dict[str, str]
    redact_types: frozenset[str]
    retention_days: dict[str, int]
    phone_regions: tuple[str, ...] = ("GB",)  # where national-format phone numbers are looked for
    not_given_names: frozenset[str] = frozenset()  # dictionary given names that never start a name

    @classmethod
    def load(cls, path: Path) -> "Policy":
        raw = yaml.safe_load(Path(path).read_text())
        known = {"classes", "finding_class", "actions", "redact_types", "retention_days"}
        if unknown := set(raw) - known - {"phone_regions", "not_given_names"}:
            raise PolicyError(f"{path}: unknown keys {sorted(unknown)}")
        if missing := known - set(raw):
            raise PolicyError(f"{path}: missing keys {sorted(missing)}")
        classes = tuple(raw["classes"])
        for key in ("finding_class",):
            for t, c in raw[key].items():
                if c not in classes:
                    raise PolicyError(f"{path}: {key}.{t} names unknown class {c!r}")
        for key in ("actions", "retention_days"):
            if set(raw[key]) != set(classes):
                raise PolicyError(f"{path}: {key} must name exactly the classes {list(classes)}")
        for c, a in raw["actions"].items():
            if a not in ACTIONS:
                raise PolicyError(f"{path}: actions.{c} is {a!r}, not one of {sorted(ACTIONS)}")
        regions = tuple(raw.get("phone_regions") or ("GB",))
        import phonenumbers

        if bad := [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]:
            raise PolicyError(f"{path}: phone_regions names {bad[0]!r}, not a region libphonenumber knows "
                              "(ISO 3166 alpha-2, upper case)")
        return cls(classes, dict(raw["finding_class"]), dict(raw["actions"]),
                   frozenset(raw["redact_types"]), {k: int(v) for k, v in raw["retention_days"].items()}, regions,
                   frozenset(raw.get("not_given_names") or ()))

    def classify(self, findings: list[Finding]) -> str:
        rank = {c: i for i, c in enumerate(self.classes)}
        level = 0
        for f in findings:
            level = max(level, rank[self.finding_class.get(f.type, self.classes[0])])
        return self.classes[level]

    def action(self, sensitivity: str) -> str:
        return self.actions[sensitivity]


@dataclass
class Redacted:
    text: str
    spans: list[Span]
    touched: int  # annotation spans that overlapped a redacted finding and were widened or replaced
    cuts: list[tuple[int, int, int, int]] = ()  # (start, end) in the text -> (start, end) of its placeholder


def move_offset(i: int, cuts, is_end: bool) -> int:
    """An offset of the text before redaction, in the redacted text: a position inside a
    finding maps to its placeholder's start (span starts) or end (span ends)."""
    offset = 0
    for s, e, ns, ne in cuts:
        if i <= s:
            break
        if i < e or (is_end and i == e):
            return ne if is_end else ns
        offset = ne - e
    return i + offset


def redact(text: str, spans: tuple[Span, ...] | list[Span], findings: list[Finding],
           types: frozenset[str]) -> Redacted:
    """Replaces findings with typed placeholders and moves annotation spans with them, so a
    span never points into the middle of a placeholder. The cuts are kept (offsets only), so
    spans found later on the text before redaction (a model's predictions) move the same way."""
    targets = sorted((f for f in findings if f.type in types), key=lambda f: f.start)
    if not targets:
        return Redacted(text, list(spans), 0, [])
    pieces, cuts, pos, shift = [], [], 0, 0
    for f in targets:
        pieces.append(text[pos:f.start])
        placeholder = f"[{f.type}]"
        new_start = f.start + shift
        cuts.append((f.start, f.end, new_start, new_start + len(placeholder)))
        pieces.append(placeholder)
        shift += len(placeholder) - (f.end - f.start)
        pos = f.end
    pieces.append(text[pos:])
    new_text = "".join(pieces)
    moved, touched = [], 0
    for sp in spans:
        a, b = move_offset(sp.start, cuts, False), move_offset(sp.end, cuts, True)
        if any(sp.start < e and s < sp.end for s, e, _, _ in cuts):
            touched += 1
        moved.append(Span(a, b, sp.label, new_text[a:b]))
    return Redacted(new_text, moved, touched, cuts)
