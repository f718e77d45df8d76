"""Great Expectations 1.x validation of annotation spans against a suite in expectations/.

GX is imported inside the functions: it costs seconds to import, and the Dagster code
location must load fast. The report keeps row locations (file, line, span index) but
never unexpected values, which may be personal data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from lepton.corpus.records import Record

MAX_ROWS_REPORTED = 5
# The expectation whose allowed labels come from the label schema file when validating.
SCHEMA_EXPECTATION = "expect_labels_in_current_schema"


def mask(value) -> str:
    """A failing value a person can act on without reading personal data: numbers as they
    are, text as its first character and its length."""
    if value is None or (isinstance(value, float) and value != value):
        return "null"
    if isinstance(value, (bool, int, float)) or not isinstance(value, str):
        return str(value)
    return f"{value[:1]}…({len(value)} chars)" if value else "''"


class SuiteError(Exception):
    pass


@dataclass
class ExpectationOutcome:
    expectation: str
    rule: str
    column: str
    success: bool
    unexpected_count: int
    failing_rows: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)  # the failing values, text masked


@dataclass
class ValidationReport:
    suite: str
    suite_key: str  # name + hash of the suite file: a changed contract is a new validation
    success: bool
    evaluated_rows: int
    outcomes: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def summary(self) -> str:
        if self.success:
            return f"suite {self.suite}: all {len(self.outcomes)} expectations passed on {self.evaluated_rows} rows"
        parts = [f"{o.rule} ({o.unexpected_count} rows, e.g. {', '.join(o.failing_rows) or 'table-level'})"
                 for o in self.failed]
        return f"suite {self.suite}: {len(self.failed)} of {len(self.outcomes)} expectations failed: " + "; ".join(parts)

    def to_dict(self) -> dict:
        return {
            "suite": self.suite, "suite_key": self.suite_key, "success": self.success, "evaluated_rows": self.evaluated_rows,
            "outcomes": [o.__dict__ for o in self.outcomes],
        }


def spans_frame(records: list[Record], unaligned: set[tuple[str, int, int]] = frozenset()):
    """One row per span. `unaligned`: (record id, start, end) of the spans whose edges miss
    the tokenizer's token boundaries, from the annotation batch's alignment report."""
    import pandas as pd

    rows = []
    for rec in records:
        for i, sp in enumerate(rec.spans):
            at_span = rec.text[sp.start:sp.end] if 0 <= sp.start <= sp.end <= len(rec.text) else None
            rows.append({
                "span_id": f"{rec.record_id}:{i}",
                "record_id": rec.record_id,
                "where": f"{rec.source}:{rec.line} span {i}",
                "label": sp.label,
                "start": sp.start,
                "end": sp.end,
                "text_len": len(rec.text),
                "span_text": sp.text if sp.text is not None else at_span,
                "text_at_span": at_span,
                "aligned": (rec.record_id, sp.start, sp.end) not in unaligned,
            })
    columns = ["span_id", "record_id", "where", "label", "start", "end", "text_len", "span_text", "text_at_span",
               "aligned"]
    return pd.DataFrame(rows, columns=columns)


def suite_key(path: Path) -> str:
    """Suite name + hash of its file: a changed contract (or threshold file) is a new
    validation, never mistaken for the old one's result."""
    path = Path(path)
    return f"{path.stem}-{hashlib.sha256(path.read_bytes()).hexdigest()[:10]}"


def documents_frame(records: list[Record], unaligned=frozenset()):
    """One row per document, for the raw-documents contract (no text, only its length)."""
    import pandas as pd

    rows = [{"record_id": r.record_id, "where": f"{r.source}:{r.line}", "source": r.source, "line": r.line,
             "text_len": len(r.text), "spans": len(r.spans)} for r in records]
    return pd.DataFrame(rows, columns=["record_id", "where", "source", "line", "text_len", "spans"])


