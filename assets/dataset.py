import shutil

import dagster as dg

from assets._context import stage_lineage
from lepton.annotation.schema import schema_version
from lepton.corpus.ingest import read_records
from lepton.datasets.version import build_dataset
from resources import DvcResource, GovernanceResource, KeyringResource, LineageResource, TrainingResource

CODE_VERSION = "dataset-1"
DATASET = "ner"


class GateNotPassed(Exception):
    pass


@dg.asset(
    group_name="dataset", kinds={"dvc", "python"}, owners=["team:data-platform"],
    code_version=CODE_VERSION, pool="dvc",
    description="Document-level, label-stratified train/dev/test split, encrypted (AES-256-GCM under a wrapped data key), "
                "tracked and pushed by DVC. Refuses an annotation batch without a passing validation.",
)
def dataset_version(context: dg.AssetExecutionContext, annotations: dict, dvc: DvcResource,
                    keyring: KeyringResource, lineage: LineageResource, training: TrainingResource,
                    governance: GovernanceResource) -> dg.Output[dict]:
    stage = stage_lineage(context, lineage, CODE_VERSION)
    # Blocking checks stop this asset within a run; this guard covers later runs and backfills.
    validation = stage.passed_validation(annotations["batch_id"])
    if validation is None:
        raise GateNotPassed(f"annotation batch {annotations['batch_id']} has no passing validation; "
                            "fix the batch and re-run the annotations_contract check")
    store = dvc.store()
    store.install_pipeline_file(dvc.pipeline_file)
    out_dir = store.repo_dir / "datasets" / DATASET
    if out_dir.exists():
        shutil.rmtree(out_dir)
    manifest = build_dataset(
        read_records(annotations["path"]), out_dir, keyring.keyring(), DATASET, training.seed,
        provenance={"annotation_batch": annotations["batch_id"], "record_batch": annotations["record_batch"],
                    "label_schema_version": schema_version(), "validation": validation},
    )
    tracked = store.add_and_push(out_dir)
    version = tracked["md5"].removesuffix(".dir")
    rows = {split: entry["rows"] for split, entry in manifest["splits"].items()}
    governance.audit().append("export.dataset_version", f"dataset_version:{version}",
                              actor="dagster:" + context.run.run_id, remote=dvc.remote_url,
                              files_pushed=tracked["pushed"], key_id=manifest["key_id"], rows=rows)
    store.record_version(DATASET, version, key_id=manifest["key_id"], merkle_root=manifest["merkle_root"],
                         rows=rows, annotation_batch=annotations["batch_id"], dagster_run_id=context.run.run_id)
    stage.dataset(version, annotations["batch_id"], validation, dataset=DATASET, key_id=manifest["key_id"],
                  merkle_root=manifest["merkle_root"], **{f"rows_{k}": v for k, v in rows.items()})
    return dg.Output(
        {"version": version, "path": str(out_dir), "dataset": DATASET, "rows": rows,
         "annotation_batch": annotations["batch_id"]},
        metadata={
            "dvc_md5": tracked["md5"],
            "dataset_version": version,
            "files_pushed": tracked["pushed"],
            "rows_train": rows["train"], "rows_dev": rows["dev"], "rows_test": rows["test"],
            "key_id": manifest["key_id"],
            "merkle_root": manifest["merkle_root"],
            "restore": f"lepton dataset restore {version} <dir>",
            "labels_per_split": dg.MetadataValue.json(manifest["labels"]),
            "dvc_file": dg.MetadataValue.path(tracked["dvc_file"]),
            "lineage_node": f"dataset_version:{version}",
        },
    )
