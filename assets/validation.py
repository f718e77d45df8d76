import json

import dagster as dg

from assets._context import stage_lineage
from assets.annotation import annotations
from assets.partitions import annotation_batches
from lepton.corpus.ingest import read_records
from resources import GreatExpectationsResource, LineageResource, WorkspaceResource

CODE_VERSION = "validation-1"
SUITE = "annotations"


@dg.asset_check(
    asset=annotations, blocking=True, partitions_def=annotation_batches,
    description="Great Expectations contract expectations/annotations.json: labels in the schema, "
                "0 <= start < end <= len(text), span text equals text[start:end], unique span ids, "
                "non-empty. Blocking: nothing downstream runs on a failed batch.",
)
def annotations_contract(context: dg.AssetCheckExecutionContext, annotations: dict,
                         gx: GreatExpectationsResource, workspace: WorkspaceResource,
                         lineage: LineageResource) -> dg.AssetCheckResult:
    if annotations["documents"] == 0:
        # Every annotation deleted or skipped: no span to check, and no record for a dataset.
        stage_lineage(context, lineage, CODE_VERSION).validation(annotations["batch_id"], f"{SUITE}-empty", True,
                                                                 evaluated=0)
        return dg.AssetCheckResult(passed=True, description="no annotated record in this snapshot; nothing to validate",
                                   metadata={"evaluated_spans": 0})
    report = gx.validate(read_records(annotations["path"]), SUITE)
    report_path = workspace.path("work", "validation", f"{report.suite_key}@{annotations['batch_id']}.json")
    report_path.write_text(json.dumps(report.to_dict(), indent=1))
    node = stage_lineage(context, lineage, CODE_VERSION).validation(
        annotations["batch_id"], report.suite_key, report.success,
        evaluated=report.evaluated_rows, failed_expectations=len(report.failed), report=str(report_path))
    if not report.success:
        context.log.error(report.summary())
    return dg.AssetCheckResult(
        passed=report.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.summary(),
        metadata={
            "suite": report.suite_key,
            "evaluated_spans": report.evaluated_rows,
            "expectations": len(report.outcomes),
            "failed_expectations": len(report.failed),
            "failures": dg.MetadataValue.md(
                "| rule | column | failing rows | examples (file:line span) |\n|---|---|---|---|\n" + "\n".join(
                    f"| {o.rule} | {o.column} | {o.unexpected_count} | {', '.join(o.failing_rows)} |"
                    for o in report.failed) if report.failed else "none"),
            "report": dg.MetadataValue.path(str(report_path)),
            "lineage_node": node,
        },
    )

