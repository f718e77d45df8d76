"""The workspace lock: while an erasure holds it, sensors skip their tick and a run waits,
then fails naming the lock; while a run holds it, an erasure waits, then refuses."""

import json

import dagster as dg
from click.testing import CliRunner

from assets.ingestion import raw_documents
from lepton import workspace_lock
from lepton.cli import main as cli
from lepton.settings import Settings
from pipelines.batches import landing_sensor, register_landing
from pipelines.definitions import build_resources
from tests.chain import tick


def test_an_erasure_and_runs_take_turns_on_the_workspace(workspace_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_LOCK_WAIT_SECONDS", "0.5")
    s = Settings.from_env()
    s.landing_dir.mkdir(parents=True)
    (s.landing_dir / "a.jsonl").write_text(json.dumps({"text": "Ana lives in Oslo.", "spans": []}) + "\n")
    resources = build_resources(s)
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        [key] = register_landing(s, instance)
        with workspace_lock.exclusive(s.layout.lock, 0):  # what an erasure holds
            skipped = tick(landing_sensor, instance, {"workspace": resources["workspace"]})
            assert isinstance(skipped, dg.SkipReason) and "erasure" in skipped.skip_message
            waited = dg.materialize([raw_documents], partition_key=key, instance=instance, resources=resources,
                                    raise_on_error=False)
        assert not waited.success
        assert not s.layout.work.stage("raw", key).exists()  # the run did nothing
        failure = next(e for e in waited.all_events if e.is_failure)
        assert "an erasure holds the workspace lock" in str(failure.event_specific_data)
        ran = dg.materialize([raw_documents], partition_key=key, instance=instance, resources=resources)
        assert ran.success

    with workspace_lock.shared(s.layout.lock, 0):  # what a run in flight holds
        refused = CliRunner().invoke(cli, ["governance", "erase", "--record", "r-1"])
    assert refused.exit_code != 0 and "runs still hold the workspace lock" in refused.output
    assert not workspace_lock.busy(s.layout.lock)
