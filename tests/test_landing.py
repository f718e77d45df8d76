"""Landing zone -> batch partitions: the sensor registers each new or changed file once,
a changed file is a new batch and never overwrites one, and backfills over batches run
from the CLI through the Dagster daemon."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from lepton.corpus.landing import BatchRegistry, ChangedSinceRegistration, scan
from lepton.settings import Settings
from pipelines.batches import landing_sensor
from pipelines.definitions import build_definitions
from resources import WorkspaceResource
from tests.chain import dagster_daemon, tick, wait_for

REPO = Path(__file__).resolve().parent.parent
DOC = {"text": "Ana Silva joined Acme in Oslo.", "spans": [
    {"start": 0, "end": 9, "label": "PER"}, {"start": 17, "end": 21, "label": "ORG"},
    {"start": 25, "end": 29, "label": "LOC"}]}


def _tick(instance, cursor=None):
    s = Settings.from_env()
    workspace = WorkspaceResource(home=str(s.home), landing_url=s.landing_url)
    result = tick(landing_sensor, instance, {"workspace": workspace}, cursor)
    keys = [r.partition_key for r in result.run_requests]
    if result.dynamic_partitions_requests:
        instance.add_dynamic_partitions("batches", list(result.dynamic_partitions_requests[0].partition_keys))
    return keys, result.cursor


def test_sensor_registers_new_and_changed_files_once(studio_env, tmp_path):
    s = Settings.from_env()
    s.landing_dir.mkdir(parents=True)
    (s.landing_dir / "a.jsonl").write_text(json.dumps(DOC) + "\n")
    (s.landing_dir / ".upload.partial").write_text("in progress")
    (tmp_path / "d").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "d")) as instance:
        keys, cursor = _tick(instance)
        assert len(keys) == 1 and keys[0].startswith("a.jsonl-")
        assert _tick(instance, cursor)[0] == [], "no file is processed twice"
        assert _tick(instance, None)[0] == [], "not even with a reset cursor: the registry remembers"

        job = build_definitions(s).resolve_job_def("ingest_batch")
        first = job.execute_in_process(instance=instance, partition_key=keys[0])
        assert first.output_for_node("raw_documents")["accepted"] == 1

        changed = dict(DOC, text=DOC["text"].replace("Oslo", "Lima"))
        (s.landing_dir / "a.jsonl").write_text(json.dumps(DOC) + "\n" + json.dumps(changed) + "\n")
        new_keys, cursor = _tick(instance, cursor)
        assert len(new_keys) == 1 and new_keys[0] != keys[0] and new_keys[0].startswith("a.jsonl-")
        second = job.execute_in_process(instance=instance, partition_key=new_keys[0])
        assert second.output_for_node("raw_documents")["accepted"] == 2

        # the first batch is immutable: re-running it reads its snapshot, not the changed file
        again = job.execute_in_process(instance=instance, partition_key=keys[0])
        assert again.output_for_node("raw_documents")["accepted"] == 1
        assert set(instance.get_dynamic_partitions("batches")) == {keys[0], new_keys[0]}


def test_a_batch_never_snapshotted_refuses_a_changed_file(workspace_env, tmp_path):
    s = Settings.from_env()
    s.landing_dir.mkdir(parents=True)
    (s.landing_dir / "a.jsonl").write_text(json.dumps(DOC) + "\n")
    (tmp_path / "d").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "d")) as instance:
        [key], _ = _tick(instance)
    (s.landing_dir / "a.jsonl").write_text("{}\n")
    with pytest.raises(ChangedSinceRegistration, match="changed after it was registered"):
        BatchRegistry(s.layout.batch_registry).snapshot(key, tmp_path / "snap")


@pytest.mark.slow
def test_sensor_runs_and_a_cli_backfill_through_the_daemon(studio_env, tmp_path):
    # the runs the daemon launches use Dagster's default executor, a process per step, as in production
    env = {**os.environ, **studio_env, "LEPTON_EPOCHS": "1", "LEPTON_EXECUTOR": "multiprocess"}
    home = Path(studio_env["LEPTON_HOME"])
    (home / "landing").mkdir(parents=True)
    (home / "landing" / "a.jsonl").write_text(json.dumps(DOC) + "\n")
    (home / "landing" / "b.jsonl").write_text(json.dumps(dict(DOC, text=DOC["text"].replace("Ana", "Eva"))) + "\n")
    (home / "dagster" / "dagster.yaml").write_text((REPO / "deploy" / "dagster.local.yaml").read_text())
    bin_dir = Path(sys.executable).parent
    with dagster_daemon(env) as runs:
        # the annotation sync sensor may launch its own runs meanwhile: count the batch runs
        done = wait_for(runs, lambda rs: len([r for r in rs if r[0] == "ingest_batch" and r[1] == "SUCCESS"]) == 2,
                        "the sensor's two batch runs")
        done = [r for r in done if r[0] == "ingest_batch"]
        keys = sorted(r[2] for r in done)
        assert len(keys) == 2 and all(keys)

        out = subprocess.run([str(bin_dir / "dagster"), "job", "backfill", "-w", str(REPO / "workspace.yaml"),
                              "-j", "ingest_batch", "--partitions", ",".join(keys), "--noprompt"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        wait_for(runs, lambda rs: len([r for r in rs if r[3] and r[1] == "SUCCESS"]) == 2, "the backfill's runs")


def test_symlinks_in_the_landing_folder_are_not_followed(tmp_path, caplog):
    """A link in the landing folder could make ingestion copy any file the pipeline can read
    (a key file, another team's data) into the workspace and Label Studio."""
    landing = tmp_path / "landing"
    (landing / "sub").mkdir(parents=True)
    (landing / "real.jsonl").write_text('{"text": "Ana is here."}\n')
    secret = tmp_path / "elsewhere"
    (secret / "dir").mkdir(parents=True)
    (secret / "master.key").write_text("not for the pipeline\n")
    (secret / "dir" / "more.jsonl").write_text('{"text": "Bob is there."}\n')
    (landing / "linked.jsonl").symlink_to(secret / "master.key")
    (landing / "sub" / "linked-dir").symlink_to(secret / "dir")
    with caplog.at_level("WARNING"):
        found = scan(str(landing), {})
    assert [f.source for f in found] == ["real.jsonl"]
    assert "linked.jsonl" in caplog.text and "symbolic link" in caplog.text
