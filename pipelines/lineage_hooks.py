"""The OpenLineage FAIL of an asset whose step failed: each asset says START and COMPLETE
itself, but a step that raises never reaches its COMPLETE, and without a FAIL the run
would stay open in Marquez or DataHub."""

import dagster as dg

from assets._context import started


@dg.failure_hook(required_resource_keys={"lineage"})
def openlineage_fail(context: dg.HookContext) -> None:
    emitter = context.resources.lineage.emitter
    if emitter is None or not started(context.run_id, context.op.name):  # an asset's op is named by its key
        return
    kind = type(context.op_exception).__name__ if context.op_exception is not None else "failure"
    try:
        # the exception's kind and where to read it, never its text (it may quote a record)
        emitter.fail(context.op.name, context.run_id, context.job_name,
                     message=f"{kind} in {context.op.name}; see Dagster run {context.run_id}")
    except Exception as exc:  # noqa: BLE001 - lineage export must not mask the step's own failure
        context.log.warning(f"OpenLineage FAIL event for {context.op.name} not sent: {type(exc).__name__}: {exc}")
