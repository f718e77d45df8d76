import hashlib
import shutil
from functools import partial

import dagster as dg

from assets.annotation import annotations
from lepton.annotation.batches import batch_pointers
from lepton.corpus.ingest import read_records
from lepton.corpus.records import RECORD_FIELDS
from lepton.datasets import eval_set
from lepton.datasets.build import latest_validated, write_split_rows
from lepton.datasets.version import MANIFEST, build_dataset
from lepton.validation.distribution import family_keys
from lepton.validation.gates import passed_validation
from resources import (
    DvcResource,
    GovernanceResource,
    KeyringResource,
    LabelSchemaResource,
    LineageResource,
    TrainingResource,
    WorkspaceResource,
)

CODE_VERSION = "dataset-1"
DATASET = "ner"


class GateNotPassed(Exception):
    pass


@dg.asset(
    group_name="dataset", kinds={"dvc", "python"}, owners=["team:data-platform"],
    code_version=CODE_VERSION, pool="dvc", deps=[annotations],
    description="The latest annotation batch that passed validation; document-level, label-stratified "
                "train/dev/test split, encrypted (AES-256-GCM under a wrapped data key), tracked and pushed by "
                "DVC. A batch without a passing validation is left out, and named.",
)
def dataset_version(context: dg.AssetExecutionContext, workspace: WorkspaceResource, dvc: DvcResource,
                    keyring: KeyringResource, lineage: LineageResource, training: TrainingResource,
                    governance: GovernanceResource, labels: LabelSchemaResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        stage = step.stage
        # Blocking checks stop this asset within a run; this guard covers later runs and backfills.
        choice = latest_validated(batch_pointers(workspace.work), partial(passed_validation, lineage.store))
        chosen, excluded = choice.chosen, choice.left_out
        if excluded:
            context.log.warning(f"left out {len(excluded)} newer annotation batches without a passing validation: "
                                f"{', '.join(excluded)}")
        if chosen is None:
            raise GateNotPassed("no annotation batch has a passing validation"
                                + (f" (failed or unvalidated: {', '.join(excluded)})" if excluded else "")
                                + "; fix the annotations in Label Studio (the next sync re-validates) or re-run "
                                  "the annotations_contract check")
        records = {rec.record_id: rec for rec in read_records(chosen["path"])}
        if not records:
            raise GateNotPassed(f"annotation batch {chosen['batch_id']} holds no annotated record")
        # The batch was resolved under the schema of its day; the version is built under today's.
        schema = labels.schema()
        relabelled = schema.relabel_records(records, f"annotation batch {chosen['batch_id']}")
        keys = family_keys(records)
        store = dvc.store()
        store.install_pipeline_file(dvc.pipeline_file)
        # The frozen evaluation set: chosen from the first version's records, held out of every
        # version's train and dev splits from then on.
        frozen = eval_set.current(store)
        if frozen is None and (frozen := eval_set.freeze(records, keys, training.eval_set(), store,
                                                          keyring.keyring())) is not None:
            eval_set.add_to_lineage(stage, frozen, [(chosen["batch_id"], chosen["validation"])])
            governance.audit().append("eval_set.freeze", f"dataset_version:{frozen['version']}",
                                      actor="dagster:" + context.run.run_id, rows=frozen["rows"],
                                      reason=frozen["reason"])
        held_out = frozenset(frozen["record_ids"]) & records.keys() if frozen else frozenset()
        out_dir = store.repo_dir / "datasets" / DATASET
        if out_dir.exists():
            shutil.rmtree(out_dir)
        manifest = build_dataset(
            list(records.values()), out_dir, keyring.keyring(), DATASET, training.seed,
            provenance={"annotation_batches": [chosen["batch_id"]], "record_batches": chosen["record_batches"],
                        "label_schema_version": schema.version,
                        "annotation_label_schema_version": chosen.get("label_schema_version"),
                        "labels_mapped": relabelled["mapped"], "spans_refused": relabelled["refused"],
                        "eval_set": frozen["version"] if frozen else None, "held_out": len(held_out)},
            families=keys, held_out=held_out,
        )
        tracked = store.add_and_push(out_dir)
        version = tracked["md5"].removesuffix(".dir")
        rows = {split: entry["rows"] for split, entry in manifest["splits"].items()}
        assignment = {s: e["record_ids"] for s, e in manifest["splits"].items()}
        rows_path = workspace.file(workspace.work.split_rows(version))
        prof = write_split_rows(records, assignment, keys, rows_path)
        previous = [v for v in store.versions(DATASET) if v["version"] != version and "labels_total" in v]
        governance.audit().append("export.dataset_version", f"dataset_version:{version}",
                                  actor="dagster:" + context.run.run_id, remote=dvc.remote_url,
                                  files_pushed=tracked["pushed"], key_id=manifest["key_id"], rows=rows)
        store.record_version(DATASET, version, key_id=manifest["key_id"], merkle_root=manifest["merkle_root"],
                             rows=rows, annotation_batches=manifest["provenance"]["annotation_batches"],
                             labels_total=prof["labels_total"],
                             dagster_run_id=context.run.run_id)
        node = stage.add_dataset_version(version, [(chosen["batch_id"], chosen["validation"])], members=assignment, dataset=DATASET,
                             key_id=manifest["key_id"], merkle_root=manifest["merkle_root"],
                             label_schema=manifest["provenance"]["label_schema_version"],
                             **{f"rows_{k}": v for k, v in rows.items()})
        if frozen:
            stage.add_held_out(version, frozen["version"])
        return dg.Output(
            {"version": version, "path": str(out_dir), "dataset": DATASET, "rows": rows,
             "annotation_batches": manifest["provenance"]["annotation_batches"], "profile": prof,
             "split_rows": str(rows_path), "label_schema_version": schema.version, "labels": list(schema.names),
             "min_examples": schema.min_examples(),
             "previous_labels": previous[-1]["labels_total"] if previous else None},
            metadata={
                "dvc_md5": tracked["md5"],
                "dataset_version": version,
                "files_pushed": tracked["pushed"],
                "rows_train": rows["train"], "rows_dev": rows["dev"], "rows_test": rows["test"],
                "eval_set": frozen["version"] if frozen else "none yet (fewer records than the policy's minimum)",
                "held_out_in_test": len(held_out),
                "key_id": manifest["key_id"],
                "merkle_root": manifest["merkle_root"],
                "annotation_batch": chosen["batch_id"],
                "batches_left_out": dg.MetadataValue.json(excluded),
                "restore": f"lepton dataset restore {version} <dir>",
                "labels_per_split": dg.MetadataValue.json(manifest["labels"]),
                "label_schema_version": schema.version,
                "labels_mapped_since_annotation": dg.MetadataValue.json(relabelled["mapped"]),
                "spans_refused_removed_label": dg.MetadataValue.json(relabelled["refused"]),
                "dvc_file": dg.MetadataValue.path(tracked["dvc_file"]),
                **step.complete(node, fields=RECORD_FIELDS, rows=sum(rows.values()), manifest={
                    "merkle_root": manifest["merkle_root"], "key_id": manifest["key_id"], "rows": rows,
                    "manifest_sha256": hashlib.sha256((out_dir / MANIFEST).read_bytes()).hexdigest()}),
            },
        )

