
import dagster as dg

from assets._context import stage_lineage
from assets.partitions import batches
from lepton.annotation.gold import write_batch_pointer
from lepton.annotation.gold import import_gold
from lepton.annotation.schema import schema_version
from lepton.governance.stages import governed_records
from resources import LineageResource, WorkspaceResource

CODE_VERSION = "annotation-1"


@dg.asset(
    group_name="annotation", kinds={"python", "jsonl"}, owners=["team:annotation"],
    code_version=CODE_VERSION, partitions_def=batches,
    description="The annotation batch: for now the spans that arrived with the documents, imported as "
                "gold. This is the boundary where the Label Studio loop plugs in.",
)
def annotations(context: dg.AssetExecutionContext, sensitivity: dict, workspace: WorkspaceResource,
                lineage: LineageResource) -> dg.Output[dict]:
    # Only records the policy cleared: encrypted (restricted) ones are withheld, and counted.
    records, withheld = governed_records(sensitivity["records_path"])
    batch = import_gold(records, workspace.path("work", "annotations", "staging.jsonl"))
    final = workspace.path("work", "annotations", batch.batch_id, "annotations.jsonl")
    batch.path.replace(final)
    # what dataset_version reads: the latest annotation batch of each record batch
    write_batch_pointer(workspace.path("work", "annotations", "by-batch", f"{context.partition_key}.json"),
                        batch, final, sensitivity["batch_id"])
    stage_lineage(context, lineage, CODE_VERSION).annotation(
        batch.batch_id, sensitivity["batch_id"], documents=batch.documents, spans=batch.spans, withheld=withheld,
        source="gold-import", schema_version=schema_version())
    return dg.Output(
        {"batch_id": batch.batch_id, "path": str(final), "record_batch": sensitivity["batch_id"],
         "documents": batch.documents, "spans": batch.spans, "withheld": withheld,
         "schema_version": schema_version()},
        metadata={
            "annotation_batch": batch.batch_id,
            "documents": batch.documents,
            "withheld_restricted": withheld,
            "spans": batch.spans,
            "spans_per_label": dg.MetadataValue.json(batch.per_label),
            "label_schema_version": schema_version(),
            "source": "gold import (pre-labelled input)",
        },
    )
