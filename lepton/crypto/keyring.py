"""The master key (KEK) and the data keys it wraps.

Keys never live in settings or logs: the KEK comes from an environment variable or a
key file that must be private (0600), and data keys are stored only wrapped (RFC 3394
AES key wrap), so the keyring file on its own is worthless and rotating the KEK means
re-wrapping a few bytes per dataset, not re-encrypting data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

MASTER_KEY_ENV = "LEPTON_MASTER_KEY"


class KeyringError(Exception):
    """Raised for key problems; never carries key material."""


def _kek_id(kek: bytes) -> str:
    return "kek-" + hashlib.sha256(b"lepton-kek-id" + kek).hexdigest()[:12]


def load_master_key(key_file: Path | None, create: bool = True) -> bytes:
    """The environment wins, so production can inject the key without touching disk."""
    env = os.environ.get(MASTER_KEY_ENV)
    if env:
        key = base64.b64decode(env)
        if len(key) != 32:
            raise KeyringError(f"{MASTER_KEY_ENV} must be 32 bytes, base64-encoded")
        return key
    if key_file is None:
        raise KeyringError(f"no master key: set {MASTER_KEY_ENV} or configure a key file")
    key_file = Path(key_file)
    if not key_file.exists():
        if not create:
            raise KeyringError(f"master key file {key_file} does not exist")
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64encode(secrets.token_bytes(32)))
    mode = stat.S_IMODE(key_file.stat().st_mode)
    if mode & 0o077:
        raise KeyringError(f"master key file {key_file} has mode {oct(mode)}; it must be 0600")
    key = base64.b64decode(key_file.read_bytes().strip())
    if len(key) != 32:
        raise KeyringError(f"master key file {key_file} does not hold a 32-byte key")
    return key


class Keyring:
    """Wrapped data keys by id, in a JSON file beside the workspace's other state."""

    def __init__(self, path: Path, master_key: bytes):
        self.path = Path(path)
        self._kek = master_key
        self.kek_id = _kek_id(master_key)
        self._entries: dict[str, dict] = (
            json.loads(self.path.read_text()) if self.path.exists() else {}
        )

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._entries, indent=2, sort_keys=True))
        os.replace(tmp, self.path)

    def data_key_for(self, dataset: str) -> tuple[str, bytes]:
        """The dataset's current data key, created on first use (one key per dataset keeps
        deterministic encryption stable across versions and makes shredding per dataset)."""
        for key_id, entry in self._entries.items():
            if entry["dataset"] == dataset and entry.get("active", True):
                return key_id, self.unwrap(key_id)
        key = secrets.token_bytes(32)
        key_id = f"dk-{dataset}-{secrets.token_hex(4)}"
        self._entries[key_id] = {
            "dataset": dataset,
            "kek_id": self.kek_id,
            "wrapped": base64.b64encode(aes_key_wrap(self._kek, key)).decode(),
            "active": True,
        }
        self._save()
        return key_id, key

    def unwrap(self, key_id: str) -> bytes:
        entry = self._entries.get(key_id)
        if entry is None:
            raise KeyringError(f"data key {key_id} is not in the keyring (destroyed or never created)")
        if entry["kek_id"] != self.kek_id:
            raise KeyringError(f"data key {key_id} is wrapped by {entry['kek_id']}, not the current master key {self.kek_id}")
        return aes_key_unwrap(self._kek, base64.b64decode(entry["wrapped"]))
