"""Label Studio -> annotation-batch partitions: the sync sensor, and the same pull as a
command for a shell or a test (`python -m pipelines.annotation_sync pull`)."""

from __future__ import annotations

import os

import click
import dagster as dg

from assets.partitions import annotation_batches
from lepton.annotation.schema import load_schema
from lepton.annotation.sync import Snapshot, SnapshotStore, sync
from lepton.settings import Settings
from lepton.workspace import WorkTree, erased_ids
from resources import LabelSchemaResource, LabelStudioResource, WorkspaceResource

annotation_batch_job = dg.define_asset_job(
    "annotation_batch", selection=dg.AssetSelection.assets("annotations"),
    description="One annotation snapshot from Label Studio: resolve, agreement check, validation gate.",
)

# A sensor tick that runs too long is cut off by Dagster (60 s by default): retry within a
# tick for less than that, and let the next tick try again after a longer outage.
SENSOR_RETRY_SECONDS = 40.0


def resource_from_env(settings: Settings) -> LabelStudioResource:
    """The resource outside a Dagster run (a shell, a test): the same settings, read now."""
    return LabelStudioResource.from_settings(settings, os.environ["LABEL_STUDIO_URL"],
                                             os.environ["LABEL_STUDIO_API_KEY"])


def snapshot_store(settings: Settings) -> SnapshotStore:
    return SnapshotStore.in_workspace(settings.home)


def pull(label_studio: LabelStudioResource, work: WorkTree, schema_version: str, cursor: str | None,
         retry_seconds: float | None = None, log=None) -> Snapshot | None:
    """One sync against the project into the work tree's snapshots, the tasks stamped with
    the label schema version, erased records refused; None when nothing changed or the
    project does not exist yet."""
    studio = label_studio.studio(on_retry=log, retry_seconds=retry_seconds)
    project = studio.find_project(label_studio.project)
    if project is None:
        return None
    return sync(studio, project, SnapshotStore(work.annotation_snapshots), cursor, schema_version,
                erased=erased_ids(work))


def pull_and_register(settings: Settings, instance: dg.DagsterInstance) -> Snapshot | None:
    """A pull from the latest stored snapshot, as a shell or a test does it."""
    store = snapshot_store(settings)
    snap = pull(resource_from_env(settings), settings.layout.work, load_schema(settings.label_schema_file).version,
                store.head())
    if snap is not None:
        instance.add_dynamic_partitions(annotation_batches.name, [snap.snapshot_id])
    return snap


@dg.sensor(job=annotation_batch_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Polls Label Studio for new, changed and deleted annotations; each change set becomes an "
                       "immutable snapshot, an annotation-batch partition and a run. The cursor moves only after "
                       "the snapshot is stored.")
def annotation_sync(context: dg.SensorEvaluationContext, label_studio: LabelStudioResource,
                    workspace: WorkspaceResource, labels: LabelSchemaResource):
    if workspace.busy:
        return dg.SkipReason("an erasure holds the workspace; the next tick looks again")
    store = SnapshotStore.in_workspace(workspace.layout.home)
    # A new or reset cursor starts from the stored HEAD, not from nothing: otherwise an
    # unchanged project is written again as a new "first" snapshot and re-run.
    snap = pull(label_studio, workspace.layout.work, labels.schema().version, context.cursor or store.head(),
                retry_seconds=min(SENSOR_RETRY_SECONDS, label_studio.retry_seconds), log=context.log.warning)
    if snap is None:
        return dg.SkipReason("no new or changed annotations")
    context.log.info(f"snapshot {snap.snapshot_id}: {snap.tasks} tasks, {snap.annotations} annotations")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=snap.snapshot_id, partition_key=snap.snapshot_id)],
        dynamic_partitions_requests=[annotation_batches.build_add_request([snap.snapshot_id])],
        cursor=snap.snapshot_id,
    )


@click.group()
def main() -> None:
    """Annotation snapshots from Label Studio, outside the sensor."""


@main.command("pull")
def pull_cmd() -> None:
    """Pull Label Studio into a new snapshot partition and print its id (nothing when nothing changed)."""
    with dg.DagsterInstance.get() as instance:
        snap = pull_and_register(Settings.from_env(), instance)
        if snap is not None:
            click.echo(snap.snapshot_id)


if __name__ == "__main__":
    main()
