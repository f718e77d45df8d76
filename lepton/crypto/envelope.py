"""Chunked AES-256-GCM file encryption under a dataset's data key.

Why not the one-shot AESGCM call on the whole file: it caps at 2 GiB and needs the file
in memory. Chunks of 1 MiB with STREAM-style nonces (prefix, counter, last-chunk flag)
keep memory flat and make truncation and reordering detectable.

Why deterministic by default: DVC versions files by their bytes. With random nonces
every run would look like a new dataset version. Deriving the file key and nonce prefix
from an HMAC of the content (SIV-style) makes identical plaintext encrypt to identical
ciphertext; only equality of whole files leaks, which DVC reveals anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"LEPENC"
FORMAT_VERSION = 1
CHUNK_SIZE = 1 << 20
TAG_SIZE = 16
MODE_DETERMINISTIC = 0
MODE_RANDOM = 1


class DecryptionError(Exception):
    """Names the file and the reason; never carries key material or plaintext."""


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def _context(dataset: str, rel_path: str) -> bytes:
    return b"lepton\x00" + dataset.encode() + b"\x00" + rel_path.encode()


def _content_mac(data_key: bytes, context: bytes, path: Path) -> bytes:
    mac = hmac.new(_hkdf(data_key, b"lepton-siv-mac"), context, hashlib.sha256)
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            mac.update(chunk)
    return mac.digest()


def _header(mode: int, key_id: str, siv: bytes) -> bytes:
    kid = key_id.encode()
    return MAGIC + struct.pack(">BBB", FORMAT_VERSION, mode, len(kid)) + kid + siv + struct.pack(">I", CHUNK_SIZE)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def encrypt_file(src: Path, dst: Path, data_key: bytes, key_id: str, dataset: str,
                 rel_path: str, deterministic: bool = True) -> None:
    """`rel_path` and `dataset` are bound into every chunk's associated data, so a file
    moved to another path or dataset fails to decrypt instead of passing as the other."""
    src, dst = Path(src), Path(dst)
    context = _context(dataset, rel_path)
    if deterministic:
        siv, mode = _content_mac(data_key, context, src), MODE_DETERMINISTIC
    else:
        siv, mode = secrets.token_bytes(32), MODE_RANDOM
    header = _header(mode, key_id, siv)
    aead = AESGCM(_hkdf(data_key, b"lepton-file-key" + siv))
    prefix = siv[:7]
    aad = header + context
    dst.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as fin, dst.open("wb") as fout:
        fout.write(header)
        counter = 0
        chunk = fin.read(CHUNK_SIZE)
        while True:
            nxt = fin.read(CHUNK_SIZE)
            last = not nxt
            fout.write(aead.encrypt(_nonce(prefix, counter, last), chunk, aad))
            if last:
                break
            chunk, counter = nxt, counter + 1


def read_key_id(path: Path) -> str:
    with Path(path).open("rb") as fh:
        head = fh.read(len(MAGIC) + 3)
        if len(head) < len(MAGIC) + 3 or head[: len(MAGIC)] != MAGIC:
            raise DecryptionError(f"{path}: not a Lepton encrypted file (bad magic)")
        return fh.read(head[-1]).decode()


def decrypt_file(src: Path, dst: Path, data_key: bytes, dataset: str, rel_path: str) -> None:
    src, dst = Path(src), Path(dst)
    context = _context(dataset, rel_path)
    try:
        with src.open("rb") as fin, dst.open("wb") as fout:
            head = fin.read(len(MAGIC) + 3)
            if len(head) < len(MAGIC) + 3 or head[: len(MAGIC)] != MAGIC:
                raise DecryptionError(f"{src}: not a Lepton encrypted file (bad magic)")
            version, mode, kid_len = struct.unpack(">BBB", head[len(MAGIC):])
            if version != FORMAT_VERSION:
                raise DecryptionError(f"{src}: unsupported format version {version}")
            kid = fin.read(kid_len)
            siv = fin.read(32)
            (chunk_size,) = struct.unpack(">I", fin.read(4))
            header = head + kid + siv + struct.pack(">I", chunk_size)
            aead = AESGCM(_hkdf(data_key, b"lepton-file-key" + siv))
            aad = header + context
            mac = hmac.new(_hkdf(data_key, b"lepton-siv-mac"), context, hashlib.sha256)
            counter = 0
            block = fin.read(chunk_size + TAG_SIZE)
            while True:
                nxt = fin.read(chunk_size + TAG_SIZE)
                last = not nxt
                try:
                    plain = aead.decrypt(_nonce(siv[:7], counter, last), block, aad)
                except InvalidTag:
                    reason = ("truncated, reordered or altered" if block else "truncated")
                    raise DecryptionError(
                        f"{src}: chunk {counter} failed authentication ({reason}, or wrong key, "
                        f"dataset or path)") from None
                fout.write(plain)
                mac.update(plain)
                if last:
                    break
                block, counter = nxt, counter + 1
            if mode == MODE_DETERMINISTIC and not hmac.compare_digest(mac.digest(), siv):
                raise DecryptionError(f"{src}: content does not match its synthetic IV")
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
