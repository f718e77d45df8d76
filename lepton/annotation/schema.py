"""The entity label schema: a reviewed file (policy/labels.yaml by default), read by one
loader, so the Label Studio config, the validation suite, the distribution contract, the
model's head and the review pack can never disagree about which labels exist.

A schema change is data, not an edit that breaks things: a rename or merge is declared
(`renamed: {OLD: NEW}`) and applied to annotations when they are pulled; a removed label
is declared (`removed: [X]`) so the spans still carrying it are refused and counted
rather than lost; input names reach their label through aliases.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from xml.sax.saxutils import quoteattr

import yaml

# The control and object tag names in the Label Studio config; every result we read or write
# names them, so they live beside the labels.
FROM_NAME = "label"
TO_NAME = "text"

NAME_RE = re.compile(r"^[A-Za-z_][\w-]*$")
PREFIX_RE = re.compile(r"^[BIES]-", re.IGNORECASE)
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
LABEL_KEYS = {"description", "colour", "hotkey", "aliases", "pii", "min_examples"}
TOP_KEYS = {"labels", "renamed", "removed"}
# Shown to annotators beside a name kept in the config only so existing annotations stay valid.
RETIRED_COLOUR = "#bdbdbd"


class SchemaError(ValueError):
    """A schema file that breaks a rule, or a label that a schema does not know."""


@dataclass(frozen=True)
class Label:
    name: str
    description: str = ""
    colour: str | None = None
    hotkey: str | None = None
    aliases: tuple[str, ...] = ()
    pii: str | None = None
    min_examples: int | None = None  # this label's own floor in the distribution contract


def _key(name: str) -> str:
    """How input names are matched: case-insensitive, a tag prefix (B-, I-, E-, S-) ignored."""
    return PREFIX_RE.sub("", name.strip()).casefold()


@dataclass(frozen=True)
class LabelSchema:
    labels: tuple[Label, ...]
    renamed: dict = field(default_factory=dict)   # old name -> current label
    removed: tuple[str, ...] = ()
    source: str = "(in memory)"

    def __post_init__(self):
        self._check()

    # --- identity ------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(lab.name for lab in self.labels)

    def to_dict(self) -> dict:
        return {"labels": {lab.name: {k: v for k, v in (("description", lab.description), ("colour", lab.colour),
                                                         ("hotkey", lab.hotkey), ("aliases", list(lab.aliases)),
                                                         ("pii", lab.pii), ("min_examples", lab.min_examples))
                                     if v is not None and v != "" and v != []}
                           for lab in self.labels},
                "renamed": dict(sorted(self.renamed.items())), "removed": sorted(self.removed)}

    @property
    def version(self) -> str:
        """A hash of the content, so a changed schema is a new version without anyone bumping a number."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    def label(self, name: str) -> Label:
        return next(lab for lab in self.labels if lab.name == name)

    def min_examples(self) -> dict[str, int]:
        """The labels that declare their own floor of training spans in the distribution
        contract (the others take the thresholds file's): a rare type in a small corpus is a
        reviewed decision in this file, not a lower bar for every label."""
        return {lab.name: lab.min_examples for lab in self.labels if lab.min_examples is not None}

    def pii_labels(self, pii_type: str) -> tuple[str, ...]:
        """The labels whose spans are findings of `pii_type` (e.g. PERSON)."""
        return tuple(lab.name for lab in self.labels if lab.pii == pii_type)

    # --- mapping input names -------------------------------------------------------------

    def canonical(self, name: str) -> str | None:
        """The label an input name means: the label itself, an alias, or a declared rename;
        None for a name this schema does not know (or removed)."""
        if name in self.names:
            return name
        if name in self.renamed:
            return self.renamed[name]
        return self._aliases.get(_key(name))

    def require(self, name: str, where: str) -> str:
        """`canonical`, or an error naming where the name was found and what is allowed."""
        got = self.canonical(name)
        if got is None:
            why = "was removed from" if name in self.removed else "is not a label of"
            raise SchemaError(f"{where}: tag {name!r} {why} label schema {self.version} ({self.source}); "
                              f"labels: {', '.join(self.names)}")
        return got

    @cached_property
    def _aliases(self) -> dict[str, str]:
        return {k: lab.name for lab in self.labels for k in (_key(lab.name), *(_key(a) for a in lab.aliases))}

    def relabel(self, record, keep_removed: bool = False) -> "Relabelled":
        """A record's spans under this schema: aliases and declared renames applied, spans of
        removed labels taken out (or kept, for the gate to refuse); unknown labels kept as they
        are (the validation gate, or the caller, refuses them) and listed."""
        from dataclasses import replace

        spans: list = []
        unknown: list[str] = []
        mapped: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        for sp in record.spans:
            if sp.label in self.removed:
                if keep_removed:
                    spans.append(sp)
                else:
                    refused[sp.label] += 1
                continue
            got = self.canonical(sp.label)
            if got is None:
                unknown.append(sp.label)
                spans.append(sp)
            elif got != sp.label:
                mapped[f"{sp.label} -> {got}"] += 1
                spans.append(replace(sp, label=got))
            else:
                spans.append(sp)
        changed = bool(mapped or refused)
        return Relabelled(replace(record, spans=tuple(spans)) if changed else record, mapped, refused, unknown)

    def relabel_records(self, records: dict, where: str) -> dict:
        """`relabel` over {record id: record}, in place, for data resolved under an earlier
        schema: renames applied and removed labels refused (both counted); a label this schema
        does not know is an error naming the record."""
        mapped: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        for rid, rec in list(records.items()):
            r = self.relabel(rec)
            if r.unknown:
                raise SchemaError(f"{where}: {rec.source}:{rec.line} (record {rid}) has label {r.unknown[0]!r}, "
                                  f"which label schema {self.version} ({self.source}) neither has nor maps")
            mapped.update(r.mapped)
            refused.update(r.refused)
            records[rid] = r.record
        return {"mapped": dict(sorted(mapped.items())), "refused": dict(sorted(refused.items()))}

    def reconcile(self, model_labels: Iterable[str], model: str) -> "ModelLabels":
        """How a model trained under another schema reads under this one: each of its labels
        kept, renamed by a declared mapping, or dropped because this schema removed it. A
        label neither kept nor declared is an error: the model is never used against a
        schema it does not fit without saying so."""
        model_labels = tuple(model_labels)
        mapping: dict[str, str | None] = {}
        unknown: list[str] = []
        for lab in model_labels:
            if lab in self.removed:
                mapping[lab] = None
            elif (got := self.canonical(lab)) is not None:
                mapping[lab] = got
            else:
                unknown.append(lab)
        if unknown:
            raise SchemaError(f"{model} predicts {', '.join(unknown)}, which label schema {self.version} "
                              f"({self.source}) neither has nor maps: declare them under 'renamed' or 'removed', "
                              "or train a model under this schema")
        return ModelLabels(model, schema_version(model_labels), self.version, mapping,
                           tuple(n for n in self.names if n not in mapping.values()))

    # --- outputs -------------------------------------------------------------------------

    def bio_tags(self) -> list[str]:
        """IOB2 tag list with "O" first, so index 0 is always the outside tag."""
        return bio_tags(self.names)

    def retired(self) -> tuple[str, ...]:
        """Names no longer labels (renamed away or removed) that Label Studio must still know,
        or it refuses a config that orphans existing annotations."""
        return tuple(sorted(set(self.renamed) | set(self.removed)))

    def label_config(self) -> str:
        """The Label Studio labeling config, generated so that nobody edits XML by hand in the UI:
        each label with its description as the annotator's hint, its colour and hotkey; retired
        names last, greyed, with a hint that says what happened to them."""
        items = []
        for lab in self.labels:
            attrs = {"value": lab.name, "hint": lab.description or None, "background": lab.colour,
                     "hotkey": lab.hotkey}
            items.append(_tag("Label", attrs))
        for name in self.retired():
            hint = (f"retired: renamed to {self.renamed[name]}; do not use" if name in self.renamed
                    else "retired: removed from the schema; do not use")
            items.append(_tag("Label", {"value": name, "hint": hint, "background": RETIRED_COLOUR}))
        return (f'<View><Labels name="{FROM_NAME}" toName="{TO_NAME}">{"".join(items)}</Labels>'
                f'<Text name="{TO_NAME}" value="$text"/></View>')

    # --- rules ---------------------------------------------------------------------------

    def _check(self) -> None:
        where = self.source
        if not self.labels:
            raise SchemaError(f"{where}: 'labels' must name at least one label")
        seen: dict[str, str] = {}
        hotkeys: dict[str, str] = {}
        for lab in self.labels:
            if not NAME_RE.match(lab.name):
                raise SchemaError(f"{where}: label {lab.name!r} must match {NAME_RE.pattern}")
            if lab.name.upper() == "O":
                raise SchemaError(f"{where}: 'O' is the outside tag and cannot be a label")
            if lab.colour and not COLOUR_RE.match(lab.colour):
                raise SchemaError(f"{where}: label {lab.name}: colour {lab.colour!r} must be #rrggbb")
            if lab.min_examples is not None and (isinstance(lab.min_examples, bool)
                                                 or not isinstance(lab.min_examples, int) or lab.min_examples < 0):
                raise SchemaError(f"{where}: label {lab.name}: min_examples {lab.min_examples!r} must be a whole "
                                  "number >= 0")
            if lab.hotkey:
                if lab.hotkey in hotkeys:
                    raise SchemaError(f"{where}: hotkey {lab.hotkey!r} of {lab.name} is already {hotkeys[lab.hotkey]}'s")
                hotkeys[lab.hotkey] = lab.name
            for key in (_key(lab.name), *(_key(a) for a in lab.aliases)):
                if key in seen and seen[key] != lab.name:
                    raise SchemaError(f"{where}: name or alias {key!r} of {lab.name} already means {seen[key]}")
                seen[key] = lab.name
        for old, new in self.renamed.items():
            if new not in self.names:
                raise SchemaError(f"{where}: renamed {old!r} -> {new!r}, but {new!r} is not a label")
            if old in self.names:
                raise SchemaError(f"{where}: renamed {old!r} is still a label: remove it from 'labels'")
        for name in self.removed:
            if name in self.names:
                raise SchemaError(f"{where}: removed {name!r} is still a label: remove it from 'labels'")
            if name in self.renamed:
                raise SchemaError(f"{where}: {name!r} is both renamed and removed")

    @classmethod
    def of(cls, names: Iterable[str], source: str = "(in memory)") -> "LabelSchema":
        """A schema of bare names (no descriptions), e.g. the labels found in a training file."""
        return cls(tuple(Label(n) for n in names), source=source)


