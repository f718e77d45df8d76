"""Labels are data: the schema file's rules, aliases and declared changes; the readers for
the formats public corpora ship in (each refusing bad input by file, line and rule, with
records in = accepted + quarantined); and `lepton train` on each of them, with labels from
the data or pinned by a schema file."""

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lepton.annotation.schema import SchemaError, load_schema, parse_schema
from lepton.cli import main as cli
from lepton.corpus.formats import ReaderOptions
from lepton.corpus.ingest import ingest_folder, read_records
from lepton.corpus.records import Record, Span

REPO = Path(__file__).resolve().parent.parent


def _schema(tmp_path, doc) -> Path:
    p = tmp_path / "labels.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


# --- the schema file -------------------------------------------------------------------------

def test_shipped_schema_is_the_default_and_every_consumer_output_follows_it():
    s = load_schema()
    assert s.names == ("PER", "ORG", "LOC", "MISC") and s.source.endswith("policy/labels.yaml")
    assert s.bio_tags()[:3] == ["O", "B-PER", "I-PER"] and len(s.bio_tags()) == 9
    assert s.pii_labels("PERSON") == ("PER",)
    cfg = s.label_config()
    assert cfg.count("<Label ") == 4 and 'hotkey="o"' in cfg and "hint=" in cfg
    assert s.version == load_schema(REPO / "policy" / "labels.yaml").version


def test_version_is_a_content_hash(tmp_path):
    a = parse_schema({"labels": {"A": "first", "B": "second"}}, "a")
    assert a.version == parse_schema({"labels": {"A": "first", "B": "second"}}, "elsewhere").version
    assert a.version != parse_schema({"labels": {"A": "first", "B": "second", "C": "third"}}, "a").version
    assert a.version != parse_schema({"labels": {"A": "first", "B": "other words"}}, "a").version


@pytest.mark.parametrize("doc, rule", [
    ({"labels": {}}, "at least one label"),
    ({"labels": {"A": {}}, "colours": {}}, "unknown key(s) colours"),
    ({"labels": {"A": {"colour": "red"}}}, "must be #rrggbb"),
    ({"labels": {"A": {"hotkey": "a"}, "B": {"hotkey": "a"}}}, "hotkey 'a' of B"),
    ({"labels": {"A": {"aliases": ["x"]}, "B": {"aliases": ["X"]}}}, "alias 'x' of B already means A"),
    ({"labels": {"A": {}}, "renamed": {"Z": "Q"}}, "'Q' is not a label"),
    ({"labels": {"A": {}}, "removed": ["A"]}, "removed 'A' is still a label"),
    ({"labels": {"O": {}}}, "outside tag"),
    ({"labels": {"bad label": {}}}, "must match"),
    ({"labels": {"A": {"size": 3}}}, "unknown key(s) size"),
])
def test_a_broken_schema_file_is_refused_naming_the_rule(tmp_path, doc, rule):
    with pytest.raises(SchemaError, match=rule.replace("(", r"\(").replace(")", r"\)")) as err:
        load_schema(_schema(tmp_path, doc))
    assert "labels.yaml" in str(err.value)


def test_aliases_renames_and_removals_map_input_names(tmp_path):
    s = load_schema(_schema(tmp_path, {
        "labels": {"person": {"aliases": ["PER", "B-PERSON"]}, "org": {}, "thing": {}},
        "renamed": {"misc": "thing", "product": "thing"}, "removed": ["date"]}))
    assert [s.canonical(n) for n in ("PER", "per", "PERSON", "I-PERSON", "person", "misc", "product", "date", "x")] \
        == ["person", "person", "person", "person", "person", "thing", "thing", None, None]
    rec = Record("r", "f.jsonl", 3, "Ana bought an iPhone on Monday",
                 (Span(0, 3, "PER"), Span(14, 20, "product"), Span(24, 30, "date"), Span(7, 13, "weird")))
    r = s.relabel(rec)
    assert [sp.label for sp in r.record.spans] == ["person", "thing", "weird"]
    assert dict(r.mapped) == {"PER -> person": 1, "product -> thing": 1} and dict(r.refused) == {"date": 1}
    assert r.unknown == ["weird"]
    with pytest.raises(SchemaError, match=r"f.jsonl:3: tag 'date' was removed from label schema"):
        s.require("date", "f.jsonl:3")
    # the retired names stay in Label Studio's config, greyed, so existing annotations stay valid
    assert 'value="misc"' in s.label_config() and "retired: renamed to thing" in s.label_config()


