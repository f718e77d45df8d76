"""Running the chain in process the way the sensor and a user would: register the landing
files as batch partitions, run each batch, then build the dataset and the model."""

from dataclasses import dataclass, field

import dagster as dg

from lepton.settings import Settings
from pipelines.batches import register_landing
from pipelines.definitions import build_definitions


@dataclass
class ChainRun:
    batches: dict = field(default_factory=dict)  # partition key -> ExecuteInProcessResult
    final: object = None

    def materialized(self) -> set[str]:
        runs = list(self.batches.values()) + ([self.final] if self.final is not None else [])
        return {e.asset_key.to_user_string() for r in runs for e in r.get_asset_materialization_events()}

    def only_batch(self):
        [result] = self.batches.values()
        return result


def run_chain(settings: Settings, instance: dg.DagsterInstance, raise_on_error: bool = True,
              final: bool = True) -> ChainRun:
    defs = build_definitions(settings)
    out = ChainRun()
    for key in register_landing(settings, instance):
        out.batches[key] = defs.resolve_job_def("ingest_batch").execute_in_process(
            instance=instance, partition_key=key, raise_on_error=raise_on_error)
    if final:
        out.final = defs.resolve_job_def("dataset_and_model").execute_in_process(
            instance=instance, raise_on_error=raise_on_error)
    return out
