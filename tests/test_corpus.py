import json

import pytest

from lepton.corpus.conll import read_conll, spans_to_tags, tags_to_spans
from lepton.corpus.ingest import ingest_folder, read_records
from lepton.corpus.jsonl import read_jsonl
from lepton.corpus.quarantine import Rejection
from lepton.corpus.records import Record, Span, record_id
from lepton.corpus.sample import SampleCorpus, write_sample


def test_sample_is_deterministic_per_seed_and_prefix_stable(tmp_path):
    a = list(SampleCorpus(7).documents(50))
    b = list(SampleCorpus(7).documents(80))[:50]
    c = list(SampleCorpus(8).documents(50))
    assert a == b
    assert a != c


def test_sample_spans_match_text_and_cover_all_labels():
    docs = list(SampleCorpus(13).documents(400))
    labels = set()
    for text, spans in docs:
        for sp in spans:
            assert text[sp.start:sp.end] == sp.text
            assert sp.text == sp.text.strip() and sp.text
            labels.add(sp.label)
    assert labels == {"PER", "ORG", "LOC", "MISC"}
    texts = [t for t, _ in docs]
    assert sum("@" in t for t in texts) > 5, "some documents carry planted e-mail addresses"
    assert sum("+44 20 7946" in t for t in texts) > 5, "and phone numbers"


def test_write_sample_writes_both_formats_and_bounds_size(tmp_path):
    counts = write_sample(tmp_path, 100, seed=3)
    assert sorted(counts.values()) == [20, 80]
    with pytest.raises(ValueError, match="between 1 and 1,000,000"):
        write_sample(tmp_path, 1_000_001)


def test_conll_written_sample_reads_back_with_same_entities(tmp_path):
    write_sample(tmp_path, 50, seed=5, conll_share=1.0)
    records = [r for r in read_conll(tmp_path / "sample-5.conll", "s.conll")]
    assert len(records) == 50 and all(isinstance(r, Record) for r in records)
    originals = list(SampleCorpus(5).documents(50))
    for rec, (_, spans) in zip(records, originals):
        assert [(s.label, s.text) for s in rec.spans] == [(s.label, s.text) for s in spans]
        for s in rec.spans:
            assert rec.text[s.start:s.end] == s.text


def test_tags_spans_round_trip():
    text = "Ana Silva joined Acme Corporation in São Paulo ."
    spans = [Span(0, 9, "PER"), Span(17, 33, "ORG"), Span(37, 46, "LOC")]
    tokens, tags = zip(*spans_to_tags(text, spans))
    rebuilt, back = tags_to_spans(list(tokens), list(tags))
    assert rebuilt == text
    assert [(s.start, s.end, s.label) for s in back] == [(s.start, s.end, s.label) for s in spans]


def test_jsonl_reader_quarantines_with_line_and_rule(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"text": "Ana works at Acme.", "spans": [{"start": 0, "end": 3, "label": "PER"}]}\r\n'
        b'not json\n'
        b'\n'
        b'{"text": ""}\n'
        b'{"text": "x", "spans": [{"start": "0", "end": 1, "label": "PER"}]}\n'
        b'{"text": "caf\xff"}\n'
        b'[1, 2]\n'
    )
    items = list(read_jsonl(path, "in.jsonl"))
    assert isinstance(items[0], Record) and items[0].text == "Ana works at Acme."
    rejected = [(i.line, i.rule) for i in items if isinstance(i, Rejection)]
    assert rejected == [(2, "json.invalid"), (4, "text.empty"), (5, "span.offsets_not_int"),
                        (6, "encoding.not_utf8"), (7, "json.not_object")]


def test_conll_reader_rejects_bad_tags_per_document(tmp_path):
    path = tmp_path / "in.conll"
    path.write_text("-DOCSTART- -X- -X- O\n\nAna\tB-PER\nruns\tO\n\n-DOCSTART- -X- -X- O\n\n"
                    "Bob\tX-PER\n\n-DOCSTART- -X- -X- O\n\nlonely\n")
    items = list(read_conll(path, "in.conll"))
    assert isinstance(items[0], Record) and items[0].text == "Ana runs"
    assert [(i.line, i.rule) for i in items[1:]] == [(8, "conll.bad_tag"), (12, "conll.missing_tag")]


