"""The retention job and its nightly schedule: archive and purge expired raw batches."""

import dagster as dg

from lepton.governance.retention import sweep
from resources import GovernanceResource, KeyringResource, LineageResource, WorkspaceResource


@dg.op(description="Archive (encrypted) and delete the working copies of batches past their class's retention.")
def retention_sweep(context: dg.OpExecutionContext, workspace: WorkspaceResource, governance: GovernanceResource,
                    keyring: KeyringResource, lineage: LineageResource) -> None:
    actions = sweep(workspace.home, governance.policy(), keyring.keyring(), lineage.store, governance.audit(),
                    actor=f"dagster:{context.run.run_id}")
    for a in actions:
        context.log.info(f"batch {a.batch_id} ({a.sensitivity}, {a.age_days:.0f} days): archived to {a.archive}, "
                         f"{len(a.deleted)} working folders deleted")
    context.add_output_metadata({"batches_archived": len(actions),
                                 "batches": dg.MetadataValue.json([a.batch_id for a in actions])})


@dg.job(description="Retention: archive and purge expired raw batches (policy/sensitivity.yaml retention_days).")
def retention_job():
    retention_sweep()


retention_schedule = dg.ScheduleDefinition(job=retention_job, cron_schedule="30 2 * * *",
                                           default_status=dg.DefaultScheduleStatus.RUNNING)