def test_a_model_of_another_schema_is_read_through_the_declared_mapping_or_refused():
    s = parse_schema({"labels": {"PER": {}, "ORG": {}, "DATE": {}}, "renamed": {"MISC": "ORG"}, "removed": ["LOC"]},
                     "now")
    fit = s.reconcile(["PER", "LOC", "MISC"], "lepton-ner/v1")
    assert fit.mapping == {"PER": "PER", "LOC": None, "MISC": "ORG"} and fit.unseen == ("DATE",)
    spans, dropped = fit.apply([{"label": "PER"}, {"label": "LOC"}, {"label": "MISC"}])
    assert [sp["label"] for sp in spans] == ["PER", "ORG"] and dropped == 1
    assert fit.summary()["mapped"] == {"MISC": "ORG"} and fit.summary()["dropped"] == ["LOC"]
    with pytest.raises(SchemaError, match="lepton-ner/v1 predicts GPE, which label schema"):
        s.reconcile(["PER", "GPE"], "lepton-ner/v1")


def test_dataset_records_resolved_under_an_old_schema_are_relabelled_or_refused():
    s = parse_schema({"labels": {"PER": {}, "THING": {}}, "renamed": {"MISC": "THING"}, "removed": ["LOC"]}, "now")
    records = {"a": Record("a", "f", 1, "Ana in Oslo with Nobel", (Span(0, 3, "PER"), Span(7, 11, "LOC"),
                                                                   Span(17, 22, "MISC")))}
    out = s.relabel_records(records, "annotation batch b1")
    assert out == {"mapped": {"MISC -> THING": 1}, "refused": {"LOC": 1}}
    assert [sp.label for sp in records["a"].spans] == ["PER", "THING"]
    with pytest.raises(SchemaError, match=r"annotation batch b1: g:2 \(record z\) has label 'GPE'"):
        s.relabel_records({"z": Record("z", "g", 2, "x y", (Span(0, 1, "GPE"),))}, "annotation batch b1")


# --- readers ---------------------------------------------------------------------------------

CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
.\t.\tO\tO

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
\t
-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
"""


def test_conll_2003_columns_docstart_and_whitespace_separators(tmp_path):
    f = tmp_path / "eng.train.conll"
    f.write_text(CONLL_2003)
    docs = list(ReaderOptions(conll_unit="document").reader("conll")(f, f.name))
    assert [d.text for d in docs] == ["EU rejects German call . Peter Blackburn", "BRUSSELS"]
    assert [(s.text, s.label) for s in docs[0].spans] == [("EU", "ORG"), ("German", "MISC"), ("Peter Blackburn", "PER")]
    sents = list(ReaderOptions(conll_unit="sentence").reader("conll")(f, f.name))
    assert [s.text for s in sents] == ["EU rejects German call .", "Peter Blackburn", "BRUSSELS"]
    assert [s.line for s in sents] == [3, 9, 14]
    # auto: the file starts with -DOCSTART-, so documents
    assert len(list(ReaderOptions().reader("conll")(f, f.name))) == 2


HF_LINES = [
    {"id": "0", "tokens": ["@ana", "loves", "New", "York"], "ner_tags": ["O", "O", "B-geo-loc", "I-geo-loc"]},
    {"id": "1", "tokens": ["Go", "Lakers"], "ner_tags": [0, 5]},
]


def test_hugging_face_token_tag_lines_with_string_and_integer_tags(tmp_path):
    f = tmp_path / "train.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in HF_LINES) + "\n")
    names = ("O", "B-geo-loc", "I-geo-loc", "B-person", "I-person", "B-sportsteam", "I-sportsteam")
    a, b = ReaderOptions(tag_names=names).reader("jsonl")(f, f.name)
    assert a.text == "@ana loves New York" and [(s.text, s.label) for s in a.spans] == [("New York", "geo-loc")]
    assert [(s.text, s.label) for s in b.spans] == [("Lakers", "sportsteam")] and b.line == 2
    # without names the integer line is refused, naming the rule; a dataset_info.json beside it names them
    items = list(ReaderOptions().reader("jsonl")(f, f.name))
    assert isinstance(items[0], Record) and items[1].rule == "tags.names_missing" and items[1].line == 2
    (tmp_path / "dataset_info.json").write_text(json.dumps(
        {"features": {"ner_tags": {"feature": {"names": list(names), "_type": "ClassLabel"}, "_type": "Sequence"}}}))
    from lepton.corpus.hf_tokens import sidecar_tag_names

    sidecar_tag_names.cache_clear()
    assert all(isinstance(i, Record) for i in ReaderOptions().reader("jsonl")(f, f.name))


LS_EXPORT = [
    {"id": 11, "data": {"text": "Ana works at Acme."},
     "annotations": [{"id": 1, "was_cancelled": False, "ground_truth": False, "updated_at": "2026-01-01",
                      "result": [{"type": "labels", "from_name": "ner", "to_name": "txt",
                                  "value": {"start": 0, "end": 3, "text": "Ana", "labels": ["person"]}}]},
                     {"id": 2, "was_cancelled": False, "ground_truth": True, "updated_at": "2025-01-01",
                      "result": [{"type": "labels", "from_name": "ner", "to_name": "txt",
                                  "value": {"start": 0, "end": 3, "text": "Ana", "labels": ["person"]}},
                                 {"type": "labels", "from_name": "ner", "to_name": "txt",
                                  "value": {"start": 13, "end": 17, "text": "Acme", "labels": ["company"]}},
                                 {"type": "choices", "from_name": "mood", "to_name": "txt",
                                  "value": {"choices": ["ok"]}}]}]},
    {"id": 12, "data": {"text": "Nothing here."}, "annotations": [{"id": 3, "was_cancelled": True, "result": []}]},
    {"id": 13, "data": {"body": "Oslo is cold."},
     "annotations": [{"id": 4, "result": [{"type": "labels", "value": {"start": 0, "end": 4, "labels": ["geo-loc"]}}]}]},
]


def test_label_studio_export_takes_the_ground_truth_and_names_each_refused_task(tmp_path):
    f = tmp_path / "project-3.json"
    f.write_text(json.dumps(LS_EXPORT))
    a, skipped, c = ReaderOptions().reader_for(f)(f, f.name)
    assert [(s.text, s.label) for s in a.spans] == [("Ana", "person"), ("Acme", "company")], "ground truth wins"
    assert skipped.rule == "ls.not_annotated" and "task 2 (id 12)" in skipped.detail and skipped.line == 2
    assert c.text == "Oslo is cold." and [s.label for s in c.spans] == ["geo-loc"]


@pytest.mark.parametrize("name, content, rule", [
    ("bad.conll", "EU B-ORG\nrejects\n", "conll.missing_tag"),
    ("bad.conll", "EU B-ORG\nsays X-ORG\n", "conll.bad_tag"),
    ("bad.conll", "EU O\nsays I-ORG\n", "conll.invalid_transition"),
    ("bad.jsonl", '{"tokens": ["a", "b"], "ner_tags": ["O"]}\n', "tags.length_mismatch"),
    ("bad.jsonl", '{"tokens": ["a"], "ner_tags": [7]}\n', "tags.names_missing"),
    ("bad.jsonl", '{"tokens": ["a b"], "ner_tags": ["O"]}\n', "tokens.whitespace"),
    ("bad.jsonl", '{"tokens": "a", "ner_tags": ["O"]}\n', "tokens.not_list"),
    ("bad.jsonl", '{"tokens": ["a"], "ner_tags": ["I-X"]}\n', "conll.invalid_transition"),
    ("bad.json", "[{\"id\": 1, \"data\": {\"text\": \"x\"}", "ls.invalid_json"),
    ("bad.json", '{"tasks": 3}', "ls.not_task"),
    ("bad.json", '[{"id": 5, "data": {"text": "Ana"}, "annotations": [{"result": [{"type": "labels", '
                 '"value": {"start": "0", "end": 3, "labels": ["PER"]}}]}]}]', "span.offsets_not_int"),
    ("bad.json", '[{"id": 5, "data": {"a": "x", "b": "y"}, "annotations": []}]', "text.missing"),
])
def test_malformed_files_of_each_format_are_quarantined_with_file_line_and_rule(tmp_path, name, content, rule):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / name).write_text(content)
    report = ingest_folder(landing, tmp_path / "out" / "records.jsonl", tmp_path / "out" / "q.jsonl")
    [ledger] = report.files
    assert ledger.balanced and ledger.quarantined >= 1 and rule in ledger.rules, ledger
    q = [json.loads(line) for line in (tmp_path / "out" / "q.jsonl").read_text().splitlines()]
    assert all(e["source"] == name and isinstance(e["line"], int) for e in q)


def test_ingestion_maps_input_label_names_through_the_schema(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a.conll").write_text("Ana B-PERSON\nSilva I-PERSON\nin O\nOslo B-location\n")
    (landing / "dataset_info.json").write_text("{}")  # a sidecar is not data
    report = ingest_folder(landing, tmp_path / "r.jsonl", tmp_path / "q.jsonl", labels=load_schema())
    [ledger] = report.files
    assert ledger.labels_mapped == {"PERSON -> PER": 1, "location -> LOC": 1}
    [rec] = read_records(tmp_path / "r.jsonl")
    assert [s.label for s in rec.spans] == ["PER", "LOC"]


def test_one_registry_for_ingestion_and_training():
    o = ReaderOptions()
    assert o.format_of(Path("x.txt")) == "text" and o.format_of(Path("x.conll.gz")) == "conll"
    assert o.format_of(Path("x.json")) == "label-studio" and o.format_of(Path("x.jsonl")) == "jsonl"
    assert ReaderOptions(formats={".txt": "conll"}).format_of(Path("wnut.txt")) == "conll"
    from lepton.corpus.formats import FormatError, parse_format_overrides

    assert parse_format_overrides(".txt=conll, .data=conll") == {".txt": "conll", ".data": "conll"}
    with pytest.raises(FormatError, match="expected .SUFFIX=FORMAT"):
        parse_format_overrides("txt=conll")


# --- lepton train on every format --------------------------------------------------------------

TRAIN_ARGS = ["--base", "tiny", "--epochs", "1", "--batch-size", "8", "--lr", "5e-3", "--no-mlflow"]
LABELS = ("company", "person", "place")


def _corpus(n: int = 60, repeats: int = 0) -> list[tuple[list[str], list[str]]]:
    """Sentences with three custom labels, `repeats` of them exact copies of earlier ones."""
    people, firms, places = ["Ana", "Bob", "Chen", "Dara"], ["Acme", "Globex", "Initech"], ["Oslo", "Lima", "Pune"]
    out = []
    for i in range(n):
        toks = [people[i % 4], "joined", firms[i % 3], "in", places[(i // 3) % 3], "on", f"day{i}"]
        out.append((toks, ["B-person", "O", "B-company", "O", "B-place", "O", "O"]))
    return out + out[:repeats]


def _write(fmt: str, path: Path, sents) -> Path:
    if fmt == "conll":
        path.write_text("".join("".join(f"{t}\t{g}\n" for t, g in zip(*s)) + " \n" for s in sents))
    elif fmt == "hf":
        path.write_text("".join(json.dumps({"tokens": t, "ner_tags": g}) + "\n" for t, g in sents))
    elif fmt == "jsonl":
        from lepton.corpus.conll import tags_to_spans

        rows = []
        for t, g in sents:
            text, spans = tags_to_spans(t, g)
            rows.append({"text": text, "spans": [s.to_dict() for s in spans]})
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "label-studio":
        from lepton.corpus.conll import tags_to_spans

        tasks = []
        for i, (t, g) in enumerate(sents):
            text, spans = tags_to_spans(t, g)
            tasks.append({"id": i, "data": {"text": text}, "annotations": [{"id": i, "result": [
                {"type": "labels", "from_name": "l", "to_name": "t",
                 "value": {"start": s.start, "end": s.end, "text": s.text, "labels": [s.label]}} for s in spans]}]})
        path.write_text(json.dumps(tasks))
    return path


@pytest.mark.parametrize("fmt, name", [("conll", "c.txt"), ("hf", "h.jsonl"), ("jsonl", "j.jsonl"),
                                       ("label-studio", "export.json")])
def test_lepton_train_takes_its_labels_from_each_format(tmp_path, fmt, name, monkeypatch):
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "ws"))
    data = _write(fmt, tmp_path / name, _corpus(60, repeats=6))
    out = tmp_path / "out"
    extra = ["--format", "conll"] if fmt == "conll" else []
    r = CliRunner().invoke(cli, ["train", str(data), *extra, *TRAIN_ARGS, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "66 records (0 rejected, 6 repeats kept once: 6 identical, 0 with other tags)" in r.output
    assert f"labels (data): {', '.join(LABELS)}" in r.output
    result = json.loads((out / "result.json").read_text())
    assert result["labels"] == ["O"] + [f"{p}-{lab}" for lab in LABELS for p in "BI"]
    acct = result["input"]
    assert acct["repeats"]["identical"] == 6 and sum(acct["splits"].values()) == 60
    assert acct["files"][0]["records_in"] == 66 and acct["files"][0]["accepted"] == 66
    model_cfg = json.loads((out / "model" / "config.json").read_text())
    assert sorted(model_cfg["label2id"]) == sorted(result["labels"])


def test_lepton_train_with_a_pinned_schema_maps_aliases_and_names_a_foreign_tag(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "ws"))
    schema = _schema(tmp_path, {"labels": {"PER": {"aliases": ["person"]}, "ORG": {"aliases": ["company"]},
                                           "LOC": {"aliases": ["place"]}, "DATE": {}}})
    data = _write("conll", tmp_path / "c.conll", _corpus(40))
    r = CliRunner().invoke(cli, ["train", str(data), "--labels", str(schema), *TRAIN_ARGS, "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    result = json.loads((tmp_path / "o" / "result.json").read_text())
    assert result["labels"][1:] == ["B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-DATE", "I-DATE"]
    assert result["input"]["labels_mapped"] == {"company -> ORG": 40, "person -> PER": 40, "place -> LOC": 40}
    bad = tmp_path / "bad.conll"
    bad.write_text("Ana B-person\nmet O\n\nthe O\nGrinch B-creature\n")  # the sentence starts on line 4
    r = CliRunner().invoke(cli, ["train", str(bad), "--labels", str(schema), *TRAIN_ARGS])
    assert r.exit_code != 0
    assert f"{bad}:4: tag 'creature' is not a label of label schema" in r.output


def test_lepton_train_warns_of_labels_never_seen_in_train(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "ws"))
    train = _write("hf", tmp_path / "train.jsonl", _corpus(40))
    dev = _write("hf", tmp_path / "dev.jsonl", [(["Zed", "at", "Expo"], ["B-person", "O", "B-event"])] + _corpus(5))
    r = CliRunner().invoke(cli, ["train", str(train), "--dev", str(dev), "--test", str(dev), *TRAIN_ARGS])
    assert r.exit_code == 0, r.output
    assert "labels in dev but never in train (the model cannot predict them): event (1 spans)" in r.output
    assert "5 dev and 5 test records repeat a training text" in r.output
