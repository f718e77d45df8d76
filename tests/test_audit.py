import json

import pytest

from lepton.governance.audit import AuditLog, audit_key
from lepton.workspace import Layout

KEY = audit_key(bytes(range(32)))


@pytest.fixture
def log(tmp_path):
    log = AuditLog(Layout(tmp_path).audit_log, KEY)
    for i in range(5):
        log.append("ingest", f"batch-{i}", records=i)
    return log


def _rewrite(log, lines):
    log.path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in lines))


def test_intact_log_verifies(log):
    assert log.verify().ok and log.verify().entries == 5
    assert [e["seq"] for e in log.entries()] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("tamper, expect", [
    ("edit", "entry 3 was edited"),
    ("insert", "sequence"),
    ("remove_middle", "sequence"),
    ("remove_last", "head records entry 5"),
    ("reorder", "sequence"),
])
def test_tampering_is_detected(log, tamper, expect):
    entries = log.entries()
    if tamper == "edit":
        entries[2]["details"]["records"] = 99
    elif tamper == "insert":
        forged = dict(entries[1], subject="forged")
        entries.insert(2, forged)
    elif tamper == "remove_middle":
        del entries[2]
    elif tamper == "remove_last":
        del entries[-1]
    elif tamper == "reorder":
        entries[1], entries[2] = entries[2], entries[1]
    _rewrite(log, entries)
    result = log.verify()
    assert not result.ok and expect in result.problem


def test_a_log_and_head_rewritten_together_fail_without_the_key(log):
    """Someone who can write the workspace edits an entry, recomputes every SHA-256 link and
    the head: a bare hash chain accepts it; a keyed one does not."""
    import hashlib

    entries = log.entries()
    entries[0]["details"]["records"] = 42
    prev = "0" * 64
    for e in entries:
        e["prev"] = prev
        body = {k: v for k, v in e.items() if k != "hash"}
        e["hash"] = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        prev = e["hash"]
    _rewrite(log, entries)
    log.head_path.write_text(json.dumps({"seq": len(entries), "hash": prev}))
    result = log.verify()
    assert not result.ok and "entry 1 was edited" in result.problem
    # and the log cannot be read as keyed by anyone without the key
    assert not AuditLog(log.path, audit_key(bytes(32))).verify().ok


def test_a_crash_between_the_entry_and_its_head_is_recovered(log):
    """The entry is written and synced, then the process dies before the head moves: the log
    is intact (the last entry is keyed and chains), so the head is recovered from it."""
    before = log.head_path.read_text()
    log.append("ingest", "batch-5")
    log.head_path.write_text(before)  # the head as it was before the crash
    result = log.verify()
    assert result.ok and result.entries == 6 and "recovered" in (result.note or "")
    log.append("ingest", "batch-6")
    assert log.verify().ok and log.verify().entries == 7 and log.verify().note is None


def test_anchors_kept_elsewhere_catch_a_rewrite_with_the_key(log):
    """Even with the key, a rewrite of the log's past shows against a head anchored where the
    workspace's writer cannot change it (the lineage store, printed in the review pack)."""
    anchor = log.head()
    entries = log.entries()
    entries[1]["details"]["records"] = 7
    prev = "0" * 64
    for e in entries:
        e["prev"] = prev
        e["hash"] = log.mac(e)
        prev = e["hash"]
    _rewrite(log, entries)
    log.head_path.write_text(json.dumps({"seq": len(entries), "hash": prev}))
    assert log.verify().ok  # the key holder's rewrite is consistent in itself...
    result = log.verify(anchors=[anchor])
    assert not result.ok and f"anchor at entry {anchor[0]}" in result.problem  # ...but not with the anchor


def test_audit_verify_command_reports_tampering(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from lepton.cli import main

    monkeypatch.setenv("LEPTON_HOME", str(tmp_path))
    monkeypatch.delenv("LEPTON_MASTER_KEY", raising=False)
    from lepton.crypto.keyring import load_master_key

    log = AuditLog(Layout(tmp_path).audit_log, audit_key(load_master_key(Layout(tmp_path).master_key)))
    log.append("ingest", "batch-1")
    log.append("policy.applied", "batch-1")
    ok = CliRunner().invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0 and "intact: 2 entries" in ok.output
    lines = log.path.read_text().splitlines()
    log.path.write_text(lines[0] + "\n" + lines[1].replace("policy.applied", "policy.skipped") + "\n")
    bad = CliRunner().invoke(main, ["audit", "verify"])
    assert bad.exit_code == 1 and "entry 2 was edited" in bad.output
