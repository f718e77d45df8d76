"""Landing files -> batch partitions: the landing sensor, and the same registration as a
command for a shell or a test (`python -m pipelines.batches register`)."""

from __future__ import annotations

import json

import click
import dagster as dg

from assets.partitions import batches
from lepton.corpus.landing import BatchRegistry, scan
from lepton.settings import Settings
from resources import WorkspaceResource

BATCH_ASSETS = dg.AssetSelection.assets("raw_documents", "quarantine", "clean_documents", "predictions", "pii_findings",
                                        "sensitivity", "annotation_tasks")

ingest_batch_job = dg.define_asset_job(
    "ingest_batch", selection=BATCH_ASSETS,
    description="One landing batch: ingest -> quarantine -> clean -> champion's predictions -> PII -> sensitivity "
                "-> tasks in Label Studio.",
)
dataset_and_model_job = dg.define_asset_job(
    "dataset_and_model", selection=dg.AssetSelection.assets("dataset_version").downstream(),
    description="Every validated annotation batch (latest wins) -> encrypted DVC dataset version -> training -> registry.",
)


def register_landing(settings: Settings, instance: dg.DagsterInstance) -> list[str]:
    """Registers every new or changed landing file as a batch partition; returns the new keys."""
    registry = BatchRegistry.in_workspace(settings.home)
    landing = settings.landing_url
    keys = [registry.register(f, landing) for f in scan(landing, registry.seen())]
    if keys:
        instance.add_dynamic_partitions(batches.name, keys)
    return keys


@dg.sensor(job=ingest_batch_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Each new or changed file in the landing folder becomes a batch partition and a run.")
def landing_sensor(context: dg.SensorEvaluationContext, workspace: WorkspaceResource):
    if workspace.busy:
        return dg.SkipReason("an erasure holds the workspace; the next tick looks again")
    registry = BatchRegistry.in_workspace(workspace.layout.home)
    landing = workspace.landing_url
    # The cursor holds source -> hash of everything already registered, so a file is never
    # registered twice; the registry holds the same, survives a reset cursor, and wins: an
    # erasure registers the landing file it rewrote so that it is not ingested again.
    seen = {**json.loads(context.cursor or "{}"), **registry.seen()}
    new = scan(landing, seen)
    keys = [registry.register(f, landing) for f in new]
    seen.update({f.source: f.sha256 for f in new})
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=registry.run_key(k), partition_key=k) for k in keys],
        dynamic_partitions_requests=[batches.build_add_request(keys)] if keys else [],
        cursor=json.dumps(seen, sort_keys=True),
    )


@click.group()
def main() -> None:
    """Batches from the landing zone, outside the sensor."""


@main.command("register")
def register() -> None:
    """Register new or changed landing files as batch partitions; print their keys."""
    with dg.DagsterInstance.get() as instance:
        for key in register_landing(Settings.from_env(), instance):
            click.echo(key)


if __name__ == "__main__":
    main()
