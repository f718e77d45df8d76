"""The `lepton` command: sample data, the demo run, datasets and keys, the quarantine, the
trainer, the audit log, annotation snapshots, parked batches and steward queries. It never imports dagster (the core's rule)."""

import click

from lepton.cli.annotations import annotations
from lepton.cli.audit import audit
from lepton.cli.data import dataset, quarantine_cmd, sample
from lepton.cli.demo import demo
from lepton.cli.eval_set import eval_set_cmd
from lepton.cli.governance import governance
from lepton.cli.keys import keys
from lepton.cli.lineage import lineage, report, reproduce_cmd
from lepton.cli.models import models, promote_cmd, rollback_cmd
from lepton.cli.train import train_cmd
from lepton.cli.validation import validation
from lepton.workspace import private_files


@click.group()
def main() -> None:
    """Lepton: a governed NER data-and-model pipeline."""
    private_files()


for command in (sample, dataset, eval_set_cmd, quarantine_cmd, keys, audit, governance, annotations, lineage, report, validation, train_cmd, reproduce_cmd, models, promote_cmd, rollback_cmd, demo):
    main.add_command(command)

__all__ = ["main"]