def split_rows_frame(rows: list[dict], unaligned=frozenset()):
    """One row per record of a dataset version: record_id, split, family, text_len, spans."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=["record_id", "split", "family", "text_len", "spans"])
    df.insert(1, "where", df["split"] + ":" + df["record_id"])
    return df


FRAMES = {"spans": spans_frame, "documents": documents_frame, "split_rows": split_rows_frame}


def load_custom_expectations(folder: Path) -> list[str]:
    """Imports the custom expectations kept beside the suites (expectations/*.py), which
    registers them with GX; returns the module names."""
    import importlib.util
    import sys

    names = []
    for py in sorted(Path(folder).glob("*.py")):
        name = f"lepton_expectations_{py.stem}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, py)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        names.append(name)
    return names


def load_suite(path: Path, labels=None):
    """Builds the GX suite and refuses one that lost expectations on the way: GX drops
    expectation types it does not know (e.g. a custom one that was not imported). `labels`
    (the label schema's) fill in the schema expectation; a suite that has one needs them."""
    import great_expectations as gx

    load_custom_expectations(Path(path).parent)
    spec = json.loads(Path(path).read_text())
    for e in spec["expectations"]:
        if e["type"] == SCHEMA_EXPECTATION:
            if labels is None:
                raise SuiteError(f"{path}: {SCHEMA_EXPECTATION} needs the label schema's labels")
            e["kwargs"] = {**e["kwargs"], "labels": list(labels)}
    suite = gx.ExpectationSuite(name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta"))
    if len(suite.expectations) != len(spec["expectations"]):
        raise SuiteError(f"{path}: suite declares {len(spec['expectations'])} expectations "
                         f"but GX loaded {len(suite.expectations)}")
    return suite, spec


def validate_frame(df, suite_path: Path, labels=None):
    """The GX run itself, on a spans frame (what the benchmark times)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    suite, spec = load_suite(suite_path, labels)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_def = (ctx.data_sources.add_pandas("lepton").add_dataframe_asset(spec["name"])
                 .add_batch_definition_whole_dataframe("batch"))
    # SUMMARY names the first failing rows of each rule, which is all a report shows;
    # COMPLETE lists every failing row and costs 15% more at a million spans.
    fmt = {"result_format": "SUMMARY", "partial_unexpected_count": MAX_ROWS_REPORTED}
    # One batch per run through a ValidationDefinition: `batch_def.get_batch(...).validate()`
    # builds the batch twice, and GX fingerprints the whole frame (md5 of every cell) each
    # time, which was a third of the run at a million spans.
    run = ctx.validation_definitions.add(gx.ValidationDefinition(name=spec["name"], data=batch_def,
                                                                 suite=ctx.suites.add(suite)))
    # `where` (file:line, for the report) is read back by row index and no rule uses it:
    # left out of the frame GX fingerprints.
    frame = df.drop(columns=["where"]) if "where" in df.columns else df
    result = run.run(batch_parameters={"dataframe": frame}, result_format=fmt)
    return result, spec


def validate_records(records: list, suite_path: Path,
                     unaligned: set[tuple[str, int, int]] = frozenset(), labels=None) -> ValidationReport:
    """Rows are spans, documents or split rows, as the suite's `meta.rows` says."""
    rows = json.loads(Path(suite_path).read_text()).get("meta", {}).get("rows", "spans")
    df = FRAMES[rows](records, unaligned)
    result, spec = validate_frame(df, suite_path, labels)
    outcomes = []
    for r in result.results:
        cfg = r.expectation_config
        kwargs = cfg.kwargs
        column = kwargs.get("column") or ",".join(
            str(kwargs[k]) for k in ("column_A", "column_B") if k in kwargs) or ",".join(
            kwargs.get("column_list") or []) or "(table)"
        idx = (r.result or {}).get("partial_unexpected_index_list") or []
        cols = [c for c in (kwargs.get("column_list") or [kwargs.get("column"), kwargs.get("column_A"),
                                                           kwargs.get("column_B")]) if c]
        examples = ["; ".join(f"{c}={mask(df.iloc[int(i)][c])}" for c in cols) for i in idx[:MAX_ROWS_REPORTED]]
        outcomes.append(ExpectationOutcome(
            expectation=cfg.type,
            rule=(cfg.meta or {}).get("rule", cfg.type),
            column=column,
            success=bool(r.success),
            unexpected_count=int((r.result or {}).get("unexpected_count") or (0 if r.success else 1)),
            failing_rows=[str(df.iloc[int(i)]["where"]) for i in idx[:MAX_ROWS_REPORTED]],
            examples=examples,
        ))
    return ValidationReport(suite=spec["name"], suite_key=suite_key(suite_path), success=bool(result.success),
                            evaluated_rows=len(df), outcomes=outcomes)
