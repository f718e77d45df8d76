"""`lepton eval-set`: the frozen evaluation set, shown and (only this way) extended."""

from __future__ import annotations

import json
import os
from functools import partial

import click

from lepton.settings import Settings
from lepton.stores import audit_for, dvc_for, keyring_for, lineage_for


@click.group("eval-set")
def eval_set_cmd() -> None:
    """The frozen evaluation set: held out of every train and dev split from the first
    dataset version on (policy/eval_set.yaml)."""


@eval_set_cmd.command("show")
@click.option("--json", "as_json", is_flag=True, help="Every version as JSON, record ids included.")
def show(as_json: bool) -> None:
    """Its versions, oldest first: size, why, and what each replaced."""
    from lepton.datasets.eval_set import EVAL_SET

    history = dvc_for(Settings.from_env()).versions(EVAL_SET)
    if as_json:
        click.echo(json.dumps(history, indent=1))
        return
    if not history:
        click.echo("no evaluation set yet: the first dataset version freezes it")
    for v in history:
        click.echo(f"{v['version']}  {v['recorded_at'][:19]}  {len(v['record_ids'])} records  "
                   f"previous={v.get('previous') or '-'}  reason: {v.get('reason') or v.get('erasure', '')}")


@eval_set_cmd.command("extend")
@click.option("--count", type=click.IntRange(min=1), required=True,
              help="About how many documents to add (whole near-duplicate families).")
@click.option("--reason", required=True, help="Why the set grows: kept in its version index, lineage and the audit log.")
def extend_cmd(count: int, reason: str) -> None:
    """Adds documents no dataset version has trained on (from the latest annotation batch that
    passed its gate), chosen like the first; a new version of the set, recorded and audited."""
    from lepton.annotation.batches import batch_pointers
    from lepton.corpus.ingest import read_records
    from lepton.datasets.build import latest_validated
    from lepton.datasets.eval_set import EVAL_SET, EvalSetError, EvalSetPolicy, add_to_lineage, extend
    from lepton.lineage.events import StageLineage
    from lepton.lineage.ledger import RecordLedger
    from lepton.validation.distribution import family_keys
    from lepton.validation.gates import passed_validation

    s = Settings.from_env()
    lineage, store = lineage_for(s), dvc_for(s)
    chosen = latest_validated(batch_pointers(s.layout.work), partial(passed_validation, lineage)).chosen
    if chosen is None:
        raise click.ClickException("no annotation batch has passed its gate: there are no records to add")
    records = {r.record_id: r for r in read_records(chosen["path"])}
    ledger = RecordLedger(lineage)
    trained_on = {rid for node in lineage.find("dataset_version") if node.attrs.get("dataset") != EVAL_SET
                  for split, ids in ledger.records(node.node_id).items() if split in ("train", "dev") for rid in ids}
    try:
        new = extend(records, family_keys(records), EvalSetPolicy.load(s.eval_set_policy), store, keyring_for(s),
                     trained_on, count, reason)
    except EvalSetError as exc:
        raise click.ClickException(str(exc)) from None
    add_to_lineage(StageLineage(lineage, run_id=None, code_version="eval-set-1"), new)
    audit_for(s).append("eval_set.extend", f"dataset_version:{new['version']}",
                        actor=f"cli:{os.environ.get('USER', '?')}", reason=new["reason"], previous=new["previous"],
                        rows=new["rows"])
    click.echo(f"evaluation set {new['version']}: {new['rows']} records (was {new['previous']}); "
               "the next dataset version holds them out")
