import base64
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lepton.crypto import envelope
from lepton.crypto.envelope import CHUNK_SIZE, DecryptionError, decrypt_file, encrypt_file
from lepton.crypto.keyring import Keyring, KeyringError, load_master_key

KEY = bytes(range(32))


def _roundtrip(tmp_path, data: bytes, deterministic=True):
    src, enc, out = tmp_path / "p", tmp_path / "c", tmp_path / "o"
    src.write_bytes(data)
    encrypt_file(src, enc, KEY, "dk-1", "ds", "train.jsonl.enc", deterministic=deterministic)
    decrypt_file(enc, out, KEY, "ds", "train.jsonl.enc")
    return enc.read_bytes(), out.read_bytes()


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=3000))
def test_roundtrip_small_sizes(tmp_path_factory, data):
    _, out = _roundtrip(tmp_path_factory.mktemp("c"), data)
    assert out == data


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE])
def test_roundtrip_at_chunk_boundaries(tmp_path, size):
    data = os.urandom(size)
    _, out = _roundtrip(tmp_path, data)
    assert out == data


def test_deterministic_mode_gives_identical_ciphertext_random_mode_does_not(tmp_path):
    data = b"same content" * 1000
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, _ = _roundtrip(tmp_path / "a", data)
    b, _ = _roundtrip(tmp_path / "b", data)
    assert a == b
    r1, _ = _roundtrip(tmp_path / "a", data, deterministic=False)
    r2, _ = _roundtrip(tmp_path / "b", data, deterministic=False)
    assert r1 != r2


@pytest.mark.parametrize("tamper", ["flip", "truncate_chunk", "drop_last_chunk", "wrong_path", "wrong_key"])
def test_tampering_is_detected_and_names_the_file(tmp_path, tamper):
    data = os.urandom(2 * CHUNK_SIZE + 10)
    src, enc, out = tmp_path / "p", tmp_path / "c", tmp_path / "o"
    src.write_bytes(data)
    encrypt_file(src, enc, KEY, "dk-1", "ds", "train.jsonl.enc")
    blob = bytearray(enc.read_bytes())
    path, key = "train.jsonl.enc", KEY
    if tamper == "flip":
        blob[-100] ^= 1
    elif tamper == "truncate_chunk":
        blob = blob[:-5]
    elif tamper == "drop_last_chunk":
        blob = blob[:-(10 + envelope.TAG_SIZE)]
    elif tamper == "wrong_path":
        path = "test.jsonl.enc"
    elif tamper == "wrong_key":
        key = bytes(32)
    enc.write_bytes(bytes(blob))
    with pytest.raises(DecryptionError, match=str(enc)):
        decrypt_file(enc, out, key, "ds", path)
    assert not out.exists(), "no partial plaintext is left behind"


def test_master_key_file_must_be_private(tmp_path, monkeypatch):
    monkeypatch.delenv("LEPTON_MASTER_KEY", raising=False)
    key_file = tmp_path / "keys" / "master.key"
    key = load_master_key(key_file)
    assert len(key) == 32 and (key_file.stat().st_mode & 0o777) == 0o600
    assert load_master_key(key_file) == key
    key_file.chmod(0o644)
    with pytest.raises(KeyringError, match="0600"):
        load_master_key(key_file)


def test_master_key_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_MASTER_KEY", base64.b64encode(KEY).decode())
    assert load_master_key(tmp_path / "absent.key") == KEY


def test_keyring_stores_only_wrapped_keys_and_refuses_another_kek(tmp_path):
    ring = Keyring(tmp_path / "keyring.json", KEY)
    key_id, data_key = ring.data_key_for("ner")
    assert ring.data_key_for("ner") == (key_id, data_key)
    assert data_key.hex() not in (tmp_path / "keyring.json").read_text()
    assert base64.b64encode(data_key).decode() not in (tmp_path / "keyring.json").read_text()
    assert Keyring(tmp_path / "keyring.json", KEY).unwrap(key_id) == data_key
    # refused on opening, before a key could be added under the wrong master key
    with pytest.raises(KeyringError, match="wrapped under master key kek-.* not the loaded master key"):
        Keyring(tmp_path / "keyring.json", bytes(32))



def _swap_wrapped(path, a, b):
    import json
    entries = json.loads(path.read_text())
    entries[a]["wrapped"], entries[b]["wrapped"] = entries[b]["wrapped"], entries[a]["wrapped"]
    path.write_text(json.dumps(entries))


def test_a_wrapped_key_moved_to_another_entry_does_not_unwrap(tmp_path):
    """Someone who can write the keyring must not make one dataset's entry yield another's
    key (so that destroying an entry shreds a key other than the one it names)."""
    path = tmp_path / "keyring.json"
    ring = Keyring(path, KEY)
    first, _ = ring.data_key_for("ner")
    second, _ = ring.data_key_for("quarantine")
    _swap_wrapped(path, first, second)
    reopened = Keyring(path, KEY)
    for key_id in (first, second):
        with pytest.raises(KeyringError, match=f"{key_id}.*does not belong to this entry"):
            reopened.unwrap(key_id)