@dataclass
class Relabelled:
    record: object                  # lepton.corpus.records.Record
    mapped: Counter                 # "OLD -> NEW": spans renamed (alias or declared rename)
    refused: Counter                # removed label -> spans taken out
    unknown: list                   # labels this schema does not know (spans kept)


@dataclass(frozen=True)
class ModelLabels:
    """A model's labels read under the current schema (see `LabelSchema.reconcile`)."""

    model: str
    model_schema: str                 # version of the model's bare label list
    schema: str                       # version of the schema it is read under
    mapping: dict                     # model label -> current label, or None (removed)
    unseen: tuple[str, ...] = ()      # current labels the model never learnt

    @property
    def changed(self) -> dict:
        return {k: v for k, v in self.mapping.items() if k != v}

    def apply(self, spans: list[dict]) -> tuple[list[dict], int]:
        """The spans with current labels, and how many were dropped (their label was removed)."""
        out = [{**sp, "label": self.mapping[sp["label"]]} for sp in spans if self.mapping.get(sp["label"])]
        return out, len(spans) - len(out)

    def summary(self) -> dict:
        return {"model": self.model, "model_labels_version": self.model_schema, "schema": self.schema,
                "mapped": {k: v for k, v in self.changed.items() if v}, "dropped": sorted(k for k, v in self.mapping.items() if v is None),
                "not_learnt": list(self.unseen)}


