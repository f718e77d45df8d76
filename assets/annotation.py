import dagster as dg

from assets.partitions import annotation_batches, batches
from lepton.annotation.batches import write_annotation_batch
from lepton.annotation.resolve import resolve_snapshot
from lepton.annotation.sync import SnapshotStore
from lepton.annotation.tasks import build_tasks
from lepton.corpus.records import RECORD_FIELDS
from lepton.governance.stages import governed_cuts, governed_records
from lepton.lineage.store import node_id
from lepton.ner.encoders import token_offsets_for
from lepton.ner.predict import governed_predictions, read_predictions, under_schema
from resources import (
    GovernanceResource,
    LabelSchemaResource,
    LabelStudioResource,
    LineageResource,
    TrainingResource,
    WorkspaceResource,
)

CODE_VERSION = "annotation-3"


@dg.asset(
    group_name="annotation", kinds={"labelstudio", "python"}, owners=["team:annotation"],
    code_version=CODE_VERSION, partitions_def=batches, automation_condition=dg.AutomationCondition.eager(),
    description="The batch's policy-cleared records pushed to Label Studio as tasks (restricted records never "
                "leave; redacted text where the policy redacts), with the predictions asset's spans as "
                "pre-annotations and its uncertainty ordering the queue. Idempotent by record id; when the champion "
                "changes, unannotated tasks get the new champion's pre-annotations (re-runs by itself).",
)
def annotation_tasks(context: dg.AssetExecutionContext, sensitivity: dict, predictions: dict,
                     label_studio: LabelStudioResource, lineage: LineageResource, governance: GovernanceResource,
                     labels: LabelSchemaResource) -> dg.MaterializeResult:
    with lineage.step(context) as step:
        batch = sensitivity["batch_id"]
        records, withheld = governed_records(sensitivity["records_path"])
        schema = labels.schema()
        studio = label_studio.studio(on_retry=context.log.warning)
        project = studio.ensure_project(label_studio.project, schema)
        stage = step.stage
        stage.add_label_schema(schema, project.id)
        model_version = predictions["model_version"]
        preds, fit = None, None
        if model_version is not None and records:
            # a model of another schema pre-annotates only through the schema's declared mapping
            fit = schema.reconcile(predictions["labels"], model_version)
            preds = under_schema(governed_predictions(records, read_predictions(predictions["path"]),
                                                      governed_cuts(sensitivity["records_path"])), fit)
            if fit.changed or fit.unseen:
                context.log.warning(f"{model_version} was trained under other labels: {fit.summary()}")
        tasks = build_tasks(records, batch, label_studio.input_labels, preds, model_version, schema.version)
        pushed = studio.push(project.id, tasks, progress=context.log.info)
        # tasks pushed before this model predicted (before any champion, or under the one before)
        # and still unannotated get its pre-annotations, and the queue its uncertainty
        refreshed = studio.refresh_predictions(project.id, tasks, model_version) if model_version else 0
        # after the push: Label Studio accepts a model version only once predictions carry it
        # (none do when every task was there already, so the queue is left as it is)
        if pushed["pushed"] or refreshed:
            studio.set_sampling(project.id, model_version)
        context.log.info(f"{pushed['pushed']} tasks pushed, {pushed['already_present']} already in project {project.id}"
                         f", {refreshed} given {model_version}'s pre-annotations")
        governance.audit().append("export.label_studio", f"record_batch:{batch}", actor="dagster:" + context.run.run_id,
                                  project=project.id, server=label_studio.url, **pushed, withheld_restricted=withheld,
                                  pre_annotations_refreshed=refreshed)
        made = node_id("prediction_batch", f"{batch}@{predictions['model']}") if preds is not None else None
        node = stage.add_annotation_tasks(batch, project.id, project.schema_version, predictions=made,
                                          records=len(records), withheld=withheld, model_version=model_version,
                                          label_fit=fit.summary() if fit else None, refreshed=refreshed, **pushed)
        uncertainty = [p.uncertainty for p in preds] if preds else []
        return dg.MaterializeResult(metadata={
            "project": dg.MetadataValue.url(f"{label_studio.url}/projects/{project.id}/data"),
            "tasks_pushed": pushed["pushed"], "already_present": pushed["already_present"],
            "tasks_reimported": pushed["reimported"], "pre_annotations_refreshed": refreshed,
            "withheld_restricted": withheld,
            "input_labels_as": label_studio.input_labels,
            "label_schema_version": project.schema_version,
            "label_config_changed": project.config_changed or project.created,
            "pre_annotation_labels": dg.MetadataValue.json(fit.summary() if fit else {}),
            "pre_annotations": model_version or "(no champion yet)",
            "queue": "uncertainty first" if model_version else "push order",
            "uncertainty_mean": round(sum(uncertainty) / len(uncertainty), 4) if uncertainty else 0.0,
            "uncertainty_max": round(max(uncertainty), 4) if uncertainty else 0.0,
            **step.complete(node),
        })