def test_ingest_ledger_balances_and_quarantines_duplicates_and_unknown_files(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    good = {"text": "Ana works at Acme.", "spans": [{"start": 0, "end": 3, "label": "PER"}]}
    (landing / "a.jsonl").write_text("\n".join([json.dumps(good), "{broken", json.dumps(good)]) + "\n")
    (landing / "notes.xml").write_text("<hello/>")
    report = ingest_folder(landing, tmp_path / "out/records.jsonl", tmp_path / "out/q.jsonl")
    by_file = {f.source: f for f in report.files}
    assert by_file["a.jsonl"].records_in == 3
    assert (by_file["a.jsonl"].accepted, by_file["a.jsonl"].quarantined) == (1, 2)
    assert by_file["a.jsonl"].rules == {"json.invalid": 1, "record.duplicate": 1}
    assert by_file["notes.xml"].rules == {"file.unknown_format": 1}
    assert all(f.balanced for f in report.files)
    quarantined = [json.loads(line) for line in (tmp_path / "out/q.jsonl").read_text().splitlines()]
    assert {q["rule"] for q in quarantined} == {"json.invalid", "record.duplicate", "file.unknown_format"}
    assert len(read_records(tmp_path / "out/records.jsonl")) == report.accepted == 1



def test_records_with_invalid_spans_are_quarantined_at_ingestion_with_their_rule(tmp_path):
    """One bad span must not travel on to fail its whole batch's gate: the record is
    quarantined at the door, naming the rule, and the rest of the file goes on."""
    from lepton.annotation.schema import LabelSchema

    landing = tmp_path / "landing"
    landing.mkdir()
    text = "Ana works at Acme."
    docs = [
        {"text": text, "spans": [{"start": 13, "end": 17, "label": "ORG"}]},                  # fine
        {"text": text + " 1", "spans": [{"start": 5, "end": 2, "label": "PER"}]},             # end before start
        {"text": text + " 2", "spans": [{"start": 13, "end": 60, "label": "ORG"}]},           # past the text
        {"text": text + " 3", "spans": [{"start": -1, "end": 3, "label": "PER"}]},            # before the text
        {"text": text + " 4", "spans": [{"start": 0, "end": 3, "label": "CREATURE"}]},        # unknown label
        {"text": text + " 5", "spans": [{"start": 0, "end": 9, "label": "PER"},
                                        {"start": 4, "end": 9, "label": "ORG"}]},             # overlapping
        {"text": text + " 6", "spans": [{"start": 0, "end": 3, "label": "per"}]},             # an alias: fine
    ]
    (landing / "a.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    schema = LabelSchema.of(["PER", "ORG"])
    report = ingest_folder(landing, tmp_path / "out/records.jsonl", tmp_path / "out/q.jsonl", labels=schema)
    [ledger] = report.files
    assert ledger.balanced and (ledger.records_in, ledger.accepted) == (7, 2)
    assert ledger.rules == {"span.end_before_start": 1, "span.outside_text": 2, "span.unknown_label": 1,
                            "span.overlapping": 1}
    quarantined = {q["line"]: q for q in map(json.loads, (tmp_path / "out/q.jsonl").read_text().splitlines())}
    assert quarantined[5]["rule"] == "span.unknown_label" and "CREATURE" not in quarantined[5]["detail"]
    assert quarantined[6]["detail"].startswith("spans 0 and 1 overlap")
    assert all(q["record_id"] for q in quarantined.values())
    # without a label schema the label is not judged here (the gate still does)
    again = ingest_folder(landing, tmp_path / "out2/records.jsonl", tmp_path / "out2/q.jsonl")
    assert "span.unknown_label" not in again.files[0].rules


def test_ingested_ids_are_keyed_so_a_kept_id_cannot_confirm_a_guessed_text(tmp_path):
    from lepton.corpus.records import RecordIds

    landing = tmp_path / "landing"
    landing.mkdir()
    text = "Ana Silva, 0412 555 123"
    (landing / "a.jsonl").write_text(json.dumps({"text": text}) + "\n{broken\n")
    ids = RecordIds(bytes(range(32)))
    ingest_folder(landing, tmp_path / "out/records.jsonl", tmp_path / "out/q.jsonl", ids=ids)
    [rec] = read_records(tmp_path / "out/records.jsonl")
    [refused] = [json.loads(line) for line in (tmp_path / "out/q.jsonl").read_text().splitlines()]
    assert rec.record_id == ids(text, "a.jsonl") != record_id(text, "a.jsonl")
    assert refused["record_id"] == ids("{broken", "a.jsonl") != record_id("{broken", "a.jsonl")
    assert RecordIds(bytes(32))(text, "a.jsonl") != rec.record_id
    assert ids.of_bytes(b"x") != RecordIds(None).of_bytes(b"x")


def test_a_workspace_keys_its_ids_unless_it_ingested_before_ids_were_keyed(tmp_path):
    from lepton.crypto.keyring import Keyring
    from lepton.workspace import RAW, Layout, record_ids

    new, old = Layout(tmp_path / "new"), Layout(tmp_path / "old")
    ring = Keyring(tmp_path / "keyring.json", bytes(range(32)))
    first = record_ids(new, ring)
    assert first.scheme == "hmac-sha256" and first("x", "a") == record_ids(new, ring)("x", "a")
    legacy = old.work.stage_file(RAW, "b1")
    legacy.parent.mkdir(parents=True)
    legacy.write_text("")
    assert record_ids(old, ring).scheme == "sha256" and record_ids(old, ring)("x", "a") == record_id("x", "a")

def test_record_id_is_stable_over_cosmetic_differences_but_not_sources():
    assert record_id("Ana  works\u00a0here", "a") == record_id("Ana works here", "a")
    assert record_id("Ana works here", "a") != record_id("Ana works here", "b")