def _tag(name: str, attrs: dict) -> str:
    return f"<{name} " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items() if v) + "/>"


def bio_tags(labels: Iterable[str]) -> list[str]:
    return ["O"] + [f"{p}-{lab}" for lab in labels for p in ("B", "I")]


def labels_of_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Entity labels of an IOB2 tag list, in its order (a model's id2label)."""
    out: list[str] = []
    for t in tags:
        if t != "O" and t[2:] not in out:
            out.append(t[2:])
    return tuple(out)


def parse_schema(doc, source: str) -> LabelSchema:
    if not isinstance(doc, dict):
        raise SchemaError(f"{source}: expected a mapping with 'labels'")
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise SchemaError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(TOP_KEYS))}")
    raw = doc.get("labels")
    if isinstance(raw, list):  # a bare list of names is a schema too
        raw = {n: {} for n in raw}
    if not isinstance(raw, dict):
        raise SchemaError(f"{source}: 'labels' must map each label name to its description and options")
    labels = []
    for name, spec in raw.items():
        spec = {"description": spec} if isinstance(spec, str) else (spec or {})
        if not isinstance(spec, dict):
            raise SchemaError(f"{source}: label {name!r} must map to a description or options")
        bad = set(spec) - LABEL_KEYS
        if bad:
            raise SchemaError(f"{source}: label {name}: unknown key(s) {', '.join(sorted(bad))}; "
                              f"allowed: {', '.join(sorted(LABEL_KEYS))}")
        aliases = spec.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise SchemaError(f"{source}: label {name}: 'aliases' must be a list of names")
        labels.append(Label(str(name), str(spec.get("description") or ""), spec.get("colour"),
                            None if spec.get("hotkey") is None else str(spec["hotkey"]), tuple(aliases),
                            spec.get("pii"), spec.get("min_examples")))
    renamed = doc.get("renamed") or {}
    removed = doc.get("removed") or []
    if not isinstance(renamed, dict):
        raise SchemaError(f"{source}: 'renamed' must map old names to current labels")
    if not isinstance(removed, list):
        raise SchemaError(f"{source}: 'removed' must be a list of names")
    return LabelSchema(tuple(labels), {str(k): str(v) for k, v in renamed.items()}, tuple(map(str, removed)),
                       source=source)


def load_schema(path: str | Path | None = None) -> LabelSchema:
    """The schema in `path`, or the configured one: LEPTON_LABEL_SCHEMA, else the shipped
    policy/labels.yaml (PER, ORG, LOC, MISC)."""
    p = Path(path or schema_file())
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"label schema file {p} does not exist") from None
    except yaml.YAMLError as exc:
        raise SchemaError(f"{p}: not valid YAML ({exc})") from None
    return parse_schema(doc, str(p))


def schema_file() -> Path:
    from lepton.settings import Settings

    return Settings.from_env().label_schema_file


def schema_version(labels: Iterable[str]) -> str:
    """The version of a bare label list (a model's head), comparable with nothing but another
    bare list: a file's version is `LabelSchema.version`."""
    return LabelSchema.of(labels).version
