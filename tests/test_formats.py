"""Every input format against real files on disk: JSONL, CSV/TSV with a column mapping,
plain text per line or per file, CoNLL in IOB2, IOB1 and BIOES; BOM, CRLF and gzip."""

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lepton.corpus.ingest import ReaderOptions, ingest_folder, read_records


def _ingest(tmp_path, files: dict[str, bytes], **options):
    landing = tmp_path / "landing"
    landing.mkdir(parents=True)
    for name, data in files.items():
        (landing / name).write_bytes(data)
    report = ingest_folder(landing, tmp_path / "out" / "r.jsonl", tmp_path / "out" / "q.jsonl",
                           options=ReaderOptions(**options))
    assert all(f.balanced for f in report.files)
    records = {(r.source, r.line): r for r in read_records(tmp_path / "out" / "r.jsonl")}
    rejected = [json.loads(line) for line in (tmp_path / "out" / "q.jsonl").read_text().splitlines()]
    return report, records, {(q["source"], q["line"]): q["rule"] for q in rejected}


def test_csv_with_column_mapping_bom_crlf_quoted_newlines_and_bad_rows(tmp_path):
    data = ('\ufeffid,body,ents\r\n'
            '1,"Ana works at Acme.","[{""start"": 0, ""end"": 3, ""label"": ""PER""}]"\r\n'
            '2,"A quoted\r\nnewline in Oslo.",\r\n'
            '3,"too","many","fields"\r\n'
            '4,"bad spans","[oops"\r\n').encode() + b'5,"caf\xe9",\r\n'
    report, recs, rej = _ingest(tmp_path, {"a.csv": data}, csv_text_column="body", csv_spans_column="ents")
    assert recs[("a.csv", 2)].spans[0].label == "PER" and recs[("a.csv", 2)].text == "Ana works at Acme."
    assert recs[("a.csv", 3)].text == "A quoted\r\nnewline in Oslo."
    assert rej == {("a.csv", 5): "csv.wrong_field_count", ("a.csv", 6): "csv.spans_not_json",
                   ("a.csv", 7): "encoding.not_utf8"}
    assert report.files[0].records_in == 5


def test_csv_without_the_mapped_column_names_the_rule(tmp_path):
    _, recs, rej = _ingest(tmp_path, {"a.csv": b"title\nhello\n"})
    assert not recs and rej == {("a.csv", 1): "csv.missing_column"}


def test_plain_text_per_line_and_per_file(tmp_path):
    files = {"lines.txt": b"First doc.\r\n\r\nSecond doc.\n", "lines2.txt.gz": gzip.compress(b"Third.\n")}
    _, recs, _ = _ingest(tmp_path, files)
    assert [r.text for r in recs.values()] == ["First doc.", "Second doc.", "Third."]
    _, recs, _ = _ingest(tmp_path / "w", {"whole.txt": b"One\ndocument.\n"}, text_mode="file")
    assert [r.text for r in recs.values()] == ["One\ndocument."]


def test_gzip_jsonl_and_a_corrupt_gzip_file(tmp_path):
    doc = json.dumps({"text": "Ana in Oslo.", "spans": [{"start": 7, "end": 11, "label": "LOC"}]})
    files = {"a.jsonl.gz": gzip.compress((doc + "\n").encode()), "b.jsonl.gz": gzip.compress(b"x" * 50)[:20]}
    report, recs, rej = _ingest(tmp_path, files)
    assert recs[("a.jsonl.gz", 1)].spans[0].label == "LOC"
    assert list(rej.values()) == ["file.corrupt_compression"]


CONLL_IOB2 = "Ana\tB-PER\nSilva\tI-PER\nin\tO\nOslo\tB-LOC\n\n"
CONLL_IOB1 = "Ana\tI-PER\nSilva\tI-PER\nin\tO\nOslo\tI-LOC\n\n"
CONLL_BIOES = "Ana\tB-PER\nSilva\tE-PER\nin\tO\nOslo\tS-LOC\n\n"


