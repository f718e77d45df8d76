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
    """Check the chain and the head: exit 1 naming the first edited, inserted or removed entry."""
    result = audit_for(Settings.from_env()).verify()
    if not result.ok:
        raise click.ClickException(f"audit log is NOT intact: {result.problem}")
    click.echo(f"audit log intact: {result.entries} entries")


@audit.command("show")
@click.option("--last", type=int, default=20, show_default=True)
def audit_show(last: int) -> None:
    for e in audit_for(Settings.from_env()).entries()[-last:]:
        click.echo(f"{e['seq']:>6}  {e['at'][:19]}  {e['actor']:<24} {e['action']:<24} {e['subject']}")
