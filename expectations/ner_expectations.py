"""Custom Great Expectations (1.x) for NER spans, beside the JSON contracts that use them.

Each rule is a map expectation, so GX reports the failing rows (and `mostly` applies).
`lepton.validation.gx_suite` imports this file before it builds a suite: GX silently drops
expectation types it does not know, and the loader counts what it got.

Rules: a span lies inside its text; its text equals text[start:end]; spans of one record
do not overlap; a span has no leading or trailing whitespace; its label belongs to the
current label schema; its edges fall on the tokenizer's token boundaries; near-identical
documents of a dataset share one split.
"""

from __future__ import annotations

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, MulticolumnMapExpectation
from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial
from great_expectations.expectations.metrics.map_metric_provider import (
    MulticolumnMapMetricProvider,
    multicolumn_condition_partial,
)

from lepton.validation.spans import overlapping

_MULTI_DOMAIN = ("batch_id", "table", "column_list", "row_condition", "condition_parser", "ignore_row_if")


class SpanInsideText(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.lepton_span_inside_text"
    condition_domain_keys = _MULTI_DOMAIN

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        start, end, text_len = (column_list[c] for c in column_list.columns[:3])
        return (start >= 0) & (start < end) & (end <= text_len)


class ExpectSpanInsideText(MulticolumnMapExpectation):
    """column_list: [start, end, text_len]: 0 <= start < end <= len(text)."""
    map_metric = "multicolumn_values.lepton_span_inside_text"
    success_keys = ("mostly",)


class SpanTextMatches(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.lepton_span_text_matches"
    condition_domain_keys = _MULTI_DOMAIN

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        said, at = (column_list[c] for c in column_list.columns[:2])
        return at.notna() & (said == at)


class ExpectSpanTextToMatchTextAtOffsets(MulticolumnMapExpectation):
    """column_list: [span_text, text_at_span]: what the annotator saw is what the offsets select."""
    map_metric = "multicolumn_values.lepton_span_text_matches"
    success_keys = ("mostly",)


class SpansDoNotOverlap(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.lepton_spans_do_not_overlap"
    condition_domain_keys = _MULTI_DOMAIN

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        rid, start, end = column_list.columns[:3]
        return pd.Series(~overlapping(column_list[rid], column_list[start], column_list[end]),
                         index=column_list.index)


class ExpectSpansToNotOverlap(MulticolumnMapExpectation):
    """column_list: [record_id, start, end]: no two spans of one record share a character."""
    map_metric = "multicolumn_values.lepton_spans_do_not_overlap"
    success_keys = ("mostly",)


class NoEdgeWhitespace(ColumnMapMetricProvider):
    condition_metric_name = "column_values.lepton_no_edge_whitespace"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        s = column.fillna("").astype(str)
        return s == s.str.strip()


class ExpectSpanTextToHaveNoEdgeWhitespace(ColumnMapExpectation):
    map_metric = "column_values.lepton_no_edge_whitespace"
    success_keys = ("mostly",)


class LabelInCurrentSchema(ColumnMapMetricProvider):
    condition_metric_name = "column_values.lepton_label_in_current_schema"
    condition_value_keys = ("labels",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, labels, **kwargs):
        return column.isin(list(labels))


class ExpectLabelsInCurrentSchema(ColumnMapExpectation):
    """`labels` is filled in from the label schema file when validating (see
    lepton.validation.gx_suite.SCHEMA_EXPECTATION), so the contract never holds a stale
    copy of it."""
    map_metric = "column_values.lepton_label_in_current_schema"
    success_keys = ("mostly", "labels")
    labels: list = []


class AlignedToTokens(ColumnMapMetricProvider):
    condition_metric_name = "column_values.lepton_aligned_to_tokens"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return column.fillna(True).astype(bool)


class ExpectSpansToAlignToTokens(ColumnMapExpectation):
    """column: `aligned` (from the annotation batch's token-alignment report); `mostly` is
    the minimum alignment rate."""
    map_metric = "column_values.lepton_aligned_to_tokens"
    success_keys = ("mostly",)


class FamilyInOneSplit(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.lepton_family_in_one_split"
    condition_domain_keys = _MULTI_DOMAIN

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        family, split = column_list.columns[:2]
        return column_list.groupby(family)[split].transform("nunique") == 1


class ExpectNearDuplicatesInOneSplit(MulticolumnMapExpectation):
    """column_list: [family, split]: a document and its near-duplicates never straddle splits
    (the train/test leakage rule)."""
    map_metric = "multicolumn_values.lepton_family_in_one_split"
    success_keys = ("mostly",)
