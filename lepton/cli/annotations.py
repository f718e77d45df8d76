"""`lepton annotations`: look at the annotation snapshots pulled from Label Studio."""

from __future__ import annotations

import json

import click

from lepton.annotation.resolve import diff, resolve_snapshot
from lepton.annotation.sync import SnapshotStore
from lepton.settings import Settings


def _store() -> SnapshotStore:
    return SnapshotStore.in_workspace(Settings.from_env().home)


@click.group()
def annotations() -> None:
    """Annotation snapshots: immutable, content-hashed pulls from Label Studio."""


@annotations.command("list")
def annotations_list() -> None:
    """Every snapshot, oldest first, with what changed since the one before."""
    store = _store()
    head = store.head()
    for sid in store.chain(head) if head else []:
        snap = store.load(sid)
        n = sum(len(t["annotations"]) for t in snap["tasks"])
        c = snap["changes"]
        click.echo(f"{snap['sequence']:>4}  {sid}  {len(snap['tasks'])} tasks, {n} annotations  "
                   f"(+{c['added']} ~{c['updated']} -{c['removed']})  schema {snap['label_schema_version']}")


@annotations.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def annotations_diff(a: str, b: str, as_json: bool) -> None:
    """Spans added, changed and removed from snapshot A to snapshot B (resolved annotations)."""
    store = _store()
    try:
        sa, sb = store.load(a), store.load(b)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    from lepton.annotation.schema import load_schema

    schema = load_schema(Settings.from_env().label_schema_file)
    d = diff(resolve_snapshot(sa, schema).records, resolve_snapshot(sb, schema).records)
    if as_json:
        click.echo(json.dumps(d, indent=1))
        return
    click.echo(f"{a} -> {b}: {len(d['added'])} added, {len(d['changed'])} changed, {len(d['removed'])} removed")
    for e in d["added"]:
        click.echo(f"  + {e['record_id']} [{e['start']}:{e['end']}] {e['label']}")
    for e in d["changed"]:
        click.echo(f"  ~ {e['record_id']} [{e['start']}:{e['end']}] {e['from']} -> {e['to']}")
    for e in d["removed"]:
        click.echo(f"  - {e['record_id']} [{e['start']}:{e['end']}] {e['label']}")