@pytest.mark.parametrize("scheme, data", [("iob2", CONLL_IOB2), ("iob1", CONLL_IOB1), ("bioes", CONLL_BIOES)])
def test_conll_schemes_give_the_same_spans(tmp_path, scheme, data):
    _, recs, rej = _ingest(tmp_path, {"a.conll": data.encode()}, conll_scheme=scheme)
    [rec] = recs.values()
    assert not rej and rec.text == "Ana Silva in Oslo"
    assert [(s.text, s.label) for s in rec.spans] == [("Ana Silva", "PER"), ("Oslo", "LOC")]


@pytest.mark.parametrize("scheme, data", [("iob2", CONLL_IOB1), ("bioes", CONLL_IOB2), ("iob2", CONLL_BIOES)])
def test_conll_tags_outside_the_declared_scheme_are_quarantined(tmp_path, scheme, data):
    _, recs, rej = _ingest(tmp_path, {"a.conll": data.encode()}, conll_scheme=scheme)
    assert not recs and list(rej.values()) == ["conll.invalid_transition"]


def test_unknown_format_names_the_file(tmp_path):
    _, _, rej = _ingest(tmp_path, {"a.parquet": b"PAR1"})
    assert rej == {("a.parquet", 0): "file.unknown_format"}


HUGE_LIMIT = 64 * 1024


def _with_a_huge_record(path, suffix: str) -> None:
    """Two ordinary records around one of 40x the limit, as the format writes them."""
    huge, small = "Ana " * (HUGE_LIMIT * 10), ["Ana lives in Oslo.", "Bob works at Acme."]
    if suffix in (".jsonl", ".jsonl.gz"):
        body = "".join(json.dumps({"text": t}) + "\n" for t in (small[0], huge, small[1]))
    elif suffix == ".txt":
        body = f"{small[0]}\n{huge}\n{small[1]}\n"
    elif suffix == ".csv":
        body = "text\n" + "".join(f'"{t}"\n' for t in (small[0], huge, small[1]))
    elif suffix in (".json", ".json.gz"):  # a Label Studio export: a list of annotated tasks
        body = json.dumps([{"id": i, "data": {"text": t}, "annotations": [{"id": i, "result": []}]}
                           for i, t in enumerate((small[0], huge, small[1]))])
    else:  # .conll: a sentence of one huge token
        body = "Ana B-PER\nlives O\n\n" + huge.replace(" ", "") + " O\n\nBob B-PER\nworks O\n"
    data = body.encode()
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".txt", ".csv", ".conll", ".json", ".json.gz"])
def test_a_huge_record_is_refused_as_it_is_read_and_never_held_whole(tmp_path, suffix):
    """One line of 2.6 MB (or a gzip stream that expands to it) is refused by the limit
    (setting LEPTON_MAX_RECORD_BYTES) as it is read; the records around it are kept and the
    ledger balances."""
    import tracemalloc

    landing = tmp_path / "landing"
    landing.mkdir()
    _with_a_huge_record(landing / f"big{suffix}", suffix)
    options = ReaderOptions(max_record_bytes=HUGE_LIMIT)
    path = landing / f"big{suffix}"
    tracemalloc.start()
    items = list(options.reader_for(path)(path, path.name))  # the reading alone (not the file's hash)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(items) == 3
    report = ingest_folder(landing, tmp_path / "records.jsonl", tmp_path / "q.jsonl", options=options)
    [ledger] = report.files
    assert ledger.rules == {"record.too_large": 1} and ledger.accepted == 2 and ledger.balanced
    assert "record.too_large" in (tmp_path / "q.jsonl").read_text()
    if suffix != ".csv":  # the csv module reads a physical line whole before it can refuse the field
        assert peak < 20 * HUGE_LIMIT, f"peak {peak} bytes while reading"


