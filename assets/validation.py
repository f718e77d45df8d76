import json
from pathlib import Path

import dagster as dg

from assets.annotation import annotations
from assets.dataset import dataset_version
from assets.ingestion import raw_documents
from assets.partitions import annotation_batches, batches
from lepton.corpus.ingest import read_records
from lepton.validation.distribution import contract, drift
from lepton.validation.parking import Parking, write_reports
from resources import GreatExpectationsResource, LabelSchemaResource, LineageResource, WorkspaceResource

CODE_VERSION = "validation-2"
SUITE = "annotations"


@dg.asset_check(
    asset=annotations, blocking=True, partitions_def=annotation_batches,
    description="Great Expectations contract expectations/annotations.json with the NER expectations of "
                "expectations/ner_expectations.py: spans inside their text, span text equals text[start:end], no "
                "overlapping spans, no edge whitespace, labels from the current schema, token alignment rate; "
                "unique span ids, non-empty. Blocking: nothing downstream runs on a failed batch.",
)
def annotations_contract(context: dg.AssetCheckExecutionContext, annotations: dict,
                         gx: GreatExpectationsResource, workspace: WorkspaceResource,
                         lineage: LineageResource, labels: LabelSchemaResource) -> dg.AssetCheckResult:
    if annotations["documents"] == 0:
        # Every annotation deleted or skipped: no span to check, and no record for a dataset.
        lineage.stage(context, CODE_VERSION).add_validation(annotations["batch_id"], f"{SUITE}-empty", True,
                                                                 evaluated=0)
        return dg.AssetCheckResult(passed=True, description="no annotated record in this snapshot; nothing to validate",
                                   metadata={"evaluated_rows": 0})
    alignment = json.loads(Path(annotations["report"]).read_text(encoding="utf-8"))["unaligned_spans"]
    unaligned = {(u["record_id"], u["start"], u["end"]) for u in alignment}
    report = gx.validate(read_records(annotations["path"]), SUITE, unaligned, labels.schema().names)
    stage = lineage.stage(context, CODE_VERSION)
    return _gx_result(context, report, annotations["batch_id"], workspace,
                      lambda **attrs: stage.add_validation(annotations["batch_id"], report.suite_key, report.success,
                                                       **attrs),
                      annotations["path"], annotations["report"])


def _gx_result(context, report, batch: str, workspace: WorkspaceResource, record, data: str,
               unaligned_report: str | None = None) -> dg.AssetCheckResult:
    """One shape for every GX check: the full result as JSON and HTML beside it, a lineage
    node pointing at both, failing rows named and their values masked in the metadata. A
    failing batch is parked with its report; a passing one is released if it was parked."""
    report_path, html_path = write_reports(report, batch, workspace.folder(workspace.work.validation))
    node = record(evaluated=report.evaluated_rows, failed_expectations=len(report.failed), report=str(report_path),
                  report_html=str(html_path))
    parking = Parking.in_workspace(workspace.home)
    if report.success:
        parking.release(batch, released_by_suite=report.suite_key, released_by_run=context.run.run_id)
    else:
        parking.park(batch, report.suite, report, Path(data), report_path, html_path, unaligned_report)
        context.log.error(report.summary() + f"; parked: fix it, then `lepton validation rerun {batch}`")
    return dg.AssetCheckResult(
        passed=report.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.summary(),
        metadata={
            "suite": report.suite_key,
            "evaluated_rows": report.evaluated_rows,
            "expectations": len(report.outcomes),
            "failed_expectations": len(report.failed),
            "failures": dg.MetadataValue.md(
                "| rule | column | failing rows | examples (file:line span) | values (masked) |\n|---|---|---|---|---|\n"
                + "\n".join(f"| {o.rule} | {o.column} | {o.unexpected_count} | {', '.join(o.failing_rows)} | "
                             f"{', '.join(o.examples)} |" for o in report.failed) if report.failed else "none"),
            "report": dg.MetadataValue.path(str(report_path)),
            "report_html": dg.MetadataValue.path(str(html_path)),
            "lineage_node": node,
            "parked": "no" if report.success else f"yes: lepton validation rerun {batch}",
        },
    )


