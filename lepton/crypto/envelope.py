"""Chunked AES-256-GCM file encryption under a dataset's data key.

Why not the one-shot AESGCM call on the whole file: it caps at 2 GiB and needs the file
in memory. Chunks of 1 MiB with STREAM-style nonces (7-byte prefix, 4-byte counter,
last-chunk flag) keep memory flat and make truncation and reordering detectable.

Why deterministic by default: DVC versions files by their bytes. With random nonces
every run would look like a new dataset version. Deriving the file key and nonce prefix
from a keyed hash of the content (SIV-style) makes identical plaintext encrypt to
identical ciphertext; only equality of whole files leaks, which DVC reveals anyway.
The keyed hash is BLAKE3 in keyed mode (a PRF, like HMAC): HMAC-SHA256 runs at about
1.5 GB/s on one core here and would make the extra pass the bottleneck; BLAKE3 runs
at about 4.5 GB/s.

Format: MAGIC | version | mode | len(key_id) | key_id | siv(32) | chunk_size(4) | chunks,
each chunk = AES-GCM(ciphertext || 16-byte tag); the header, dataset and path are the
associated data of every chunk. Version 2 (written since) also hashes the whole header
but the SIV into the SIV: version 1 left key id and chunk size out, so one plaintext cut
into chunks of two sizes got one file key and nonce prefix for different chunks. Version
1 files still decrypt.

The plaintext is read twice in deterministic mode (the SIV, then the chunks): the second
read hashes again and must give the same SIV, or the ciphertext (written to a temporary
file, renamed into place only at the end) is thrown away, since it would hold other bytes
under nonces derived from the first read.
"""

from __future__ import annotations

import hmac
import os
import secrets
import struct
from pathlib import Path

import blake3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"LEPENC"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 64 << 20  # a header claiming more is corrupt; refuse before allocating
TAG_SIZE = 16
MODE_DETERMINISTIC = 0
MODE_RANDOM = 1


class DecryptionError(Exception):
    """Names the file and the reason; never carries key material or plaintext."""


class EncryptionError(Exception):
    """Names the file and the reason; nothing is left at the destination."""


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def _context(dataset: str, rel_path: str) -> bytes:
    return b"lepton\x00" + dataset.encode() + b"\x00" + rel_path.encode()


def _siv_hasher(data_key: bytes, context: bytes, header_fields: bytes = b""):
    """`header_fields`: the header without its SIV (version 2); empty for version 1."""
    h = blake3.blake3(key=_hkdf(data_key, b"lepton-siv-prf"), max_threads=1)
    h.update(len(context).to_bytes(4, "big") + context)
    if header_fields:
        h.update(len(header_fields).to_bytes(4, "big") + header_fields)
    return h


def _header_fields(version: int, mode: int, key_id: bytes, chunk_size: int) -> bytes:
    return MAGIC + struct.pack(">BBB", version, mode, len(key_id)) + key_id + struct.pack(">I", chunk_size)


def _read_chunks(fh, size: int):
    """Yields memoryviews into one reused buffer: no per-chunk allocation for reading."""
    buf = bytearray(size)
    view = memoryview(buf)
    while n := fh.readinto(buf):
        yield view[:n]


def _header(mode: int, key_id: str, siv: bytes, chunk_size: int) -> bytes:
    kid = key_id.encode()
    return MAGIC + struct.pack(">BBB", FORMAT_VERSION, mode, len(kid)) + kid + siv + struct.pack(">I", chunk_size)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def encrypt_file(src: Path, dst: Path, data_key: bytes, key_id: str, dataset: str,
                 rel_path: str, deterministic: bool = True, chunk_size: int = CHUNK_SIZE) -> None:
    """`rel_path` and `dataset` are bound into every chunk's associated data, so a file
    moved to another path or dataset fails to decrypt instead of passing as the other."""
    src, dst = Path(src), Path(dst)
    context = _context(dataset, rel_path)
    mode = MODE_DETERMINISTIC if deterministic else MODE_RANDOM
    fields = _header_fields(FORMAT_VERSION, mode, key_id.encode(), chunk_size)
    again = None
    if deterministic:
        h = _siv_hasher(data_key, context, fields)
        with src.open("rb") as fh:
            for chunk in _read_chunks(fh, chunk_size):
                h.update(chunk)
        siv, again = h.digest(), _siv_hasher(data_key, context, fields)
    else:
        siv = secrets.token_bytes(32)
    header = _header(mode, key_id, siv, chunk_size)
    aead = AESGCM(_hkdf(data_key, b"lepton-file-key" + siv))
    aad = header + context
    out = bytearray(chunk_size + TAG_SIZE)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.partial")
    try:
        with src.open("rb") as fin, os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fout:
            fout.write(header)
            _seal_chunks(fin, fout, aead, aad, siv, chunk_size, out, again)
        if again is not None and not hmac.compare_digest(again.digest(), siv):
            raise EncryptionError(f"{src} changed while it was encrypted; nothing was written to {dst}")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _seal_chunks(fin, fout, aead, aad: bytes, siv: bytes, chunk_size: int, out: bytearray, again) -> None:
    """The chunks in order; `again` (deterministic mode) hashes the plaintext as it is read."""
    # Look one chunk ahead so the last one carries the final flag; two buffers alternate.
    bufs = [bytearray(chunk_size), bytearray(chunk_size)]
    cur_n = fin.readinto(bufs[0])
    counter = 0
    while True:
        nxt_n = fin.readinto(bufs[(counter + 1) % 2])
        last = nxt_n == 0
        plain = memoryview(bufs[counter % 2])[:cur_n]
        if again is not None:
            again.update(plain)
        n = aead.encrypt_into(_nonce(siv[:7], counter, last), plain, aad, memoryview(out)[:cur_n + TAG_SIZE])
        fout.write(memoryview(out)[:n])
        if last:
            break
        cur_n, counter = nxt_n, counter + 1