def test_the_same_text_with_other_spans_is_a_conflict_not_a_duplicate(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    text = "Ana works at Acme."
    lines = [{"text": text, "spans": [{"start": 0, "end": 3, "label": "PER"}]},
             {"text": text, "spans": [{"start": 0, "end": 3, "label": "PER"}]},   # the same again
             {"text": text, "spans": [{"start": 13, "end": 17, "label": "ORG"}]}]  # other spans
    (landing / "a.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    report = ingest_folder(landing, tmp_path / "records.jsonl", tmp_path / "q.jsonl")
    [ledger] = report.files
    assert ledger.accepted == 1 and ledger.rules == {"record.duplicate": 1, "record.conflict": 1}
    conflict = [json.loads(x) for x in (tmp_path / "q.jsonl").read_text().splitlines()][1]
    assert conflict["rule"] == "record.conflict" and "line 1" in conflict["detail"]


FUZZ_SUFFIXES = [".jsonl", ".jsonl.gz", ".csv", ".tsv", ".txt", ".conll", ".json"]
hostile = st.one_of(
    st.binary(max_size=3000),                                             # anything at all
    st.text(max_size=2000).map(str.encode),                               # any text, any line ends
    st.integers(1, 5000).map(lambda n: ("[" * n + "]" * n).encode()),      # deep nesting
    st.integers(1, 5000).map(lambda n: ('{"text": ' * n).encode()),       # deep, unclosed
    st.tuples(st.integers(0, 200_000), st.sampled_from(['{"text": "', '"', "A", "B-PER "])).map(
        lambda t: (t[1] + "x" * t[0]).encode()),                          # one huge field
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hostile, suffix=st.sampled_from(FUZZ_SUFFIXES))
def test_every_reader_survives_hostile_bytes_and_counts_every_record(tmp_path_factory, data, suffix):
    """Random bytes, deep nesting and huge fields through every reader: no crash, every record
    in is counted out as accepted or quarantined."""
    tmp = tmp_path_factory.mktemp("fuzz")
    landing = tmp / "landing"
    landing.mkdir()
    (landing / f"f{suffix}").write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    report = ingest_folder(landing, tmp / "records.jsonl", tmp / "q.jsonl",
                           options=ReaderOptions(max_record_bytes=HUGE_LIMIT))
    [ledger] = report.files
    assert ledger.balanced and ledger.records_in == ledger.accepted + ledger.quarantined
    assert len(read_records(tmp / "records.jsonl")) == ledger.accepted


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab"\\,[]{} \n\u00e9'),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='k"\\,]}', max_size=3), inner,
                                                                  max_size=4),
    max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(json_values, max_size=6), chunk=st.integers(1, 17), indent=st.booleans())
def test_json_items_splits_any_list_the_way_a_parser_reads_it(items, chunk, indent):
    """Strings holding quotes, escapes, brackets and commas, cut at any chunk boundary."""
    import io

    from lepton.corpus.textio import json_items

    data = json.dumps(items, indent=1 if indent else None).encode()
    assert [json.loads(b) for b in json_items(io.BytesIO(data), 1 << 20, chunk_size=chunk)] == items


def test_json_items_keeps_going_past_a_bad_or_huge_item_and_refuses_what_is_not_a_list():
    import io

    from lepton.corpus.textio import json_items

    def items(data: bytes, limit: int = 100):
        return list(json_items(io.BytesIO(data), limit, chunk_size=7))

    assert items(b'[{"a": 1}, {"a": oops}, {"b": "' + b"x" * 500 + b'"}, 3]') == [
        b'{"a": 1}', b' {"a": oops}', 510, b" 3"]
    assert items(b'\xef\xbb\xbf {"data": {"text": "one task"}} ') == [b'{"data": {"text": "one task"}}']
    assert items(b"[]") == [] and items(b"[ ]") == []
    for bad in (b'"just a string"', b"12", b"[1, 2", b"", b"[1] [2]"):
        with pytest.raises(ValueError):
            items(bad)
