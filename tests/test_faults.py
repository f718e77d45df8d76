"""Faults injected into a running pipeline and what must survive them. Each test names its
fault; bench/RESULTS.md keeps the table of what was injected and what held."""

import json
import subprocess

import dagster as dg
import pytest

from assets.ingestion import raw_documents
from lepton.corpus.sample import write_sample
from lepton.settings import Settings
from lepton.workspace import RAW
from pipelines.batches import register_landing
from pipelines.definitions import build_resources


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs (root only: skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_stops_ingestion_with_a_clear_error_and_corrupts_nothing(workspace_env, tmp_path, monkeypatch,
                                                                            small_disk):
    """The workspace on a full disk: the run fails naming the device error and the file, the
    keyring and registry stay readable, and the same run succeeds once there is room."""
    home = small_disk / "ws"
    monkeypatch.setenv("LEPTON_HOME", str(home))
    monkeypatch.setenv("LEPTON_LANDING", str(tmp_path / "landing"))
    s = Settings.from_env()
    write_sample(s.landing_dir, 6000, seed=3, conll_share=0.0)  # 2.4 MB in, 3.4 MB of records out
    (small_disk / "ballast").write_bytes(b"\0" * (4 << 20))      # leaves room for the copy, not the records
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        [key] = register_landing(s, instance)
        failed = dg.materialize([raw_documents], partition_key=key, instance=instance, resources=build_resources(s),
                                raise_on_error=False)
        assert not failed.success
        failure = next(e for e in failed.all_events if e.is_step_failure)
        message = str(failure.event_specific_data.error)
        assert "raw_documents: no space left on a device it writes to" in message and "Errno 28" in message
        # nothing the workspace had is damaged: the keyring and the batch registry still read
        assert json.loads(s.layout.keyring.read_text())
        assert json.loads(next(s.layout.batch_registry.glob("*.json")).read_text())["batch_key"] == key
        # with room again, the same run gives every record
        (small_disk / "ballast").unlink()
        ok = dg.materialize([raw_documents], partition_key=key, instance=instance, resources=build_resources(s))
    out = ok.output_for_node("raw_documents")
    assert out["accepted"] + out["quarantined"] == 6000
    assert len(s.layout.work.stage_file(RAW, key).read_text().splitlines()) == out["accepted"]


def test_ingestion_killed_mid_write_loses_nothing_on_the_next_run(workspace_env, tmp_path):
    """kill -9 of `dagster asset materialize` while it writes a batch's records: Dagster holds
    no materialization of the partition (nothing downstream reads the half-written file), and
    the same command run again counts every record in as accepted or quarantined."""
    import os
    import signal
    import sys
    import time
    from pathlib import Path

    s = Settings.from_env()
    write_sample(s.landing_dir, 60000, seed=4, conll_share=0.0)
    with dg.DagsterInstance.get() as instance:  # the workspace's, as the shell's commands find it
        [key] = register_landing(s, instance)
    env = {**os.environ, **workspace_env}
    dagster = str(Path(sys.executable).parent / "dagster")
    cmd = [dagster, "asset", "materialize", "-m", "pipelines.definitions", "--partition", key, "--select",
           "raw_documents"]
    records = s.layout.work.stage_file(RAW, key)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and not (records.exists() and records.stat().st_size > 100_000):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert records.exists(), "the run was killed before it wrote anything: the fault was not injected"
    with dg.DagsterInstance.get() as instance:
        assert instance.get_latest_materialization_event(dg.AssetKey("raw_documents")) is None
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("raw_documents"))
    meta = event.asset_materialization.metadata
    assert meta["records_in"].value == 60000 == meta["accepted"].value + meta["quarantined"].value
    assert len(records.read_text().splitlines()) == meta["accepted"].value
