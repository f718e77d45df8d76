"""A dataset version: split, serialised deterministically, encrypted, and described by a
manifest that travels with the data in DVC.

Everything written here is a pure function of the records, the seed and the data key,
so re-building from unchanged inputs yields byte-identical files and DVC sees no new
version. The manifest commits to every record (per-record HMACs and a Merkle root) and
carries its own MAC, so a restore can prove it got back exactly what was stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import tempfile
from collections import Counter
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lepton.corpus.records import Record, near_duplicate_key
from lepton.crypto.envelope import decrypt_file, encrypt_file
from lepton.crypto.keyring import Keyring, KeyringError
from lepton.datasets.merkle import leaf, merkle_root
from lepton.datasets.split import SPLITS, rarest_label_strata, split_records
from lepton.hashing import sha256_file

MANIFEST = "manifest.json"


class IntegrityError(Exception):
    """A restored dataset does not match its manifest; names the file and the check."""



def _mac_key(data_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"lepton-manifest-hmac").derive(data_key)


def record_line(rec: Record) -> bytes:
    """The canonical serialisation: the bytes that are hashed, encrypted and restored."""
    return (json.dumps(rec.to_dict(), ensure_ascii=False, sort_keys=True) + "\n").encode()


def _manifest_mac(manifest: dict, mac_key: bytes) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_mac"}
    return hmac.new(mac_key, json.dumps(body, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def write_encrypted(lines_by_split: dict[str, list[tuple[str, bytes]]], out_dir: Path, data_key: bytes,
                     key_id: str, dataset: str) -> dict:
    mac_key = _mac_key(data_key)
    files = {}
    with tempfile.TemporaryDirectory(prefix="lepton-plain-") as tmp:
        for split, rows in lines_by_split.items():
            plain = Path(tmp) / f"{split}.jsonl"
            file_mac = hmac.new(mac_key, digestmod=hashlib.sha256)
            record_hmacs = []
            with plain.open("wb") as fh:
                for _, line in rows:
                    fh.write(line)
                    file_mac.update(line)
                    record_hmacs.append(hmac.new(mac_key, line, hashlib.sha256).hexdigest())
            name = f"{split}.jsonl.enc"
            encrypt_file(plain, out_dir / name, data_key, key_id, dataset, name)
            files[split] = {
                "file": name,
                "rows": len(rows),
                "plaintext_hmac": file_mac.hexdigest(),
                "ciphertext_sha256": sha256_file(out_dir / name),
                "record_ids": [rid for rid, _ in rows],
                "record_hmacs": record_hmacs,
            }
    return files


def finish_manifest(manifest: dict, files: dict, data_key: bytes, out_dir: Path) -> dict:
    leaves = sorted((rid, h) for f in files.values() for rid, h in zip(f["record_ids"], f["record_hmacs"]))
    manifest["splits"] = files
    manifest["merkle_root"] = merkle_root([leaf(rid, h) for rid, h in leaves])
    manifest["manifest_mac"] = _manifest_mac(manifest, _mac_key(data_key))
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def build_dataset(records: list[Record], out_dir: Path, keyring: Keyring, dataset: str,
                  seed: int, provenance: dict, families: dict[str, str] | None = None,
                  held_out: frozenset[str] = frozenset()) -> dict:
    """Writes `<split>.jsonl.enc` and `manifest.json` into `out_dir` and returns the manifest.
    `provenance` (annotation snapshot ids, schema version, ...) is stored as given;
    `held_out` (the frozen evaluation set) goes to the test split, never train or dev."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_id = {r.record_id: r for r in records}
    if len(by_id) != len(records):
        dup = [rid for rid, n in Counter(r.record_id for r in records).items() if n > 1][:3]
        raise ValueError(f"duplicate record ids in dataset input: {dup}")
    strata = rarest_label_strata({rid: [s.label for s in r.spans] for rid, r in by_id.items()})
    families = families or {rid: near_duplicate_key(r.text) for rid, r in by_id.items()}
    splits = split_records(list(by_id), seed=seed, strata=strata, families=families, held_out=held_out)
    key_id, data_key = keyring.data_key_for(dataset)
    lines = {s: [(rid, record_line(by_id[rid])) for rid in splits[s]] for s in SPLITS}
    files = write_encrypted(lines, out_dir, data_key, key_id, dataset)
    labels = {s: dict(sorted(Counter(sp.label for rid in splits[s] for sp in by_id[rid].spans).items()))
              for s in SPLITS}
    manifest = {"dataset": dataset, "key_id": key_id, "seed": seed, "labels": labels, "provenance": provenance}
    return finish_manifest(manifest, files, data_key, out_dir)


def read_manifest(dataset_dir: Path) -> dict:
    return json.loads((Path(dataset_dir) / MANIFEST).read_text())


def _unwrapped(dataset_dir: Path, keyring: Keyring) -> tuple[dict, bytes, bytes]:
    """(manifest, data key, MAC key) once the manifest's MAC checks out."""
    manifest = read_manifest(dataset_dir)
    try:
        data_key = keyring.unwrap(manifest["key_id"])
    except KeyringError as exc:
        raise KeyringError(f"{dataset_dir}: {exc}") from None
    mac_key = _mac_key(data_key)
    if not hmac.compare_digest(_manifest_mac(manifest, mac_key), manifest.get("manifest_mac", "")):
        raise IntegrityError(f"{dataset_dir / MANIFEST}: manifest MAC does not match (edited manifest)")
    return manifest, data_key, mac_key


