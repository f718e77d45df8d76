"""A dataset version: split, serialised deterministically, encrypted, and described by a
manifest that travels with the data in DVC.

Everything written here is a pure function of the records, the seed and the key, so
re-building from unchanged inputs yields byte-identical files and DVC sees no new
version.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import tempfile
from collections import Counter
from pathlib import Path

from lepton.corpus.records import Record
from lepton.crypto.envelope import decrypt_file, encrypt_file
from lepton.crypto.keyring import Keyring
from lepton.datasets.split import SPLITS, split_records

MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def build_dataset(records: list[Record], out_dir: Path, keyring: Keyring, dataset: str,
                  seed: int, provenance: dict) -> dict:
    """Writes `<split>.jsonl.enc` and `manifest.json` into `out_dir` and returns the manifest.
    `provenance` (annotation batch id, schema version, ...) is stored as given."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_id = {r.record_id: r for r in records}
    if len(by_id) != len(records):
        dup = [rid for rid, n in Counter(r.record_id for r in records).items() if n > 1][:3]
        raise ValueError(f"duplicate record ids in dataset input: {dup}")
    splits = split_records(list(by_id), seed=seed)
    key_id, data_key = keyring.data_key_for(dataset)
    hmac_key = hashlib.sha256(b"lepton-manifest-hmac" + data_key).digest()
    files, labels = {}, {}
    with tempfile.TemporaryDirectory(prefix="lepton-plain-") as tmp:
        for split in SPLITS:
            ids = sorted(splits[split])
            plain = Path(tmp) / f"{split}.jsonl"
            with plain.open("w", encoding="utf-8") as fh:
                for rid in ids:
                    fh.write(json.dumps(by_id[rid].to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
            name = f"{split}.jsonl.enc"
            encrypt_file(plain, out_dir / name, data_key, key_id, dataset, name)
            mac = hmac.new(hmac_key, plain.read_bytes(), hashlib.sha256).hexdigest()
            files[split] = {
                "file": name,
                "rows": len(ids),
                "plaintext_hmac": mac,
                "ciphertext_sha256": _sha256(out_dir / name),
                "record_ids": ids,
            }
            labels[split] = dict(sorted(Counter(s.label for rid in ids for s in by_id[rid].spans).items()))
    manifest = {
        "dataset": dataset,
        "key_id": key_id,
        "seed": seed,
        "splits": files,
        "labels": labels,
        "provenance": provenance,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def load_split(dataset_dir: Path, split: str, keyring: Keyring) -> list[Record]:
    dataset_dir = Path(dataset_dir)
    manifest = json.loads((dataset_dir / MANIFEST).read_text())
    entry = manifest["splits"][split]
    data_key = keyring.unwrap(manifest["key_id"])
    with tempfile.TemporaryDirectory(prefix="lepton-plain-") as tmp:
        plain = Path(tmp) / "plain.jsonl"
        decrypt_file(dataset_dir / entry["file"], plain, data_key, manifest["dataset"], entry["file"])
        with plain.open(encoding="utf-8") as fh:
            return [Record.from_dict(json.loads(line)) for line in fh]
