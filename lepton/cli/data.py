"""Data commands: the sample corpus, dataset versions and the quarantine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from lepton.settings import Settings
from lepton.stores import audit_for, dvc_for, keyring_for, lineage_for
from lepton.workspace import CLEAN, QUARANTINE, RAW


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write into (default: the landing folder from settings).")
@click.option("-n", "--docs", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--conll-share", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Share of documents written as CoNLL instead of JSONL.")
def sample(out_dir: Path | None, docs: int, seed: int, conll_share: float) -> None:
    """Write a seeded synthetic NER corpus (JSONL with character spans, and CoNLL)."""
    from lepton.corpus.sample import write_sample

    out_dir = out_dir or Settings.from_env().landing_dir
    for path, n in write_sample(out_dir, docs, seed=seed, conll_share=conll_share).items():
        click.echo(f"wrote {n} documents to {path}")


@click.group()
def dataset() -> None:
    """Encrypted, DVC-versioned dataset versions."""


@dataset.command("list")
@click.option("--name", default="ner", show_default=True)
def dataset_list(name: str) -> None:
    """Versions of a dataset, oldest first."""
    for v in dvc_for(Settings.from_env()).versions(name):
        click.echo(f"{v['version']}  {v['recorded_at'][:19]}  key={v['key_id']}  rows={v.get('rows')}  "
                   f"merkle={v['merkle_root'][:16]}")


@dataset.command("restore")
@click.argument("version")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
def dataset_restore(version: str, target: Path) -> None:
    """Fetch VERSION from the DVC remote, verify it and decrypt it into TARGET."""
    import tempfile

    from lepton.crypto.envelope import DecryptionError
    from lepton.crypto.keyring import KeyringError
    from lepton.datasets.version import IntegrityError, decrypt_verified

    s = Settings.from_env()
    if target.exists() and any(target.iterdir()):
        raise click.ClickException(f"{target} is not empty")
    with tempfile.TemporaryDirectory(prefix="lepton-restore-", dir=s.home) as tmp:
        try:
            fetched = dvc_for(s).fetch_directory(version.removesuffix(".dir"), Path(tmp) / "ciphertext")
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            manifest = decrypt_verified(fetched, keyring_for(s), target)
        except (DecryptionError, IntegrityError, KeyringError) as exc:
            raise click.ClickException(str(exc)) from None
    rows = {k: v["rows"] for k, v in manifest["splits"].items()}
    click.echo(f"restored {manifest['dataset']} version {version} into {target}: {rows}, "
               f"Merkle root {manifest['merkle_root']} verified")


@dataset.command("rotate-key")
@click.option("--name", default="ner", show_default=True)
def dataset_rotate_key(name: str) -> None:
    """Re-encrypt the current version under a new data key and retire the old key."""
    from lepton.datasets.version import reencrypt_under_new_key

    s = Settings.from_env()
    store = dvc_for(s)
    versions = store.versions(name)
    if not versions:
        raise click.ClickException(f"dataset {name} has no versions yet")
    work = s.dvc_repo / "datasets" / name
    manifest = reencrypt_under_new_key(work, keyring_for(s))
    tracked = store.add_and_push(work)
    new = tracked["md5"].removesuffix(".dir")
    rows = {k: v["rows"] for k, v in manifest["splits"].items()}
    store.record_version(name, new, key_id=manifest["key_id"], merkle_root=manifest["merkle_root"], rows=rows,
                         reencrypted_from=versions[-1]["version"])
    lineage = lineage_for(s)
    nid = lineage.add_node("dataset_version", new, dataset=name, key_id=manifest["key_id"],
                           merkle_root=manifest["merkle_root"])
    old = f"dataset_version:{versions[-1]['version']}"
    if lineage.get(old) is not None:
        lineage.add_edge(old, nid, "reencrypted-from")
    click.echo(f"{name}: version {versions[-1]['version']} re-encrypted as {new} under {manifest['key_id']}; "
               f"the previous key is retired")


@click.group("quarantine")
def quarantine_cmd() -> None:
    """Records that ingestion or cleaning refused."""


def _quarantine_files(s: Settings, batch: str | None) -> list[Path]:
    work = s.layout.work
    files = work.stage_files(RAW, QUARANTINE) + work.stage_files(CLEAN, QUARANTINE)
    return [f for f in files if batch is None or f.parent.name == batch]


@quarantine_cmd.command("list")
@click.option("--batch", default=None, help="Only this record batch.")
def quarantine_list(batch: str | None) -> None:
    """Quarantined records by batch, file, line and rule (no raw text)."""
    from lepton.corpus.quarantine import read_quarantine

    for path in _quarantine_files(Settings.from_env(), batch):
        for e in read_quarantine(path):
            click.echo(f"{path.parent.name}  {path.parent.parent.name:<5}  {e['source']}:{e['line']}  {e['rule']}: {e['detail']}")


@quarantine_cmd.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--batch", default=None, help="Only this record batch.")
def quarantine_export(out: Path, batch: str | None) -> None:
    """Decrypt quarantined records into OUT (JSONL) for fixing; the read is audited."""
    from lepton.corpus.quarantine import KEY_PURPOSE, read_quarantine
    from lepton.crypto.fields import FieldCipher
    from lepton.crypto.keyring import write_private

    s = Settings.from_env()
    cipher = FieldCipher(keyring_for(s), KEY_PURPOSE)
    entries = [e for p in _quarantine_files(s, batch) for e in read_quarantine(p, reveal=cipher.decrypt)]
    write_private(out, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries).encode())
    audit_for(s).append("read.quarantine", f"quarantine:{batch or 'all'}", actor=f"cli:{os.environ.get('USER', '?')}",
                     records=len(entries), exported_to=str(out))
    click.echo(f"exported {len(entries)} records to {out} (mode 0600); fix 'raw' and run `lepton quarantine reprocess`")


@quarantine_cmd.command("reprocess")
@click.argument("fixed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def quarantine_reprocess(fixed: Path) -> None:
    """Re-read fixed records with their file's rules; those that pass go to the landing folder."""
    from lepton.corpus.reprocess import reprocess

    s = Settings.from_env()
    entries = [json.loads(line) for line in fixed.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = reprocess(entries, s.landing_url)
    audit_for(s).append("quarantine.reprocess", f"file:{report.output.name if report.output else '-'}",
                     actor=f"cli:{os.environ.get('USER', '?')}", accepted=report.accepted,
                     still_failing=[r.message() for r in report.still_failing])
    for r in report.still_failing:
        click.echo(f"still quarantined: {r.message()}")
    click.echo(f"{len(report.accepted)} records re-ingest from {report.output}" if report.output
               else "no record passed; nothing written")
