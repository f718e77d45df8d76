import dagster as dg

from lepton.corpus.formats import ReaderOptions, parse_format_overrides
from lepton.corpus.textio import MAX_RECORD_BYTES


class IngestionResource(dg.ConfigurableResource):
    """The explicit schema of each input format: CSV column mapping, plain-text mode and the
    CoNLL tag scheme (iob2, iob1 or bioes)."""

    csv_text_column: str = "text"
    csv_spans_column: str = "spans"
    csv_delimiter: str = ","
    text_mode: str = "line"
    conll_scheme: str = "iob2"
    conll_unit: str = "auto"
    tag_names: list[str] = []
    formats: str = ""  # ".txt=conll,..."
    max_record_bytes: int = MAX_RECORD_BYTES  # a line or record longer is refused as it is read

    def options(self) -> ReaderOptions:
        return ReaderOptions(self.csv_text_column, self.csv_spans_column or None, self.csv_delimiter,
                             self.text_mode, self.conll_scheme, self.conll_unit, tuple(self.tag_names),
                             parse_format_overrides(self.formats), self.max_record_bytes)
