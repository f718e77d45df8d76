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
