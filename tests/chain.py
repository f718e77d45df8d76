"""Running the chain in process the way the sensors and a user would: register the landing
files as batch partitions and run each batch (which pushes its tasks to Label Studio),
pull the annotations back as a snapshot and run it through its gate, then build the
dataset and the model."""

from dataclasses import dataclass, field

import dagster as dg

from lepton.settings import Settings
from pipelines.annotation_sync import pull_and_register
from pipelines.batches import register_landing
from pipelines.definitions import build_definitions


@dataclass
class ChainRun:
    batches: dict = field(default_factory=dict)      # record-batch key -> ingest run
    annotated: dict = field(default_factory=dict)    # record-batch key -> annotation run after its push
    snapshots: dict = field(default_factory=dict)    # record-batch key -> snapshot id after its push
    final: object = None

    def runs(self) -> list:
        return (list(self.batches.values()) + [r for r in self.annotated.values() if r is not None]
                + ([self.final] if self.final is not None else []))

    def materialized(self) -> set[str]:
        return {e.asset_key.to_user_string() for r in self.runs() for e in r.get_asset_materialization_events()}

    def only_batch(self):
        [result] = self.batches.values()
        return result


def annotate(settings: Settings, instance: dg.DagsterInstance, raise_on_error: bool = True):
    """What the annotation sync sensor does, then the run it launches: (snapshot id, run) or (None, None)."""
    snap = pull_and_register(settings, instance)
    if snap is None:
        return None, None
    run = build_definitions(settings).resolve_job_def("annotation_batch").execute_in_process(
        instance=instance, partition_key=snap.snapshot_id, raise_on_error=raise_on_error)
    return snap.snapshot_id, run


def run_chain(settings: Settings, instance: dg.DagsterInstance, raise_on_error: bool = True,
              final: bool = True) -> ChainRun:
    defs = build_definitions(settings)
    out = ChainRun()
    for key in register_landing(settings, instance):
        out.batches[key] = defs.resolve_job_def("ingest_batch").execute_in_process(
            instance=instance, partition_key=key, raise_on_error=raise_on_error)
        out.snapshots[key], out.annotated[key] = annotate(settings, instance, raise_on_error)
    if final:
        out.final = defs.resolve_job_def("dataset_and_model").execute_in_process(
            instance=instance, raise_on_error=raise_on_error)
    return out