@dg.asset(
    group_name="annotation", kinds={"labelstudio", "jsonl"}, owners=["team:annotation"],
    code_version=CODE_VERSION, partitions_def=annotation_batches,
    deps=[dg.AssetDep(annotation_tasks, partition_mapping=dg.AllPartitionMapping())],
    description="One annotation snapshot pulled from Label Studio (the project's whole annotated state), "
                "resolved: one annotation per record (reviewer wins, else majority, else latest), unusable tasks "
                "quarantined with their rule, agreement between annotators measured, token alignment reported.",
)
def annotations(context: dg.AssetExecutionContext, workspace: WorkspaceResource, lineage: LineageResource,
                training: TrainingResource, labels: LabelSchemaResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        store = SnapshotStore.in_workspace(workspace.home)
        snapshot = store.load(context.partition_key)
        schema = labels.schema()
        resolved = resolve_snapshot(snapshot, schema)
        tokenizer_name, offsets = token_offsets_for(training.base_encoder)
        batch = write_annotation_batch(workspace.work, store.path(context.partition_key),
                                       snapshot, resolved, tokenizer_name, offsets)
        stage = step.stage
        stage.add_label_schema(schema, snapshot["project_id"])
        node = stage.add_annotation_batch(
            batch["batch_id"], batch["record_batches"], project=snapshot["project_id"], schema=batch["label_schema_version"],
            label_mapping=batch["label_mapping"], spans_refused=batch["refused_spans"],
            documents=batch["documents"], spans=batch["spans"], **batch["changes"],
            quarantined_tasks=batch["quarantined_tasks"], annotators=batch["annotators"],
            snapshot_sha256=batch["snapshot_sha256"], source="label-studio")
        if resolved.quarantined:
            context.log.warning(f"{batch['quarantined_tasks']} tasks quarantined: " + "; ".join(
                f"task {q['task_id']} annotation {q['annotation_id']}: {q['rule']}" for q in resolved.quarantined[:5]))
        return dg.Output(batch, metadata={
            "annotation_batch": batch["batch_id"],
            "sequence": batch["sequence"],
            "tasks": batch["tasks"], "documents": batch["documents"], "spans": batch["spans"],
            "changes_since_previous": dg.MetadataValue.json(batch["changes"]),
            "skipped_tasks": batch["skipped"], "quarantined_tasks": batch["quarantined_tasks"],
            "span_problems": batch["span_problems"],
            "balanced": batch["tasks"] == batch["documents"] + batch["skipped"] + batch["quarantined_tasks"],
            "spans_per_label": dg.MetadataValue.json(batch["per_label"]),
            "annotators": len(batch["annotators"]),
            "conflicts": dg.MetadataValue.json(batch["conflict_rules"]),
            "agreement": dg.MetadataValue.json(batch["agreement"]),
            "token_alignment": dg.MetadataValue.json(batch["alignment"]),
            "label_schema_version": batch["label_schema_version"],
            "labels_mapped": dg.MetadataValue.json(batch["label_mapping"]),
            "spans_refused": dg.MetadataValue.json(batch["refused_spans"]),
            "report": dg.MetadataValue.path(batch["report"]),
            "source": "Label Studio snapshot",
            **step.complete(node, fields=RECORD_FIELDS, rows=batch["documents"]),
        })


@dg.asset_check(
    asset=annotations, blocking=False, partitions_def=annotation_batches,
    description="Inter-annotator agreement on tasks with several annotations: mean pairwise entity F1 at least "
                "LEPTON_MIN_AGREEMENT_F1 (Cohen's kappa on tokens reported beside it). A warning: conflicts are "
                "settled by the documented rule, but low agreement means the guidelines need work.",
)
def annotation_agreement(annotations: dict, label_studio: LabelStudioResource) -> dg.AssetCheckResult:
    ag = annotations["agreement"]
    threshold = label_studio.min_agreement_f1
    passed = ag["tasks_multi_annotated"] == 0 or ag["entity_f1"] >= threshold
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.WARN,
        description=("no task has several annotations" if ag["tasks_multi_annotated"] == 0 else
                     f"entity F1 {ag['entity_f1']:.3f} (threshold {threshold}), kappa {ag['token_kappa']:.3f} "
                     f"over {ag['tasks_multi_annotated']} tasks"),
        metadata={**ag, "threshold": threshold, "conflicts": dg.MetadataValue.json(annotations["conflict_rules"])},
    )
