"""Quarantine end to end: refused records are stored encrypted, counted by rule, exported
for fixing (an audited read), reprocessed, and counted again by the next ingestion."""

import json

import dagster as dg
from click.testing import CliRunner

from lepton.cli import main
from lepton.settings import Settings
from lepton.stores import audit_for
from pipelines.batches import register_landing
from pipelines.definitions import build_definitions

SECRET = "zara.quill@example.com"
SELECTION = [dg.AssetKey(k) for k in ("raw_documents", "clean_documents", "quarantine")]


def _ingest(s, instance):
    """Registers what is new in the landing folder and ingests it: the one new batch."""
    [key] = register_landing(s, instance)
    job = build_definitions(s).resolve_job_def("ingest_batch")
    return job.execute_in_process(instance=instance, partition_key=key, asset_selection=SELECTION)


def test_quarantine_is_encrypted_counted_and_reprocessed(workspace_env, tmp_path):
    s = Settings.from_env()
    s.landing_dir.mkdir(parents=True)
    good = {"text": "Ana works at Acme.", "spans": [{"start": 0, "end": 3, "label": "PER"}]}
    (s.landing_dir / "in.jsonl").write_text(
        json.dumps(good) + "\n" + '{"text": "Write to ' + SECRET + '", "spans": [\n' + '{"text": "  \u200b "}\n')

    (tmp_path / "d").mkdir()
    instance = dg.instance_for_test(temp_dir=str(tmp_path / "d")).__enter__()
    first = _ingest(s, instance)
    raw = first.output_for_node("raw_documents")
    assert (raw["accepted"], raw["quarantined"]) == (2, 1)
    q_file = raw["quarantine_path"]
    assert SECRET not in open(q_file).read() and "json.invalid" in open(q_file).read()
    [mat] = [e for e in first.get_asset_materialization_events() if e.asset_key.path == ["quarantine"]]
    md = mat.materialization.metadata
    assert md["quarantined"].value == 2
    assert "ingest: json.invalid" in md["by_rule"].value and "clean: text.empty_after_cleaning" in md["by_rule"].value

    runner = CliRunner()
    listed = runner.invoke(main, ["quarantine", "list"])
    assert "in.jsonl:2  json.invalid" in listed.output and SECRET not in listed.output

    exported = tmp_path / "fix.jsonl"
    assert runner.invoke(main, ["quarantine", "export", str(exported)]).exit_code == 0
    entries = [json.loads(line) for line in exported.read_text().splitlines()]
    assert (exported.stat().st_mode & 0o777) == 0o600
    [broken] = [e for e in entries if e["rule"] == "json.invalid"]
    assert SECRET in broken["raw"]
    broken["raw"] += '{"start": 9, "end": 31, "label": "MISC"}]}'
    [empty] = [e for e in entries if e["rule"] == "text.empty_after_cleaning"]
    assert json.loads(empty["raw"])["text"].strip("\u200b ") == ""  # stored as a JSONL line, fixable
    unfixable = dict(broken, line=9, raw='{"text": 5}')
    exported.write_text(json.dumps(broken) + "\n" + json.dumps(unfixable) + "\n")

    result = runner.invoke(main, ["quarantine", "reprocess", str(exported)])
    assert result.exit_code == 0, result.output
    assert "1 records re-ingest" in result.output and "still quarantined: in.jsonl:9: text.missing" in result.output
    second = _ingest(s, instance)  # only the reprocessed file is new: the original batch's ledger stands
    raw2 = second.output_for_node("raw_documents")
    assert (raw2["accepted"], raw2["quarantined"]) == (1, 0)
    instance.__exit__(None, None, None)

    actions = [e["action"] for e in audit_for(s).entries()]
    assert actions.count("ingest") == 2 and "read.quarantine" in actions and "quarantine.reprocess" in actions
    assert audit_for(s).verify().ok