def _verified_split(dataset_dir: Path, manifest: dict, split: str, data_key: bytes, mac_key: bytes,
                    plain: Path) -> list[tuple[str, str]]:
    """Decrypts one split into `plain` after its ciphertext hash, GCM authentication of every
    chunk, each record's HMAC and the file's HMAC; returns (record id, record HMAC) leaves."""
    entry = manifest["splits"][split]
    enc = dataset_dir / entry["file"]
    if sha256_file(enc) != entry["ciphertext_sha256"]:
        raise IntegrityError(f"{enc}: ciphertext hash does not match the manifest")
    decrypt_file(enc, plain, data_key, manifest["dataset"], entry["file"])
    file_mac = hmac.new(mac_key, digestmod=hashlib.sha256)
    leaves = []
    with plain.open("rb") as fh:
        lines = fh.readlines()
    if len(lines) != entry["rows"]:
        raise IntegrityError(f"{enc}: {len(lines)} records, manifest says {entry['rows']}")
    for i, (line, rid, expected) in enumerate(zip(lines, entry["record_ids"], entry["record_hmacs"])):
        got = hmac.new(mac_key, line, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(got, expected) or json.loads(line)["record_id"] != rid:
            raise IntegrityError(f"{enc}: record {i} ({rid}) does not match its HMAC")
        file_mac.update(line)
        leaves.append((rid, got))
    if not hmac.compare_digest(file_mac.hexdigest(), entry["plaintext_hmac"]):
        raise IntegrityError(f"{enc}: plaintext HMAC does not match the manifest")
    return leaves


def decrypt_verified(dataset_dir: Path, keyring: Keyring, out_dir: Path) -> dict:
    """Decrypts every split of a dataset directory into `out_dir` after checking, in order:
    the manifest's MAC, each ciphertext's hash, GCM authentication of every chunk, each
    record's HMAC, each file's HMAC and the Merkle root. Returns the manifest."""
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    manifest, data_key, mac_key = _unwrapped(dataset_dir, keyring)
    out_dir.mkdir(parents=True, exist_ok=True)
    leaves = []
    for split in manifest["splits"]:  # train, dev and test; `eval` for the frozen evaluation set
        leaves += _verified_split(dataset_dir, manifest, split, data_key, mac_key, out_dir / f"{split}.jsonl")
    root = merkle_root([leaf(rid, h) for rid, h in sorted(leaves)])
    if root != manifest["merkle_root"]:
        raise IntegrityError(f"{dataset_dir}: Merkle root {root[:16]}… does not match the manifest")
    return manifest


def load_split(dataset_dir: Path, split: str, keyring: Keyring) -> list[Record]:
    """One split's records, checked as a restore checks them (manifest MAC, ciphertext hash,
    every record's HMAC): the trainer never learns from records the manifest does not vouch for."""
    dataset_dir = Path(dataset_dir)
    manifest, data_key, mac_key = _unwrapped(dataset_dir, keyring)
    with tempfile.TemporaryDirectory(prefix="lepton-plain-") as tmp:
        plain = Path(tmp) / "plain.jsonl"
        _verified_split(dataset_dir, manifest, split, data_key, mac_key, plain)
        with plain.open(encoding="utf-8") as fh:
            return [Record.from_dict(json.loads(line)) for line in fh]


def _read_plain(plain_dir: Path, splits) -> dict[str, list[tuple[str, bytes]]]:
    lines = {}
    for split in splits:
        with (Path(plain_dir) / f"{split}.jsonl").open("rb") as fh:
            lines[split] = [(json.loads(line)["record_id"], line) for line in fh]
    return lines


def write_successor(old: dict, plain_dir: Path, out_dir: Path, key_id: str, data_key: bytes,
                    drop: frozenset[str] = frozenset(), **provenance) -> dict:
    """A successor of a decrypted version (`old` its manifest, `plain_dir` its plaintext),
    encrypted under another data key: the same records in the same splits, less `drop`.
    Keeping the split assignment (rather than re-splitting) means an erasure or a key
    rotation changes nothing else a steward compares between the two versions."""
    lines = {split: [(rid, line) for rid, line in rows if rid not in drop]
             for split, rows in _read_plain(plain_dir, old["splits"]).items()}
    files = write_encrypted(lines, Path(out_dir), data_key, key_id, old["dataset"])
    manifest = {k: v for k, v in old.items() if k not in ("splits", "merkle_root", "manifest_mac")}
    manifest["key_id"] = key_id
    manifest["provenance"] = {**old["provenance"], **provenance}
    if drop:
        manifest["labels"] = {split: dict(sorted(Counter(sp["label"] for _, line in rows
                                                         for sp in json.loads(line)["spans"]).items()))
                              for split, rows in lines.items()}
    return finish_manifest(manifest, files, data_key, Path(out_dir))


def reencrypt_under_new_key(dataset_dir: Path, keyring: Keyring) -> dict:
    """Data-key rotation: verifies and decrypts the version under its key, retires that
    key, and re-encrypts the same records under the successor. Records and split stay the
    same; ciphertext, record HMACs and Merkle root (all keyed) and so the DVC version change."""
    dataset_dir = Path(dataset_dir)
    with tempfile.TemporaryDirectory(prefix="lepton-rotate-") as tmp:
        old = decrypt_verified(dataset_dir, keyring, Path(tmp))
        _, key_id, data_key = keyring.rotate_data_key(old["dataset"])
        return write_successor(old, Path(tmp), dataset_dir, key_id, data_key, reencrypted_from_key=old["key_id"])
