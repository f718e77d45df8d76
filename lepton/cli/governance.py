"""Governance commands: erasure of a person's records."""

from __future__ import annotations

import json
import os

import click

from lepton.settings import Settings
from lepton.stores import audit_for, dvc_for, keyring_for, label_studio_configured, lineage_for, mlflow_for, studio_for


@click.group()
def governance() -> None:
    """Data-subject requests: erasure with lineage kept whole."""


def _studio(s: Settings):
    """Label Studio when one is configured: its tasks hold the text too."""
    return studio_for(s) if label_studio_configured() else None


@governance.command("erase")
@click.option("--record", "records", multiple=True, help="A record id (repeatable).")
@click.option("--subject", default=None, help="A subject identifier (name, e-mail...): every record whose text "
                                              "contains it, case-insensitively.")
@click.option("--retrain/--no-retrain", default=None,
              help="Ask for a retraining run of tainted models (default: LEPTON_ERASURE_RETRAIN).")
@click.option("--dry-run", is_flag=True, help="Only say what would be erased and where.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def erase_cmd(records: tuple[str, ...], subject: str | None, retrain: bool | None, dry_run: bool,
              as_json: bool) -> None:
    """Erase records from every dataset version, working copy and Label Studio; destroy the
    old data keys; taint the model versions trained on them; leave a tombstone."""
    from lepton.corpus.formats import ReaderOptions
    from lepton.governance.erasure import ErasureError, ErasureStores, erase, records_of_subject
    from lepton.governance.purge import PurgeError
    from lepton.lineage.ledger import RecordLedger
    from lepton.lineage.queries import downstream_of_record
    from lepton.workspace import record_ids
    from lepton.workspace_lock import WorkspaceBusy

    s = Settings.from_env()
    lineage = lineage_for(s)
    ring = keyring_for(s)
    stores = ErasureStores(
        home=s.home, landing_url=s.landing_url,
        readers=ReaderOptions.from_settings(s), ids=record_ids(s.layout, ring),
        keyring=ring, dvc=dvc_for(s), lineage=lineage, audit=audit_for(s), mlflow=mlflow_for(s),
        studio=_studio(s), ls_project=s.ls_project, lock_wait_seconds=s.lock_wait_seconds)
    ids = list(records)
    if subject:
        ids += records_of_subject(stores, subject)
        if not ids:
            raise click.ClickException("no ingested record contains that subject identifier")
    if not ids:
        raise click.ClickException("name a --record or a --subject")
    if dry_run:
        ledger = RecordLedger(lineage)
        out = {rid: downstream_of_record(lineage, ledger, rid) for rid in sorted(set(ids))}
        click.echo(json.dumps(out, indent=1, default=str) if as_json else "\n".join(
            f"{rid}: {len(d['dataset_versions'])} dataset versions, {len(d['model_versions'])} model versions"
            for rid, d in out.items()))
        return
    try:
        tomb = erase(stores, ids, actor=f"cli:{os.environ.get('USER', '?')}",
                     retrain=s.erasure_retrain if retrain is None else retrain)
    except (ErasureError, PurgeError, WorkspaceBusy) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(tomb, indent=1) if as_json else "\n".join([
        f"erasure {tomb['erasure']}: {len(tomb['records'])} records",
        *(f"  {name}: {p['old']} -> {p['new']} ({p['records_removed']} removed)"
          for name, ps in tomb["dataset_versions_replaced"].items() for p in ps),
        f"  data keys destroyed: {', '.join(tomb['data_keys_destroyed']) or 'none'}",
        f"  files rewritten: {len(tomb['files_rewritten'])}; Label Studio tasks deleted: "
        f"{len(tomb['label_studio_tasks_deleted'])}",
        f"  model versions tainted: {', '.join(tomb['model_versions_tainted']) or 'none'}"
        + ("; retraining requested" if tomb["retrain"] and tomb["model_versions_tainted"] else ""),
        *(f"  landing file {f['source']} not rewritten: {f['why']}" for f in tomb["landing_not_rewritten"])]))
