"""Erasure reaches the quarantine: a person's text refused at reading, at cleaning or as an
exact duplicate is erased with the record, from the working files and from every copy of
the quarantine made before (its key is shredded), and the landing file loses every line
that held it. No dataset or Label Studio is needed: the first stages alone quarantine it."""

import json
import shutil

import dagster as dg
import pytest
from click.testing import CliRunner

from assets.governance import clean_documents
from assets.ingestion import raw_documents
from assets.validation import raw_documents_contract
from lepton.cli import main as cli
from lepton.corpus.quarantine import read_quarantine, subject
from lepton.crypto.fields import FieldCipher
from lepton.crypto.keyring import KeyringError
from lepton.settings import Settings
from lepton.stores import keyring_for
from lepton.workspace import CLEAN, QUARANTINE, RAW
from pipelines.batches import register_landing
from pipelines.definitions import build_resources
from tests.test_erasure import holding

NAME = "Zephyrine Quillfeather"
CANARY = {"text": f"{NAME} moved from Ostravik to Pelmarsh in 2031.", "spans": [{"start": 0, "end": 22, "label": "PER"}]}
LINES = [
    json.dumps({"text": "Initech opened an office in Oslo.", "spans": [{"start": 0, "end": 7, "label": "ORG"}]}),
    json.dumps(CANARY),
    json.dumps(CANARY),                                       # an exact duplicate: quarantined
    json.dumps({"text": f"{NAME} wrote again.", "spans": 5}),  # refused at reading
    # refused at cleaning: its only span holds nothing but a zero-width space
    json.dumps({"text": f"{NAME}\u200b signed.", "spans": [{"start": 22, "end": 23, "label": "PER"}]}),
    "not a JSON object",                                      # refused at reading, nobody's data
    json.dumps({"text": "Bob lives in Oslo.", "spans": [{"start": 0, "end": 3, "label": "PER"}]}),
]


def _export(runner, path) -> list[dict]:
    res = runner.invoke(cli, ["quarantine", "export", str(path)])
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_erasure_takes_the_subject_out_of_the_quarantine_and_shreds_its_key(workspace_env, tmp_path):
    s = Settings.from_env()
    s.landing_dir.mkdir(parents=True)
    landing = s.landing_dir / "people.jsonl"
    landing.write_text("".join(line + "\n" for line in LINES))
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        [key] = register_landing(s, instance)
        done = dg.materialize([raw_documents, raw_documents_contract, clean_documents], partition_key=key,
                              instance=instance, resources=build_resources(s))
    assert done.success
    work = s.layout.work
    quarantines = [work.stage_file(RAW, key, QUARANTINE), work.stage_file(CLEAN, key, QUARANTINE)]
    # every quarantined line names the record it holds, so erasure can find it
    entries = [e for q in quarantines for e in read_quarantine(q)]
    assert sorted(e["rule"] for e in entries) == ["json.invalid", "record.duplicate", "span.removed_by_cleaning",
                                                  "spans.not_list"]
    assert all(e.get("record_id") for e in entries), entries
    runner = CliRunner()
    before = _export(runner, tmp_path / "before.jsonl")
    assert sum(NAME in e["raw"] for e in before) == 3
    backup = tmp_path / "backup"  # what a copy of the workspace taken now holds
    backup.mkdir()
    for i, q in enumerate(quarantines):
        shutil.copy(q, backup / f"{i}.jsonl")

    res = runner.invoke(cli, ["governance", "erase", "--subject", "quillfeather", "--json"])
    assert res.exit_code == 0, res.output
    tomb = json.loads(res.stdout)
    assert len(tomb["records"]) == 3  # the record, the one refused at reading, the one refused at cleaning

    # no readable copy: not in the files, not in the export, and the old copies' key is gone
    assert holding([s.home]) == []
    after = _export(runner, tmp_path / "after.jsonl")
    assert not any(NAME.casefold() in json.dumps(e).casefold() for e in after)
    assert [e["rule"] for e in after] == ["json.invalid"]  # nobody else's entry is lost, and it still decrypts
    assert after[0]["raw"] == "not a JSON object"
    cipher = FieldCipher(keyring_for(s), "quarantine")
    old = [e for i in range(2) for e in read_quarantine(backup / f"{i}.jsonl") if e["rule"] != "json.invalid"]
    assert len(old) == 3
    for e in old:
        with pytest.raises(KeyringError, match="destroyed"):
            cipher.decrypt(subject(e["source"], e["line"]), e["raw_encrypted"])
    assert tomb["data_keys_destroyed"] and all(k.startswith("dk-quarantine-") for k in tomb["data_keys_destroyed"])
    # the landing file keeps every other line, at its line number
    kept = landing.read_text().splitlines()
    assert len(kept) == len(LINES)
    assert [i for i, line in enumerate(kept) if line] == [0, 5, 6]


def test_erasure_rewrites_a_remote_landing_file_and_says_what_it_could_not(workspace_env, tmp_path, monkeypatch):
    """A landing zone on an object store (here fsspec's in-memory one, the same code path as
    s3://) is rewritten like a local one; a landing file changed since it was registered is
    not, and the tombstone says so and why."""
    import uuid

    from upath import UPath

    zone = UPath(f"memory://landing-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("LEPTON_LANDING", str(zone))
    s = Settings.from_env()
    (zone / "people.jsonl").write_text("".join(line + "\n" for line in LINES))
    (zone / "later.jsonl").write_text(json.dumps(CANARY) + "\n")
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        keys = register_landing(s, instance)
        for key in keys:
            assert dg.materialize([raw_documents, raw_documents_contract, clean_documents], partition_key=key,
                                  instance=instance, resources=build_resources(s)).success
    (zone / "later.jsonl").write_text(json.dumps(CANARY) + "\n" + '{"text": "Bob is new here."}\n')
    res = CliRunner().invoke(cli, ["governance", "erase", "--subject", "quillfeather", "--json"])
    assert res.exit_code == 0, res.output
    tomb = json.loads(res.stdout)
    assert NAME not in (zone / "people.jsonl").read_text()
    assert (zone / "people.jsonl").read_text().splitlines()[0] == LINES[0]
    assert NAME in (zone / "later.jsonl").read_text()  # changed since registration: left, and said
    [skipped] = tomb["landing_not_rewritten"]
    assert skipped["source"] == "later.jsonl" and "changed since it was registered" in skipped["why"]
