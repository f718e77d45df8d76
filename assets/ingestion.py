import dagster as dg

from assets.partitions import batches
from lepton.corpus.ingest import ingest_folder
from lepton.corpus.landing import BatchRegistry
from lepton.corpus.quarantine import KEY_PURPOSE as QUARANTINE_PURPOSE
from lepton.corpus.records import RECORD_FIELDS
from lepton.crypto.fields import FieldCipher
from lepton.governance.erasure import scrub_redelivered
from lepton.governance.retention import write_batch_meta
from lepton.workspace import QUARANTINE, RAW, RECORDS, SOURCES, erased_ids, record_ids
from resources import (
    GovernanceResource,
    IngestionResource,
    KeyringResource,
    LabelSchemaResource,
    LineageResource,
    WorkspaceResource,
)

CODE_VERSION = "ingest-1"


@dg.asset(
    group_name="ingestion", kinds={"python", "jsonl"}, owners=["team:data-platform"],
    code_version=CODE_VERSION, partitions_def=batches,
    description="Documents read from the landing folder (JSONL, Hugging Face token/tag JSONL, CSV/TSV, plain text, CoNLL, Label Studio JSON exports; optionally gzipped; one registry in lepton/corpus/formats.py); unreadable records are "
                "quarantined with file, line and rule; per file, records in = accepted + quarantined.",
)
def raw_documents(context: dg.AssetExecutionContext, workspace: WorkspaceResource,
                  lineage: LineageResource, governance: GovernanceResource,
                  keyring: KeyringResource, ingestion: IngestionResource,
                  labels: LabelSchemaResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        batch_id = context.partition_key
        # The batch is the registered file version, copied once into the workspace: a landing
        # file changed later is a new batch and cannot alter this one.
        snapshot_dir = workspace.folder(workspace.work.stage(SOURCES, batch_id))
        registry = BatchRegistry.in_workspace(workspace.home)
        registry_entry = registry.get(batch_id)
        registry.snapshot(batch_id, snapshot_dir)
        batch_dir = workspace.folder(workspace.work.stage(RAW, batch_id))
        records = batch_dir / RECORDS
        quarantine = batch_dir / QUARANTINE
        ring = keyring.keyring()
        cipher, ids = FieldCipher(ring, QUARANTINE_PURPOSE), record_ids(workspace.layout, ring)
        erased, options = erased_ids(workspace.work), ingestion.options()
        report = ingest_folder(snapshot_dir, records, quarantine, protect=cipher.encrypt, options=options,
                               labels=labels.schema(), erased=erased, ids=ids)
        refused = sum(f.rules.get("record.erased", 0) for f in report.files)
        scrubbed = scrub_redelivered(workspace.layout.home, workspace.landing_url, options, batch_id, erased, ids) \
            if erased else []
        if refused or scrubbed:
            context.log.warning(f"{refused} erased records delivered again were refused; "
                                f"{len(scrubbed)} files lost their lines")
        files = report.to_dict()["files"]
        write_batch_meta(batch_dir, batch_id)
        node = step.stage.add_record_batch(batch_id, files)
        governance.audit().append("ingest", f"record_batch:{batch_id}", actor="dagster:" + context.run.run_id,
                                  files=[{k: f[k] for k in ("source", "sha256", "records_in", "accepted", "quarantined")}
                                         for f in files], erased_refused=refused, files_scrubbed=scrubbed)
        for f in files:
            if f["quarantined"]:
                context.log.warning(f"{f['source']}: {f['quarantined']} of {f['records_in']} records quarantined "
                                    f"({', '.join(f'{k}={v}' for k, v in sorted(f['rules'].items()))})")
        return dg.Output(
            {"batch_id": batch_id, "records_path": str(records), "quarantine_path": str(quarantine),
             "accepted": report.accepted, "quarantined": report.quarantined},
            metadata={
                "batch_id": batch_id,
                "landing_file": registry_entry["source"],
                "sha256": registry_entry["sha256"],
                "files": len(files),
                "records_in": report.records_in,
                "accepted": report.accepted,
                "quarantined": report.quarantined,
                "per_file": dg.MetadataValue.md(
                    "| file | in | accepted | quarantined | rules |\n|---|---|---|---|---|\n" + "\n".join(
                        f"| {f['source']} | {f['records_in']} | {f['accepted']} | {f['quarantined']} | "
                        f"{', '.join(f'{k}: {v}' for k, v in sorted(f['rules'].items())) or '-'} |" for f in files)),
                "quarantine_file": dg.MetadataValue.path(str(quarantine)),
                "labels_mapped": dg.MetadataValue.json({f["source"]: f["labels_mapped"] for f in files if f["labels_mapped"]}),
                **step.complete(node, fields=RECORD_FIELDS, rows=report.accepted),
            },
        )

