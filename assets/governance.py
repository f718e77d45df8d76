import json

import dagster as dg

from assets.partitions import batches
from lepton.corpus.quarantine import KEY_PURPOSE as QUARANTINE_PURPOSE
from lepton.corpus.records import RECORD_FIELDS
from lepton.crypto.fields import FieldCipher
from lepton.governance.pii import person_findings, schema_person_labels
from lepton.governance.stages import apply_policy, clean_batch, detect_batch
from lepton.ner.predict import read_predictions
from lepton.validation.gates import not_passed
from lepton.workspace import CLEAN, FINDINGS, GOVERNED, PII, QUARANTINE
from resources import (
    GovernanceResource,
    GreatExpectationsResource,
    KeyringResource,
    LabelSchemaResource,
    LineageResource,
    WorkspaceResource,
)

CODE_VERSION = "governance-1"
FINDINGS_FIELDS = [("record_id", "string"), ("findings", "array")]
GOVERNED_FIELDS = [("record_id", "string"), ("source", "string"), ("line", "integer"), ("sensitivity", "string"),
                   ("action", "string"), ("pii_types", "array"), ("text", "string"), ("text_encrypted", "string"),
                   ("spans", "array")]
RESTRICTED_PURPOSE = "restricted-fields"


class BatchNotValidated(Exception):
    pass


def _counts_table(counts: dict, prefix: str) -> dict:
    return {k.removeprefix(prefix): v for k, v in sorted(counts.items()) if k.startswith(prefix)}


def _pii_types(findings_path: str) -> list[str]:
    with open(findings_path, encoding="utf-8") as fh:
        return sorted({f["type"] for line in fh if line.strip() for f in json.loads(line)["findings"]})


