"""Retention: an expired batch is archived encrypted, its working copies deleted, both
steps in lineage and the audit log; a batch within its period is left alone."""

import json
from datetime import datetime, timedelta, timezone

import dagster as dg

from lepton.corpus.sample import write_sample
from lepton.crypto.keyring import Keyring, load_master_key
from lepton.governance.audit import AuditLog
from lepton.governance.retention import open_archive
from lepton.lineage.store import LineageStore
from lepton.settings import Settings
from pipelines.batches import register_landing
from pipelines.definitions import build_definitions

GOVERN = [dg.AssetKey(k) for k in ("raw_documents", "clean_documents", "pii_findings", "sensitivity")]


def test_retention_job_archives_and_purges_only_expired_batches(workspace_env, tmp_path):
    s = Settings.from_env()
    write_sample(s.landing_dir, 60, seed=2, conll_share=0)
    (tmp_path / "d").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "d")) as instance:
        defs = build_definitions(s)
        [batch] = register_landing(s, instance)
        defs.resolve_job_def("ingest_batch").execute_in_process(instance=instance, partition_key=batch,
                                                               asset_selection=GOVERN)
        work = s.home / "work"
        assert defs.resolve_job_def("retention_job").execute_in_process(instance=instance).success
        assert (work / "raw" / batch).exists(), "a fresh batch is kept"

        # the sample plants e-mail addresses and phone numbers: the batch is confidential (365 days)
        meta = work / "raw" / batch / "batch.json"
        aged = json.loads(meta.read_text())
        aged["ingested_at"] = (datetime.now(timezone.utc) - timedelta(days=366)).isoformat()
        meta.write_text(json.dumps(aged))
        result = defs.resolve_job_def("retention_job").execute_in_process(instance=instance)
        assert result.success

    for stage in ("snapshots", "raw", "clean", "pii", "governed"):
        assert not (work / stage / batch).exists()
    archive = s.home / "archive" / f"{batch}.tar.enc"
    assert archive.read_bytes()[:6] == b"LEPENC" and b"@example" not in archive.read_bytes()
    ring = Keyring(s.home / "keys" / "keyring.json", load_master_key(s.key_file, create=False))
    names = open_archive(archive, ring).getnames()
    assert f"raw/{batch}/records.jsonl" in names and f"governed/{batch}/records.jsonl" in names

    store = LineageStore(s.lineage_url)
    assert {(n.kind, e) for _, n, e, _ in store.upstream(f"purge:{batch}")} >= {("record_batch", "purged-by")}
    assert store.get(f"archive:{batch}").attrs["sensitivity"] == "confidential"
    log = AuditLog(s.home / "audit" / "audit.jsonl")
    assert [e["action"] for e in log.entries()][-2:] == ["retention.archive", "retention.delete"]
    assert log.verify().ok
