import json

import pytest

from lepton.governance.audit import AuditLog
from lepton.workspace import Layout


@pytest.fixture
def log(tmp_path):
    log = AuditLog(Layout(tmp_path).audit_log)
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


def test_a_recomputed_chain_still_fails_against_the_head(log):
    """Rewriting every hash after an edit fools the chain but not the head."""
    from lepton.governance.audit import _entry_hash

    entries = log.entries()[:-1]
    _rewrite(log, entries)
    assert not log.verify().ok
    entries[0]["details"]["records"] = 42
    prev = "0" * 64
    for e in entries:
        e["prev"] = prev
        e["hash"] = _entry_hash(e)
        prev = e["hash"]
    _rewrite(log, entries)
    assert "head" in log.verify().problem


def test_audit_verify_command_reports_tampering(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from lepton.cli import main

    monkeypatch.setenv("LEPTON_HOME", str(tmp_path))
    log = AuditLog(Layout(tmp_path).audit_log)
    log.append("ingest", "batch-1")
    log.append("policy.applied", "batch-1")
    ok = CliRunner().invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0 and "intact: 2 entries" in ok.output
    lines = log.path.read_text().splitlines()
    log.path.write_text(lines[0] + "\n" + lines[1].replace("policy.applied", "policy.skipped") + "\n")
    bad = CliRunner().invoke(main, ["audit", "verify"])
    assert bad.exit_code == 1 and "entry 2 was edited" in bad.output