@dg.asset(
    group_name="governance", kinds={"python"}, owners=["team:data-governance"], code_version=CODE_VERSION,
    partitions_def=batches,
    description="Unicode NFC, control and zero-width characters, whitespace and length limits, with "
                "annotation spans moved through an offset map; records that cannot be cleaned are quarantined.",
)
def clean_documents(context: dg.AssetExecutionContext, raw_documents: dict, workspace: WorkspaceResource,
                    governance: GovernanceResource, lineage: LineageResource,
                    keyring: KeyringResource, gx: GreatExpectationsResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        batch = raw_documents["batch_id"]
        stage = step.stage
        # The blocking contract stops this asset within a run; this guard covers later runs and
        # backfills of the batch, until it passes (in Dagster or by `lepton validation rerun`).
        if not_passed(lineage.store, batch, [gx.suite_key("raw_documents")]):
            raise BatchNotValidated(f"record batch {batch} has no passing raw_documents_contract result; see "
                                    "`lepton validation list`, fix it, then `lepton validation rerun " + batch + "`")
        out = workspace.file(workspace.work.stage_file(CLEAN, batch))
        quarantine = workspace.file(workspace.work.stage_file(CLEAN, batch, QUARANTINE))
        cipher = FieldCipher(keyring.keyring(), QUARANTINE_PURPOSE)
        report = clean_batch(raw_documents["records_path"], out, quarantine, governance.max_chars, protect=cipher.encrypt)
        node = stage.add_clean_batch(batch, **report.to_dict()["counts"], records_out=report.records_out)
        return dg.Output(
            {"batch_id": batch, "records_path": str(out), "quarantine_path": str(quarantine)},
            metadata={"records_in": report.records_in, "records_out": report.records_out,
                      "quarantined": report.quarantined, "balanced": report.balanced,
                      "changes": dg.MetadataValue.json(dict(report.counts)),
                      **step.complete(node, fields=RECORD_FIELDS, rows=report.records_out,
                                        counts={"records_in": report.records_in, "quarantined": report.quarantined})},
        )


@dg.asset(
    group_name="governance", kinds={"python"}, owners=["team:data-governance"], code_version=CODE_VERSION,
    partitions_def=batches,
    description="Personal data per record (e-mail, phone, card, IBAN, IP, national ids; person names from the "
                "champion's predictions once a champion exists): type, offsets, detector and confidence — never the value.",
)
def pii_findings(context: dg.AssetExecutionContext, clean_documents: dict, predictions: dict,
                 workspace: WorkspaceResource, governance: GovernanceResource, lineage: LineageResource,
                 labels: LabelSchemaResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        batch = clean_documents["batch_id"]
        model = predictions["model_version"] if governance.use_champion_for_persons else None
        # the predicting model's labels that mean a person's name under the current schema (pii: PERSON)
        person_labels = (schema_person_labels(labels.schema(), predictions["labels"], model) if model else ())
        persons = None
        if person_labels:
            persons = person_findings(read_predictions(predictions["path"]), person_labels)
            context.log.info(f"person names ({', '.join(person_labels)}) from {model}'s predictions")
        findings = workspace.file(workspace.work.stage_file(PII, batch, FINDINGS))
        report = detect_batch(clean_documents["records_path"], findings, governance.detector(), persons)
        by_type = _counts_table(report.counts, "type.")
        node = step.stage.add_pii_findings(
            batch, by_type=by_type, records=report.records_in, records_with_pii=report.counts.get("records_with_pii", 0))
        return dg.Output(
            {"batch_id": batch, "findings_path": str(findings), "pii_types": sorted(by_type)},
            metadata={"records": report.records_in,
                      "records_with_pii": report.counts.get("records_with_pii", 0),
                      "findings_by_type": dg.MetadataValue.json(by_type),
                      "findings_by_detector": dg.MetadataValue.json(_counts_table(report.counts, "detector.")),
                      "person_model": model if person_labels else "(none)",
                      **step.complete(node, fields=FINDINGS_FIELDS, rows=report.records_out,
                                        governance={"pii_types": sorted(by_type)})},
        )


@dg.asset(
    group_name="governance", kinds={"python"}, owners=["team:data-governance"], code_version=CODE_VERSION,
    partitions_def=batches,
    description="Sensitivity class per record from policy/sensitivity.yaml and its action: pass, redact "
                "(typed placeholders, spans kept aligned) or encrypt (the text never goes further in clear).",
)
def sensitivity(context: dg.AssetExecutionContext, clean_documents: dict, pii_findings: dict,
                workspace: WorkspaceResource, governance: GovernanceResource, keyring: KeyringResource,
                lineage: LineageResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        batch = clean_documents["batch_id"]
        out = workspace.file(workspace.work.stage_file(GOVERNED, batch))
        report, encrypted = apply_policy(clean_documents["records_path"], pii_findings["findings_path"], out,
                                         governance.policy(), FieldCipher(keyring.keyring(), RESTRICTED_PURPOSE))
        classes = _counts_table(report.counts, "class.")
        actions = _counts_table(report.counts, "action.")
        governance.audit().append("policy.applied", f"record_batch:{batch}", actor="dagster:" + context.run.run_id,
                                  classes=classes, actions=actions, encrypted_record_ids=encrypted)
        node = step.stage.add_governed_batch(batch, classes=classes, actions=actions)
        # an output of pii_findings from before it listed its types has only the file
        pii_types = (pii_findings["pii_types"] if "pii_types" in pii_findings
                     else _pii_types(pii_findings["findings_path"]))
        return dg.Output(
            {"batch_id": batch, "records_path": str(out), "withheld": len(encrypted)},
            metadata={"records": report.records_in, "by_class": dg.MetadataValue.json(classes),
                      "by_action": dg.MetadataValue.json(actions),
                      "withheld_encrypted": len(encrypted),
                      "spans_touching_redaction": report.counts.get("spans_touching_redaction", 0),
                      **step.complete(node, fields=GOVERNED_FIELDS, rows=report.records_out,
                                        governance={"sensitivity_classes": classes, "pii_types": pii_types})},
        )
