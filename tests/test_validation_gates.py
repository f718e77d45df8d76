"""A batch that breaks its contract is blocked in the same run, in a later run and in a
backfill launched through the daemon; it is parked with its report until
`lepton validation rerun` finds it fixed, and then released."""

import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from lepton.cli import main as cli
from lepton.corpus.sample import write_sample
from lepton.settings import Settings
from lepton.stores import lineage_for
from pipelines.definitions import build_definitions
from tests.chain import BAD_DOCS, REPO, dagster_daemon, run_chain, spoil_annotations, wait_for, write_bad_landing

ANNOTATIONS, DATASET = dg.AssetKey("annotations"), dg.AssetKey("dataset_version")


def _materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _submit_asset_backfill(instance, defs, partitions: list[str], assets: list[dg.AssetKey]) -> str:
    """What the UI's "Materialize selected" over several partitions does (its GraphQL
    mutation builds this object): one asset backfill, executed by the daemon."""
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(), asset_graph=defs.resolve_asset_graph(), partition_names=partitions,
        asset_selection=assets, backfill_timestamp=time.time(), tags={}, dynamic_partitions_store=instance,
        all_partitions=False, title="test: annotations and dataset", description=None, run_config=None)
    instance.add_backfill(backfill)
    return backfill.backfill_id


@pytest.mark.slow
def test_a_bad_batch_is_blocked_same_run_later_and_in_a_backfill_until_rerun_releases_it(studio_env):
    s = Settings.from_env()
    env = {**os.environ, **studio_env}
    (s.dagster_home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.local.yaml").read_text())
    write_sample(s.landing_dir, 40, seed=4, conll_share=0.0)
    defs = build_definitions(s)
    with dg.DagsterInstance.from_config(str(s.dagster_home)) as instance:
        [good] = run_chain(s, instance, final=False).snapshots.values()
        write_bad_landing(s.landing_dir)
        [bad] = run_chain(s, instance, raise_on_error=False, final=False,
                          after_push=lambda: spoil_annotations(s)).snapshots.values()

        # Parked with its report, the failing rows named by file and line.
        runner = CliRunner()
        listed = runner.invoke(cli, ["validation", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        [parked] = json.loads(listed.output)
        assert parked["batch"] == bad and parked["suite"] == "annotations"
        assert {"labels in the current schema (policy/labels.yaml or LEPTON_LABEL_SCHEMA)",
                "0 <= start < end <= len(text)"} <= set(parked["failed_rules"])
        html = Path(parked["report_html"]).read_text()
        assert "bad.jsonl:1 span 0" in html and "bad.jsonl:2 span 0" in html and "Acme" not in html

        # Same run: the bad batch and the dataset in one run (`dagster asset materialize
        # --select annotations,dataset_version --partition BAD`): the dataset is skipped.
        same = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, partition_key=bad, asset_selection=[ANNOTATIONS, DATASET], raise_on_error=False)
        assert not same.success
        assert "annotations" in _materialized(same) and "dataset_version" not in _materialized(same)
        [check] = [c for c in same.get_asset_check_evaluations() if c.check_name == "annotations_contract"]
        assert not check.passed and check.metadata["parked"].value == f"yes: lepton validation rerun {bad}"

        # Backfill through the daemon over both batches and the dataset: the good batch runs,
        # the bad one fails its gate again. Dagster's asset backfill still launches the dataset
        # (the bad batch's asset materialized; only its check failed), and the dataset's guard
        # builds it from the good batch and names the bad one it left out.
        with dagster_daemon(env) as runs:
            backfill_id = _submit_asset_backfill(instance, defs, [good, bad], [ANNOTATIONS, DATASET])
            wait_for(runs, lambda rs: (instance.get_backfill(backfill_id).status.value != "REQUESTED"),
                     "the backfill to finish", timeout=300, fail_on_failure=False)
        backfill_runs = [r for r in instance.get_runs() if r.tags.get("dagster/backfill") == backfill_id]
        statuses = {r.tags.get("dagster/partition"): r.status.value for r in backfill_runs}
        assert statuses.get(good) == "SUCCESS" and statuses.get(bad) == "FAILURE", statuses
        built = [e for r in backfill_runs for e in instance.get_records_for_run(r.run_id).records
                 if e.event_log_entry.dagster_event and e.event_log_entry.dagster_event.event_type_value ==
                 "ASSET_MATERIALIZATION" and e.event_log_entry.dagster_event.asset_key == DATASET]
        [dataset] = [e.event_log_entry.dagster_event.event_specific_data.materialization.metadata for e in built]
        assert dataset["annotation_batch"].value == good and bad in dataset["batches_left_out"].value, (
            dataset["batches_left_out"].value, statuses, runs())

        # A rerun with nothing fixed keeps it parked.
        still = runner.invoke(cli, ["validation", "rerun", bad])
        assert still.exit_code == 1 and "stays parked" in still.output

        # Fix the two spans in the parked data, re-validate: released, and the next dataset
        # build takes this batch (it is the latest that passed).
        data = Path(parked["data"])
        fixed_spans = {d["text"]: d["spans"] for d in BAD_DOCS}
        lines = [json.loads(line) for line in data.read_text().splitlines()]
        for rec in lines:
            rec["spans"] = fixed_spans.get(rec["text"], rec["spans"])
        data.write_text("".join(json.dumps(rec) + "\n" for rec in lines))
        released = runner.invoke(cli, ["validation", "rerun", bad])
        assert released.exit_code == 0, released.output
        assert f"{bad} released" in released.output
        assert json.loads(runner.invoke(cli, ["validation", "list", "--json"]).output) == []
        node = [n for n in lineage_for(s).find("validation_result", name=bad) if n.attrs["success"]]
        assert node and node[0].attrs["rerun"] and node[0].attrs["data_changed_since_parked"]
        later = defs.resolve_job_def("dataset_and_model").execute_in_process(
            instance=instance, asset_selection=[DATASET])
        assert later.output_for_node("dataset_version")["annotation_batches"] == [bad]
    audit = s.layout.audit_log.read_text()
    assert audit.count('"validation.rerun"') == 2
