"""The audit log commands."""

from __future__ import annotations

import click

from lepton.settings import Settings
from lepton.stores import audit_for


@click.group()
def audit() -> None:
    """The hash-chained audit log of governance decisions."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the chain, the head and every anchored head (lineage store, model version tags):
    exit 1 naming the first edited, inserted or removed entry."""
    from lepton.governance.audit import ANCHOR, anchors
    from lepton.stores import lineage_for, mlflow_for

    s = Settings.from_env()
    kept = anchors(lineage_for(s))
    for value in mlflow_for(s).tag_values(ANCHOR):
        seq, _, mac = value.partition(":")
        kept.append((int(seq), mac))
    result = audit_for(s).verify(anchors=kept)
    if not result.ok:
        raise click.ClickException(f"audit log is NOT intact: {result.problem}")
    click.echo(f"audit log intact: {result.entries} entries, {len(kept)} anchored heads match"
               + (f"; {result.note}" if result.note else ""))


@audit.command("show")
@click.option("--last", type=int, default=20, show_default=True)
def audit_show(last: int) -> None:
    for e in audit_for(Settings.from_env()).entries()[-last:]:
        click.echo(f"{e['seq']:>6}  {e['at'][:19]}  {e['actor']:<24} {e['action']:<24} {e['subject']}")
