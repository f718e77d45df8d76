"""Retention: an expired batch is archived encrypted, its working copies deleted, both
steps in lineage and the audit log; a batch within its period is left alone."""

import json
from datetime import datetime, timedelta, timezone

import dagster as dg

from lepton.corpus.sample import write_sample
from lepton.governance.retention import open_archive
from lepton.settings import Settings
from lepton.stores import audit_for, dvc_for, keyring_for, lineage_for
from lepton.workspace import BATCH_META, BATCH_STAGES, RAW, record_ids
from pipelines.batches import register_landing
from pipelines.definitions import build_definitions

GOVERN = [dg.AssetKey(k) for k in ("raw_documents", "clean_documents", "predictions", "pii_findings", "sensitivity")]


def test_retention_job_archives_and_purges_only_expired_batches(workspace_env, tmp_path):
    s = Settings.from_env()
    write_sample(s.landing_dir, 60, seed=2, conll_share=0)
    (tmp_path / "d").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "d")) as instance:
        defs = build_definitions(s)
        [batch] = register_landing(s, instance)
        defs.resolve_job_def("ingest_batch").execute_in_process(instance=instance, partition_key=batch,
                                                               asset_selection=GOVERN)
        work = s.layout.work
        assert defs.resolve_job_def("retention_job").execute_in_process(instance=instance).success
        assert work.stage(RAW, batch).exists(), "a fresh batch is kept"

        # the sample plants e-mail addresses and phone numbers: the batch is confidential (365 days)
        meta = work.stage_file(RAW, batch, BATCH_META)
        aged = json.loads(meta.read_text())
        aged["ingested_at"] = (datetime.now(timezone.utc) - timedelta(days=366)).isoformat()
        meta.write_text(json.dumps(aged))
        result = defs.resolve_job_def("retention_job").execute_in_process(instance=instance)
        assert result.success

    for stage in BATCH_STAGES:
        assert not work.stage(stage, batch).exists()
    archive = s.layout.archive(batch)
    assert archive.read_bytes()[:6] == b"LEPENC" and b"@example" not in archive.read_bytes()
    ring = keyring_for(s)
    names = open_archive(archive, ring).getnames()
    assert f"raw/{batch}/records.jsonl" in names and f"governed/{batch}/records.jsonl" in names

    store = lineage_for(s)
    assert {(n.kind, e) for _, n, e, _ in store.upstream(f"purge:{batch}")} >= {("record_batch", "purged-by")}
    assert store.get(f"archive:{batch}").attrs["sensitivity"] == "confidential"
    log = audit_for(s)
    assert [e["action"] for e in log.entries()][-2:] == ["retention.archive", "retention.delete"]
    assert log.verify().ok


def test_erasure_reaches_into_retention_archives(workspace_env, tmp_path):
    """A record whose batch was already archived is erased from the archive too: every archive
    is re-encrypted under a new archive key (without the record where it held it) and the old
    key destroyed; the landing file loses it as well."""
    from lepton.corpus.ingest import ReaderOptions
    from lepton.governance.erasure import ErasureStores, erase, records_of_subject

    s = Settings.from_env()
    write_sample(s.landing_dir, 40, seed=3, conll_share=0)
    (tmp_path / "d").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "d")) as instance:
        defs = build_definitions(s)
        [batch] = register_landing(s, instance)
        defs.resolve_job_def("ingest_batch").execute_in_process(instance=instance, partition_key=batch,
                                                               asset_selection=GOVERN)
        meta = s.layout.work.stage_file(RAW, batch, BATCH_META)
        victim = json.loads(s.layout.work.stage_file(RAW, batch).read_text().splitlines()[7])
        aged = json.loads(meta.read_text())
        aged["ingested_at"] = (datetime.now(timezone.utc) - timedelta(days=3000)).isoformat()
        meta.write_text(json.dumps(aged))
        assert defs.resolve_job_def("retention_job").execute_in_process(instance=instance).success
    assert not s.layout.work.stage(RAW, batch).exists()
    ring = keyring_for(s)
    old_key = ring.active_key_id("archive")
    text = victim["text"].encode()
    assert any(text in p.read_bytes() for p in s.landing_dir.iterdir())

    stores = ErasureStores(home=s.home, landing_url=s.landing_url, readers=ReaderOptions(), keyring=ring,
                           dvc=dvc_for(s), lineage=lineage_for(s),
                           audit=audit_for(s), ids=record_ids(s.layout, ring))
    # the subject search finds the record inside the archive
    name = victim["spans"][0]["text"] if victim["spans"] else victim["text"][:12]
    assert victim["record_id"] in records_of_subject(stores, name.upper())
    tomb = erase(stores, [victim["record_id"]], actor="test")

    assert old_key in tomb["data_keys_destroyed"]
    assert f"archive/{batch}.tar.enc" in [f["file"] for f in tomb["files_rewritten"]]
    ring = keyring_for(s)
    with open_archive(s.layout.archive(batch), ring) as tar:
        raw = tar.extractfile(f"raw/{batch}/records.jsonl").read().decode()
        assert victim["record_id"] not in raw and len(raw.splitlines()) == 39
        assert all(text not in tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    # nothing under the workspace (landing, archive, lineage, audit, keys) holds the text
    assert [p for p in s.home.rglob("*") if p.is_file() and text in p.read_bytes()] == []
