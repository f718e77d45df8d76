"""The master key (KEK) and the data keys it wraps.

Keys never live in settings or logs: the KEK comes from an environment variable or a
key file that must be private (0600), behind `MasterKeyProvider` so a KMS can take its
place. Data keys are stored only wrapped (AES-GCM under a key derived from the master key,
with the entry's id and dataset as associated data, as a KMS's encryption context would
be), so the keyring file on its own is worthless and a wrapped key moved to another entry
does not unwrap: destroying an entry shreds the key it names, no other. Rotating the KEK
means re-wrapping a few bytes per dataset, never re-encrypting data (ciphertext and DVC
hashes stay the same).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap
from filelock import FileLock

MASTER_KEY_ENV = "LEPTON_MASTER_KEY"
ACTIVE, RETIRED, DESTROYED = "active", "retired", "destroyed"
# How an entry's key is wrapped; entries without the field predate it (RFC 3394, unbound)
# and are re-wrapped when the keyring is opened.
WRAP_BOUND = "aes-gcm-entry"


class KeyringError(Exception):
    """Raised for key problems; never carries key material."""


class MasterKeyProvider(Protocol):
    """What a KMS must offer: an id for the key, and wrap/unwrap of data keys under it with
    a context (associated data) that unwrapping must be given again."""

    key_id: str

    def wrap(self, data_key: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...

    def unwrap_unbound(self, wrapped: bytes) -> bytes:
        """Keys wrapped before they were bound to a context; only for re-wrapping them."""
        ...


class LocalMasterKey:
    def __init__(self, key: bytes):
        if len(key) != 32:
            raise KeyringError("a master key must be 32 bytes")
        self._key = key
        self.key_id = "kek-" + hashlib.sha256(b"lepton-kek-id" + key).hexdigest()[:12]
        # a key of its own for wrapping, so the master key serves one algorithm only
        self._wrapping = AESGCM(HKDF(hashes.SHA256(), 32, salt=None,
                                     info=b"lepton-kek-wrap-v2").derive(key))

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(12)  # random: a few wraps per key, far from collisions
        return nonce + self._wrapping.encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._wrapping.decrypt(wrapped[:12], wrapped[12:], context)
        except InvalidTag:
            raise KeyringError("the wrapped key does not belong to this entry, or was altered") from None

    def unwrap_unbound(self, wrapped: bytes) -> bytes:
        try:
            return aes_key_unwrap(self._key, wrapped)
        except InvalidUnwrap:
            raise KeyringError(f"master key {self.key_id} cannot unwrap this data key") from None


def write_private(path: Path, data: bytes) -> None:
    """Creates or replaces a file that only its owner can read, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def new_master_key_file(key_file: Path) -> bool:
    """Creates the key file only if there is none: written whole to a private temporary
    file, then hard-linked into place, which fails when another run made one first (a
    rename would replace it, and data sealed under the replaced key could never be read).
    True if this call made it."""
    key_file = Path(key_file)
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = key_file.with_name(key_file.name + f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64encode(secrets.token_bytes(32)))
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, key_file)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def _check_private(key_file: Path) -> None:
    """The key file itself (not a link someone could point elsewhere), this user's, 0600."""
    st = os.lstat(key_file)
    if stat.S_ISLNK(st.st_mode):
        raise KeyringError(f"master key file {key_file} is a symbolic link; set the key file setting to the file itself")
    if st.st_uid != os.geteuid():
        raise KeyringError(f"master key file {key_file} is owned by uid {st.st_uid}, not by this user "
                           f"(uid {os.geteuid()})")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise KeyringError(f"master key file {key_file} has mode {oct(mode)}; it must be 0600")


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
    if not os.path.lexists(key_file):
        if not create:
            raise KeyringError(f"master key file {key_file} does not exist")
        new_master_key_file(key_file)
    _check_private(key_file)
    fd = os.open(key_file, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        key = base64.b64decode(fh.read().strip())
    if len(key) != 32:
        raise KeyringError(f"master key file {key_file} does not hold a 32-byte key")
    return key


class Keyring:
    """Wrapped data keys by id, in a private JSON file beside the workspace's other state.

    A data key is active (used to encrypt), retired (rotated out: refused, so data left
    under it is re-encrypted rather than quietly trusted) or destroyed (crypto-shredded:
    its wrapped bytes are gone and nothing under it can be read again).
    """

    def __init__(self, path: Path, master: MasterKeyProvider | bytes):
        self.path = Path(path)
        self.master = LocalMasterKey(master) if isinstance(master, bytes) else master
        self._entries: dict[str, dict] = self._read()
        others = sorted({e["kek_id"] for e in self._entries.values() if e["state"] != DESTROYED} - {self.kek_id})
        if others:  # refused now, before a key could be added under the wrong master key
            raise KeyringError(f"keyring {self.path} holds data keys wrapped under master key {others[0]}, "
                               f"not the loaded master key {self.kek_id}")
        if any(e["state"] != DESTROYED and e.get("wrap") != WRAP_BOUND for e in self._entries.values()):
            with self._mutating():
                self._bind_unbound()

    def _bind_unbound(self) -> None:
        """Migration: re-wraps keys wrapped before wrapping named the entry. Call inside
        `_mutating`."""
        for key_id, entry in self._entries.items():
            if entry["state"] != DESTROYED and entry.get("wrap") != WRAP_BOUND:
                plain = self.master.unwrap_unbound(base64.b64decode(entry["wrapped"]))
                self._wrap_into(key_id, entry, plain, self.master)

    @staticmethod
    def _context(key_id: str, entry: dict) -> bytes:
        return json.dumps([key_id, entry["dataset"]]).encode()

    def _wrap_into(self, key_id: str, entry: dict, plain: bytes, master: MasterKeyProvider) -> None:
        entry.update(wrapped=base64.b64encode(master.wrap(plain, self._context(key_id, entry))).decode(),
                     wrap=WRAP_BOUND, kek_id=master.key_id)

    def _read(self) -> dict[str, dict]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    @contextmanager
    def _mutating(self):
        """Concurrent runs share the keyring file: every change re-reads it under a lock, so
        one process never overwrites a key another has just created (that key's data would
        be lost)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"):
            self._entries = self._read()
            yield
            self._save()

    @property
    def kek_id(self) -> str:
        return self.master.key_id

    def _save(self) -> None:
        write_private(self.path, json.dumps(self._entries, indent=2, sort_keys=True).encode())

    def entries(self) -> dict[str, dict]:
        """Key ids and their state, without the wrapped bytes."""
        return {k: {f: v for f, v in e.items() if f != "wrapped"} for k, e in self._entries.items()}

    def _create(self, dataset: str) -> tuple[str, bytes]:
        """Call inside `_mutating`."""
        key = secrets.token_bytes(32)
        key_id = f"dk-{dataset}-{secrets.token_hex(4)}"
        entry = {"dataset": dataset, "state": ACTIVE, "created_at": datetime.now(timezone.utc).isoformat()}
        self._wrap_into(key_id, entry, key, self.master)
        self._entries[key_id] = entry
        return key_id, key

    def active_key_id(self, dataset: str) -> str | None:
        for key_id, entry in self._entries.items():
            if entry["dataset"] == dataset and entry["state"] == ACTIVE:
                return key_id
        return None

    def data_key_for(self, dataset: str) -> tuple[str, bytes]:
        """The dataset's active data key, created on first use. One key per dataset keeps
        deterministic encryption stable across versions and makes shredding per dataset."""
        key_id = self.active_key_id(dataset)
        if key_id is not None:
            return key_id, self.unwrap(key_id)
        with self._mutating():
            key_id = self.active_key_id(dataset)  # another process may have created it meanwhile
            if key_id is None:
                return self._create(dataset)
        return key_id, self.unwrap(key_id)

    def unwrap(self, key_id: str) -> bytes:
        entry = self._entries.get(key_id)
        if entry is None:
            raise KeyringError(f"data key {key_id} is not in the keyring")
        if entry["state"] == DESTROYED:
            raise KeyringError(f"data key {key_id} was destroyed (crypto-shredded) at "
                               f"{entry.get('destroyed_at')}: data encrypted under it cannot be read")
        if entry["state"] == RETIRED:
            raise KeyringError(f"data key {key_id} is retired (rotated to {entry.get('successor')}); "
                               "use the dataset version re-encrypted under its successor")
        if entry["kek_id"] != self.kek_id:
            raise KeyringError(f"data key {key_id} is wrapped by {entry['kek_id']}, "
                               f"not the current master key {self.kek_id}")
        return self._unwrap_entry(key_id, entry)

    def _unwrap_entry(self, key_id: str, entry: dict) -> bytes:
        try:
            return self.master.unwrap(base64.b64decode(entry["wrapped"]), self._context(key_id, entry))
        except KeyringError:
            raise KeyringError(f"data key {key_id} does not belong to this entry: its wrapped bytes were "
                               "made for another entry or altered (keyring tampered with)") from None

    def rotate_kek(self, new_master: MasterKeyProvider | bytes) -> int:
        """Re-wraps every live data key under the new master key; returns how many."""
        new = LocalMasterKey(new_master) if isinstance(new_master, bytes) else new_master
        with self._mutating():
            n = self._rewrap_all(new)
            self.master = new
        return n

    def _rewrap_all(self, new: MasterKeyProvider) -> int:
        n = 0
        for key_id, entry in self._entries.items():
            if entry["state"] == DESTROYED:
                continue
            if entry["kek_id"] != self.kek_id:
                raise KeyringError(f"data key {key_id} is wrapped by {entry['kek_id']}, "
                                   f"not the current master key {self.kek_id}")
            self._wrap_into(key_id, entry, self._unwrap_entry(key_id, entry), new)
            n += 1
        return n

    def rotate_data_key(self, dataset: str) -> tuple[str | None, str, bytes]:
        """Retires the active key and creates its successor: (old id, new id, new key).
        The caller re-encrypts what it still needs *before* calling this."""
        with self._mutating():
            old = self.active_key_id(dataset)
            new_id, new_key = self._create(dataset)
            if old is not None:
                self._entries[old].update(state=RETIRED, successor=new_id,
                                          retired_at=datetime.now(timezone.utc).isoformat())
        return old, new_id, new_key

    def destroy(self, key_id: str) -> None:
        with self._mutating():
            entry = self._entries.get(key_id)
            if entry is None:
                raise KeyringError(f"data key {key_id} is not in the keyring")
            entry.pop("wrapped", None)
            entry.update(state=DESTROYED, destroyed_at=datetime.now(timezone.utc).isoformat())