def read_header(path: Path) -> dict:
    with Path(path).open("rb") as fh:
        head = fh.read(len(MAGIC) + 3)
        if len(head) < len(MAGIC) + 3 or head[: len(MAGIC)] != MAGIC:
            raise DecryptionError(f"{path}: not a Lepton encrypted file (bad magic)")
        version, mode, kid_len = struct.unpack(">BBB", head[len(MAGIC):])
        if version not in READABLE_VERSIONS:
            raise DecryptionError(f"{path}: unsupported format version {version}")
        kid = fh.read(kid_len)
        siv = fh.read(32)
        raw_size = fh.read(4)
        if len(kid) != kid_len or len(siv) != 32 or len(raw_size) != 4:
            raise DecryptionError(f"{path}: truncated header")
        (chunk_size,) = struct.unpack(">I", raw_size)
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise DecryptionError(f"{path}: implausible chunk size {chunk_size} in header")
    try:
        key_id = kid.decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError(f"{path}: corrupt header (key id is not ASCII)") from None
    return {"key_id": key_id, "mode": mode, "siv": siv, "chunk_size": chunk_size, "version": version,
            "header": head + kid + siv + raw_size,
            "fields": _header_fields(version, mode, kid, chunk_size) if version >= 2 else b""}


def read_key_id(path: Path) -> str:
    return read_header(path)["key_id"]


def decrypt_file(src: Path, dst: Path, data_key: bytes, dataset: str, rel_path: str) -> None:
    """Writes the plaintext only as it authenticates; on any failure the partial output is
    removed, so a caller never sees unverified bytes."""
    src, dst = Path(src), Path(dst)
    context = _context(dataset, rel_path)
    head = read_header(src)
    siv, chunk_size, header = head["siv"], head["chunk_size"], head["header"]
    aead = AESGCM(_hkdf(data_key, b"lepton-file-key" + siv))
    aad = header + context
    h = _siv_hasher(data_key, context, head["fields"]) if head["mode"] == MODE_DETERMINISTIC else None
    block = chunk_size + TAG_SIZE
    out = bytearray(chunk_size)
    try:
        with src.open("rb") as fin, dst.open("wb") as fout:
            fin.seek(len(header))
            bufs = [bytearray(block), bytearray(block)]
            cur_n = fin.readinto(bufs[0])
            counter = 0
            while True:
                nxt_n = fin.readinto(bufs[(counter + 1) % 2])
                last = nxt_n == 0
                sealed = memoryview(bufs[counter % 2])[:cur_n]
                if cur_n < TAG_SIZE:
                    raise DecryptionError(f"{src}: truncated (chunk {counter} is shorter than its tag)")
                try:
                    n = aead.decrypt_into(_nonce(siv[:7], counter, last), sealed, aad,
                                          memoryview(out)[:cur_n - TAG_SIZE])
                except InvalidTag:
                    raise DecryptionError(
                        f"{src}: chunk {counter} failed authentication (altered, truncated or reordered "
                        f"chunks, or the wrong key, dataset or path)") from None
                plain = memoryview(out)[:n]
                fout.write(plain)
                if h is not None:
                    h.update(plain)
                if last:
                    break
                cur_n, counter = nxt_n, counter + 1
        if h is not None and not hmac.compare_digest(h.digest(), siv):
            raise DecryptionError(f"{src}: content does not match its synthetic IV")
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
