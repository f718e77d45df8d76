from collections import Counter

import dagster as dg

from assets.partitions import batches
from lepton.corpus.quarantine import read_quarantine
from lepton.lineage.store import node_id
from resources import LineageResource


@dg.asset(
    group_name="ingestion", kinds={"python"}, owners=["team:data-governance"], code_version="quarantine-1", partitions_def=batches,
    description="Every record that ingestion or cleaning refused, counted by rule and file. Raw text is "
                "stored encrypted; `lepton quarantine export` / `reprocess` bring fixed records back.",
)
def quarantine(context: dg.AssetExecutionContext, raw_documents: dict, clean_documents: dict,
               lineage: LineageResource) -> dg.MaterializeResult:
    with lineage.step(context) as step:
        batch = raw_documents["batch_id"]
        by_rule, by_file, by_stage = Counter(), Counter(), Counter()
        for stage, path in (("ingest", raw_documents["quarantine_path"]), ("clean", clean_documents["quarantine_path"])):
            for entry in read_quarantine(path):
                by_rule[f"{stage}: {entry['rule']}"] += 1
                by_file[entry["source"]] += 1
                by_stage[stage] += 1
        return dg.MaterializeResult(metadata={
            "batch_id": batch,
            "quarantined": sum(by_rule.values()),
            "by_rule": dg.MetadataValue.md("| stage: rule | records |\n|---|---|\n" + "\n".join(
                f"| {k} | {v} |" for k, v in sorted(by_rule.items())) if by_rule else "none"),
            "by_file": dg.MetadataValue.json(dict(sorted(by_file.items()))),
            "files": dg.MetadataValue.json([raw_documents["quarantine_path"], clean_documents["quarantine_path"]]),
            **step.complete(None, output=f"quarantine:{batch}", version=batch,
                              inputs_extra=[node_id("record_batch", batch), node_id("clean_batch", batch)],
                              counts={"quarantined": sum(by_rule.values()), "by_stage": dict(by_stage)},
                              rows=sum(by_rule.values())),
        })
