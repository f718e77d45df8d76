"""Every input format against real files on disk: JSONL, CSV/TSV with a column mapping,
plain text per line or per file, CoNLL in IOB2, IOB1 and BIOES; BOM, CRLF and gzip."""

import gzip
import json

import pytest

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