def test_keys_wrapped_without_associated_data_are_rewrapped_on_opening(tmp_path):
    """Keyrings written before wrapped keys were bound to their entry (RFC 3394 key wrap)
    still open; each live key is re-wrapped with its entry as associated data."""
    import json

    from cryptography.hazmat.primitives.keywrap import aes_key_wrap
    path = tmp_path / "keyring.json"
    data_key = bytes(range(32, 64))
    path.write_text(json.dumps({"dk-ner-0001": {
        "dataset": "ner", "kek_id": Keyring(tmp_path / "other.json", KEY).kek_id, "state": "active",
        "wrapped": base64.b64encode(aes_key_wrap(KEY, data_key)).decode(), "created_at": "2026-01-01"}}))
    assert Keyring(path, KEY).unwrap("dk-ner-0001") == data_key
    stored = json.loads(path.read_text())["dk-ner-0001"]
    assert stored["wrap"] == "aes-gcm-entry"
    assert Keyring(path, KEY).unwrap("dk-ner-0001") == data_key

SMALL = 64  # a small chunk size makes every boundary case cheap to reach


def _encrypt_small(tmp, data: bytes, deterministic=True):
    src, enc = tmp / "p", tmp / "c"
    src.write_bytes(data)
    encrypt_file(src, enc, KEY, "dk-1", "ds", "f", deterministic=deterministic, chunk_size=SMALL)
    return enc


sizes = st.one_of(st.sampled_from([0, SMALL, 2 * SMALL, 3 * SMALL, SMALL - 1, SMALL + 1]),
                  st.integers(min_value=0, max_value=5 * SMALL))


@settings(max_examples=60, deadline=None)
@given(size=sizes, seed=st.integers(0, 2**32 - 1), deterministic=st.booleans())
def test_property_roundtrip_over_sizes_and_chunk_multiples(tmp_path_factory, size, seed, deterministic):
    import random

    tmp = tmp_path_factory.mktemp("p")
    data = random.Random(seed).randbytes(size)
    enc = _encrypt_small(tmp, data, deterministic)
    decrypt_file(enc, tmp / "o", KEY, "ds", "f")
    assert (tmp / "o").read_bytes() == data


