"""Key commands: the master key and the data keys it wraps."""

from __future__ import annotations

import os

import click

from lepton.settings import Settings
from lepton.stores import keyring_for


@click.group()
def keys() -> None:
    """The master key and the data keys it wraps."""


@keys.command("list")
def keys_list() -> None:
    ring = keyring_for(Settings.from_env())
    click.echo(f"master key {ring.kek_id}")
    for key_id, e in sorted(ring.entries().items()):
        click.echo(f"{key_id}  dataset={e['dataset']}  state={e['state']}  wrapped-by={e['kek_id']}")


@keys.command("rotate-kek")
def keys_rotate_kek() -> None:
    """Generate a new master key and re-wrap every data key under it; data is untouched."""
    import base64

    from lepton.crypto.keyring import MASTER_KEY_ENV, new_master_key_file

    s = Settings.from_env()
    if os.environ.get(MASTER_KEY_ENV):
        raise click.ClickException(f"the master key comes from {MASTER_KEY_ENV}: rotate it in the system "
                                   "that sets it, using Keyring.rotate_kek from a script")
    ring = keyring_for(s)
    staged = s.key_file.with_name(s.key_file.name + ".new")
    new_master_key_file(staged)  # kept until the keyring is re-wrapped, so a crash loses nothing
    n = ring.rotate_kek(base64.b64decode(staged.read_bytes().strip()))
    os.replace(staged, s.key_file)
    click.echo(f"re-wrapped {n} data keys under {ring.kek_id}; the old master key is gone")


@keys.command("shred")
@click.argument("key_id")
@click.confirmation_option(prompt="Destroying a data key makes every dataset version under it unreadable. Continue?")
def keys_shred(key_id: str) -> None:
    """Crypto-shred: destroy a data key so the data encrypted under it can never be read."""
    from lepton.workspace import RECORD_ID_KEY

    ring = keyring_for(Settings.from_env())
    if ring.entries().get(key_id, {}).get("dataset") == RECORD_ID_KEY:
        raise click.ClickException(f"{key_id} names this workspace's records: without it no record id could be "
                                   "computed again and erased records could come back; it is never shredded")
    ring.destroy(key_id)
    click.echo(f"{key_id} destroyed")