@dg.asset_check(
    asset=raw_documents, blocking=True, partitions_def=batches,
    description="Great Expectations contract expectations/raw_documents.json on the batch's accepted records: "
                "ids present and unique, source and line named, non-empty text. Blocking: cleaning, PII and "
                "annotation do not run on a batch that breaks it.",
)
def raw_documents_contract(context: dg.AssetCheckExecutionContext, raw_documents: dict,
                           gx: GreatExpectationsResource, workspace: WorkspaceResource,
                           lineage: LineageResource) -> dg.AssetCheckResult:
    report = gx.validate(read_records(raw_documents["records_path"]), "raw_documents")
    stage = lineage.stage(context, CODE_VERSION)
    return _gx_result(context, report, raw_documents["batch_id"], workspace,
                      lambda **attrs: stage.add_batch_validation(raw_documents["batch_id"], report.suite_key,
                                                             report.success, **attrs),
                      raw_documents["records_path"])


@dg.asset_check(
    asset=dataset_version, blocking=True,
    description="Distribution contract from expectations/thresholds.yaml: no identical or near-identical "
                "document in two splits, minimum examples per label, document and span length ranges, "
                "duplicate-text rate. Blocking: no model is trained on a version that breaks it, in this run "
                "or a later one.",
)
def dataset_contract(context: dg.AssetCheckExecutionContext, dataset_version: dict, gx: GreatExpectationsResource,
                     lineage: LineageResource) -> dg.AssetCheckResult:
    findings = contract(dataset_version["profile"], gx.thresholds(), dataset_version["labels"],
                        dataset_version.get("min_examples"))
    failed = [f for f in findings if not f.passed]
    lineage.stage(context, CODE_VERSION).add_dataset_validation(
        dataset_version["version"], gx.thresholds_key(), not failed, findings=[f.to_dict() for f in findings])
    return dg.AssetCheckResult(
        passed=not failed, severity=dg.AssetCheckSeverity.ERROR,
        description=("all distribution rules hold" if not failed else
                     "; ".join(f"{f.rule}: observed {f.observed}, threshold {f.threshold}" for f in failed)),
        metadata={"evaluated_documents": dataset_version["profile"]["documents"], "failed_rules": len(failed),
                  "findings": dg.MetadataValue.json([f.to_dict() for f in findings])},
    )


@dg.asset_check(
    asset=dataset_version, blocking=True,
    description="Great Expectations contract expectations/dataset_splits.json on the version's split assignment "
                "(no text): a record in exactly one split, near-duplicate families never across splits, every "
                "split populated, non-empty documents. Blocking.",
)
def dataset_splits_contract(context: dg.AssetCheckExecutionContext, dataset_version: dict,
                            gx: GreatExpectationsResource, workspace: WorkspaceResource,
                            lineage: LineageResource) -> dg.AssetCheckResult:
    rows = [json.loads(line) for line in Path(dataset_version["split_rows"]).open(encoding="utf-8")]
    report = gx.validate(rows, "dataset_splits")
    stage = lineage.stage(context, CODE_VERSION)
    return _gx_result(context, report, dataset_version["version"], workspace,
                      lambda **attrs: stage.add_dataset_validation(dataset_version["version"], report.suite_key,
                                                               report.success, **attrs),
                      dataset_version["split_rows"])


@dg.asset_check(
    asset=dataset_version, blocking=False,
    description="Label-distribution drift against the previous dataset version (Jensen-Shannon distance, "
                "threshold in expectations/thresholds.yaml). A warning.",
)
def label_drift(dataset_version: dict, gx: GreatExpectationsResource) -> dg.AssetCheckResult:
    f = drift(dataset_version["profile"], dataset_version.get("previous_labels"), gx.thresholds())
    return dg.AssetCheckResult(passed=f.passed, severity=dg.AssetCheckSeverity.WARN,
                               description=f"{f.rule}: {f.observed} (threshold {f.threshold})",
                               metadata={"js_distance": f.observed if isinstance(f.observed, float) else 0.0,
                                         "threshold": f.threshold,
                                         "labels": dg.MetadataValue.json(dataset_version["profile"]["labels_total"])})