@settings(max_examples=60, deadline=None)
@given(size=sizes, where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_property_any_flipped_bit_is_detected(tmp_path_factory, size, where, bit):
    tmp = tmp_path_factory.mktemp("f")
    enc = _encrypt_small(tmp, bytes(size))
    blob = bytearray(enc.read_bytes())
    blob[int(where * len(blob))] ^= 1 << bit
    enc.write_bytes(bytes(blob))
    with pytest.raises(DecryptionError, match=str(enc)):
        decrypt_file(enc, tmp / "o", KEY, "ds", "f")


def test_reordered_chunks_are_detected(tmp_path):
    enc = _encrypt_small(tmp_path, bytes(range(256)) * 2)
    header_len = len(envelope.read_header(enc)["header"])
    blob = enc.read_bytes()
    block = SMALL + envelope.TAG_SIZE
    chunks = [blob[header_len + i:header_len + i + block] for i in range(0, len(blob) - header_len, block)]
    chunks[0], chunks[1] = chunks[1], chunks[0]
    enc.write_bytes(blob[:header_len] + b"".join(chunks))
    with pytest.raises(DecryptionError, match="chunk 0 failed authentication"):
        decrypt_file(enc, tmp_path / "o", KEY, "ds", "f")


def test_file_swapped_to_another_dataset_is_detected(tmp_path):
    enc = _encrypt_small(tmp_path, b"x" * 100)
    with pytest.raises(DecryptionError, match=str(enc)):
        decrypt_file(enc, tmp_path / "o", KEY, "other-dataset", "f")


def _create_key(args):
    path, purpose = args
    return Keyring(path, KEY).data_key_for(purpose)[0]


def test_concurrent_processes_agree_on_one_data_key(tmp_path):
    """Two runs that first need a key at the same moment must not each create one: the
    second would overwrite the first, and data under the lost key could never be read."""
    from concurrent.futures import ProcessPoolExecutor

    path = tmp_path / "keyring.json"
    with ProcessPoolExecutor(4) as pool:
        ids = list(pool.map(_create_key, [(path, "quarantine")] * 8))
    assert len(set(ids)) == 1
    assert list(Keyring(path, KEY).entries()) == ids[:1]


def _first_run(args):
    path, barrier_dir = args
    import time

    while not (barrier_dir / "go").exists():  # start together, as runs launched at once do
        time.sleep(0.001)
    return load_master_key(path)


def test_concurrent_first_runs_agree_on_one_master_key(tmp_path, monkeypatch):
    """Each run that finds no master key must not write its own: data sealed under a key that
    another run's file replaced could never be read again."""
    from concurrent.futures import ProcessPoolExecutor

    monkeypatch.delenv("LEPTON_MASTER_KEY", raising=False)
    for attempt in range(5):
        path = tmp_path / f"try{attempt}" / "master.key"
        with ProcessPoolExecutor(8) as pool:
            futures = [pool.submit(_first_run, (path, tmp_path)) for _ in range(8)]
            (tmp_path / "go").touch()
            keys = {f.result() for f in futures}
        (tmp_path / "go").unlink()
        assert keys == {load_master_key(path)}


def test_master_key_file_is_refused_as_a_symlink_or_when_someone_else_owns_it(tmp_path, monkeypatch):
    monkeypatch.delenv("LEPTON_MASTER_KEY", raising=False)
    real = tmp_path / "real.key"
    load_master_key(real)
    link = tmp_path / "master.key"
    link.symlink_to(real)
    with pytest.raises(KeyringError, match="symbolic link"):
        load_master_key(link)
    if os.geteuid() == 0:  # only root can give a file away
        os.chown(real, 4321, 4321)
        with pytest.raises(KeyringError, match="owned by uid 4321"):
            load_master_key(real)


def test_the_synthetic_iv_covers_the_whole_header(tmp_path):
    """Same content, dataset and path but another chunk size or key id: the file key and nonces
    must differ, or two different chunkings of one plaintext reuse GCM nonces."""
    src = tmp_path / "p"
    src.write_bytes(os.urandom(300))
    sivs = set()
    for chunk, kid in ((64, "dk-1"), (128, "dk-1"), (64, "dk-2")):
        encrypt_file(src, tmp_path / "c", KEY, kid, "ds", "f", chunk_size=chunk)
        sivs.add(envelope.read_header(tmp_path / "c")["siv"])
    assert len(sivs) == 3


def test_a_file_that_changes_while_it_is_encrypted_leaves_no_ciphertext(tmp_path, monkeypatch):
    """The synthetic IV is computed from a first read; if the bytes change before they are
    encrypted, the ciphertext would use nonces derived from other content."""
    src, enc = tmp_path / "p", tmp_path / "c"
    src.write_bytes(b"a" * 200)
    passes = []
    real = envelope._read_chunks

    def reads(fh, size):
        yield from real(fh, size)
        passes.append(1)
        if len(passes) == 1:  # the first pass is over: someone appends to the file
            with src.open("ab") as other:
                other.write(b"b" * 50)
    monkeypatch.setattr(envelope, "_read_chunks", reads)
    with pytest.raises(envelope.EncryptionError, match="changed while it was encrypted"):
        encrypt_file(src, enc, KEY, "dk-1", "ds", "f", chunk_size=SMALL)
    assert not enc.exists() and list(tmp_path.iterdir()) == [src]


def test_known_answer(tmp_path):
    """The format pinned, and rebuilt here from its definition with the primitives alone (BLAKE3
    keyed PRF for the SIV, HKDF-SHA256 for the file key, AES-GCM with STREAM nonces), so a change
    that alters the bytes must be deliberate (a new format version), or data written before
    could no longer be read."""
    import hashlib
    import struct

    import blake3
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    plain = bytes(range(256)) * 3
    src = tmp_path / "p"
    src.write_bytes(plain)
    encrypt_file(src, tmp_path / "c", KEY, "dk-kat", "ds", "train.jsonl.enc", chunk_size=SMALL)
    blob = (tmp_path / "c").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == "5344decee3454147d4d22c10c1282b0a369cb9de61107bcd9fcee4f2b543dcd5"

    def hkdf(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(KEY)
    context = b"lepton\x00ds\x00train.jsonl.enc"
    fields = b"LEPENC" + bytes([2, 0, 6]) + b"dk-kat" + struct.pack(">I", SMALL)
    prf = blake3.blake3(key=hkdf(b"lepton-siv-prf"))
    prf.update(len(context).to_bytes(4, "big") + context + len(fields).to_bytes(4, "big") + fields + plain)
    siv = prf.digest()
    header = fields[:-4] + siv + fields[-4:]
    assert blob.startswith(header)
    aead = AESGCM(hkdf(b"lepton-file-key" + siv))
    body, n = blob[len(header):], SMALL + 16
    chunks = [body[i:i + n] for i in range(0, len(body), n)]
    assert len(chunks) == 12
    for i, sealed in enumerate(chunks):
        nonce = siv[:7] + struct.pack(">IB", i, int(i == len(chunks) - 1))
        assert aead.decrypt(nonce, sealed, header + context) == plain[i * SMALL:(i + 1) * SMALL]
