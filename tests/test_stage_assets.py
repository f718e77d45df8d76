"""Each stage asset materialised alone with `dg.materialize` and the code location's real
resources on a small landing file, its upstream loaded from the run before: what a person
re-running one asset from the UI gets, and where a stage's own fault shows without the chain."""

import json

import dagster as dg
import pytest

from assets.governance import clean_documents, pii_findings, sensitivity
from assets.inference import champion_model, predictions
from assets.ingestion import raw_documents
from assets.quarantine import quarantine
from assets.validation import raw_documents_contract
from lepton.settings import Settings
from lepton.stores import lineage_for
from lepton.workspace import CLEAN, GOVERNED, PII, PREDICTIONS, RAW
from pipelines.batches import register_landing
from pipelines.definitions import build_resources

# the raw records' blocking contract is part of the stage: cleaning refuses a batch it has not passed
STAGES = [raw_documents, raw_documents_contract, clean_documents, predictions, champion_model, pii_findings,
          sensitivity, quarantine]
DOCS = [
    {"text": "Ana Silva wrote to ana.silva@example.org about Acme.", "spans": [{"start": 0, "end": 9, "label": "PER"}]},
    {"text": "Call Bob on +44 20 7946 0958 in London.", "spans": [{"start": 5, "end": 8, "label": "PER"}]},
    {"text": "Initech opened an office in Oslo.", "spans": [{"start": 0, "end": 7, "label": "ORG"}]},
    {"text": "   ", "spans": []},  # refused at cleaning: no text left
    "not a JSON object",      # refused at reading
]


@pytest.fixture(scope="module")
def one_batch(tmp_path_factory):
    """(settings, instance, batch key, resources) for one registered landing file."""
    from tests.conftest import enter_workspace

    tmp = tmp_path_factory.mktemp("stages")
    with pytest.MonkeyPatch.context() as mp:
        enter_workspace(tmp / "ws", mp)
        s = Settings.from_env()
        s.landing_dir.mkdir(parents=True)
        (s.landing_dir / "small.jsonl").write_text(
            "".join((json.dumps(d) if isinstance(d, dict) else d) + "\n" for d in DOCS))
        (tmp / "dagster").mkdir()
        with dg.instance_for_test(temp_dir=str(tmp / "dagster")) as instance:
            [key] = register_landing(s, instance)
            yield s, instance, key, build_resources(s)


def _alone(one_batch, asset) -> dg.ExecuteInProcessResult:
    s, instance, key, resources = one_batch
    result = dg.materialize(STAGES, selection=dg.AssetSelection.assets(asset), partition_key=key, instance=instance,
                            resources=resources)
    [event] = result.get_asset_materialization_events()
    assert event.asset_key == asset.key and event.partition == key
    return result


def test_raw_documents_alone_counts_every_record(one_batch):
    s, _, key, _ = one_batch
    result = _alone(one_batch, raw_documents)
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "raw_documents_contract" and check.passed
    out = result.output_for_node("raw_documents")
    assert out["accepted"] + out["quarantined"] == len(DOCS) and out["quarantined"] >= 1
    assert len(s.layout.work.stage_file(RAW, key).read_text().splitlines()) == out["accepted"]
    assert lineage_for(s).get(f"record_batch:{key}") is not None


def test_clean_documents_alone_reads_the_raw_run_and_refuses_empty_text(one_batch):
    s, _, key, _ = one_batch
    raw = json.loads(s.layout.work.stage_file(RAW, key).read_text().splitlines()[0])
    result = _alone(one_batch, clean_documents)
    clean = [json.loads(line) for line in s.layout.work.stage_file(CLEAN, key).read_text().splitlines()]
    assert raw["record_id"] in {c["record_id"] for c in clean}
    assert all(c["text"].strip() for c in clean)
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["dagster/row_count"].value == len(clean)


def test_predictions_alone_without_a_champion_say_so_and_write_nothing(one_batch):
    s, _, key, _ = one_batch
    result = _alone(one_batch, predictions)
    out = result.output_for_node("predictions")
    assert out["model_version"] is None and out["path"] is None
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["model_version"].value == "(none)"
    assert not s.layout.work.stage_file(PREDICTIONS, key).exists()


def test_pii_findings_alone_names_types_and_offsets_never_values(one_batch):
    s, _, key, _ = one_batch
    result = _alone(one_batch, pii_findings)
    [event] = result.get_asset_materialization_events()
    found = event.materialization.metadata["findings_by_type"].value
    assert found.get("EMAIL", 0) >= 1 and found.get("PHONE", 0) >= 1
    findings = s.layout.work.stage_file(PII, key, "findings.jsonl").read_text()
    assert "ana.silva@example.org" not in findings and "7946" not in findings


def test_sensitivity_alone_classifies_each_record(one_batch):
    s, _, key, _ = one_batch
    out = _alone(one_batch, sensitivity).output_for_node("sensitivity")
    governed = [json.loads(line) for line in s.layout.work.stage_file(GOVERNED, key).read_text().splitlines()]
    clean = s.layout.work.stage_file(CLEAN, key).read_text().splitlines()
    assert len(governed) + out["withheld"] == len(clean)
    assert {g["sensitivity"] for g in governed} >= {"confidential"}
    assert all("ana.silva@example.org" not in g["text"] for g in governed)


def test_quarantine_alone_counts_both_stages_refusals(one_batch):
    result = _alone(one_batch, quarantine)
    [event] = result.get_asset_materialization_events()
    md = event.materialization.metadata
    assert md["dagster/row_count"].value >= 2  # one unreadable line, one empty text
