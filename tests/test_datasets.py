"""Encrypted, DVC-versioned datasets against a real DVC repository and remote directory:
versions, key rotation, crypto-shredding, restore and the backup drill."""

import json
import shutil

import pytest

from lepton.corpus.records import Record, record_id
from lepton.corpus.sample import SampleCorpus
from lepton.crypto.envelope import DecryptionError
from lepton.crypto.keyring import Keyring, KeyringError
from lepton.datasets.dvc_store import DvcStore
from lepton.datasets.split import SPLITS
from lepton.datasets.version import (
    IntegrityError,
    build_dataset,
    decrypt_verified,
    load_split,
    read_manifest,
    record_line,
    reencrypt_under_new_key,
)
from lepton.workspace import Layout

KEK = bytes(range(32))
OTHER_KEK = bytes(range(1, 33))


def _records(n=150, seed=3):
    """Unique documents of the sample corpus (it repeats a few short sentences on purpose)."""
    by_id = {}
    for i, (t, sp) in enumerate(SampleCorpus(seed).documents(n)):
        by_id.setdefault(record_id(t, "s.jsonl"), Record(record_id(t, "s.jsonl"), "s.jsonl", i + 1, t, tuple(sp)))
    return list(by_id.values())


def _expected_plaintext(records, manifest):
    by_id = {r.record_id: r for r in records}
    return {s: b"".join(record_line(by_id[rid]) for rid in manifest["splits"][s]["record_ids"]) for s in SPLITS}


@pytest.fixture
def env(tmp_path):
    store = DvcStore(tmp_path / "repo", str(tmp_path / "remote"))
    ring = Keyring(Layout(tmp_path).keyring, KEK)
    return store, ring, tmp_path


def _build(store, ring, records):
    out = store.repo_dir / "datasets" / "ner"
    if out.exists():
        shutil.rmtree(out)
    manifest = build_dataset(records, out, ring, "ner", 13, {"annotation_batch": "a1"})
    tracked = store.add_and_push(out)
    return manifest, tracked["md5"].removesuffix(".dir"), tracked


def test_split_is_stratified_and_document_level(env):
    store, ring, _ = env
    records = _records(300)
    manifest, _, _ = _build(store, ring, records)
    ids = {s: set(manifest["splits"][s]["record_ids"]) for s in SPLITS}
    assert not (ids["train"] & ids["dev"]) and not (ids["train"] & ids["test"]) and not (ids["dev"] & ids["test"])
    assert sum(map(len, ids.values())) == len(records)
    for split in ("dev", "test"):
        assert set(manifest["labels"][split]) == {"PER", "ORG", "LOC", "MISC"}


def test_restore_is_byte_identical_and_verifies_merkle_root(env):
    store, ring, tmp = env
    records = _records()
    manifest, _, _ = _build(store, ring, records)
    out = decrypt_verified(store.repo_dir / "datasets" / "ner", ring, tmp / "plain")
    assert out["merkle_root"] == manifest["merkle_root"]
    for split, data in _expected_plaintext(records, manifest).items():
        assert (tmp / "plain" / f"{split}.jsonl").read_bytes() == data


@pytest.mark.parametrize("tamper", ["manifest_rows", "swap_files", "record_ids"])
def test_restore_refuses_a_tampered_version_naming_the_file(env, tamper):
    store, ring, tmp = env
    _build(store, ring, _records())
    d = store.repo_dir / "datasets" / "ner"
    m = json.loads((d / "manifest.json").read_text())
    if tamper == "manifest_rows":
        m["splits"]["dev"]["rows"] += 1
        (d / "manifest.json").write_text(json.dumps(m))
        err, where = IntegrityError, "manifest.json"
    elif tamper == "swap_files":
        (d / "dev.jsonl.enc").unlink()
        shutil.copyfile(d / "test.jsonl.enc", d / "dev.jsonl.enc")
        err, where = IntegrityError, "dev.jsonl.enc"
    else:
        m["splits"]["train"]["record_ids"][0] = "forged"
        (d / "manifest.json").write_text(json.dumps(m))
        err, where = IntegrityError, "manifest.json"
    with pytest.raises(err, match=where):
        decrypt_verified(d, ring, tmp / "plain")


def test_unchanged_inputs_give_the_same_version_and_push_nothing(env):
    store, ring, _ = env
    records = _records()
    _, v1, t1 = _build(store, ring, list(reversed(records)))
    _, v2, t2 = _build(store, ring, records)
    assert v1 == v2 and t1["pushed"] > 0 and t2["pushed"] == 0


def test_kek_rotation_rewraps_keys_only(env):
    store, ring, tmp = env
    records = _records()
    manifest, v1, _ = _build(store, ring, records)
    before = {p.name: p.read_bytes() for p in (store.repo_dir / "datasets" / "ner").iterdir()}
    assert ring.rotate_kek(OTHER_KEK) == 1
    with pytest.raises(KeyringError, match="not the loaded master key"):
        Keyring(ring.path, KEK)
    rotated = Keyring(ring.path, OTHER_KEK)
    _, v2, t2 = _build(store, rotated, records)
    after = {p.name: p.read_bytes() for p in (store.repo_dir / "datasets" / "ner").iterdir()}
    assert v2 == v1 and before == after and t2["pushed"] == 0
    decrypt_verified(store.repo_dir / "datasets" / "ner", rotated, tmp / "plain")


def test_data_key_rotation_reencrypts_and_retires_the_old_key(env):
    store, ring, tmp = env
    records = _records()
    old, v1, _ = _build(store, ring, records)
    d = store.repo_dir / "datasets" / "ner"
    new = reencrypt_under_new_key(d, ring)
    v2 = store.add_and_push(d)["md5"].removesuffix(".dir")
    assert new["key_id"] != old["key_id"] and v2 != v1
    assert [new["splits"][s]["record_ids"] for s in SPLITS] == [old["splits"][s]["record_ids"] for s in SPLITS]
    decrypt_verified(d, ring, tmp / "new")
    for split, data in _expected_plaintext(records, old).items():
        assert (tmp / "new" / f"{split}.jsonl").read_bytes() == data
    # the old version is still in the remote, but its key is retired
    fetched = store.fetch_directory(v1, tmp / "old-ct")
    with pytest.raises(KeyringError, match=f"{fetched}.*retired"):
        decrypt_verified(fetched, ring, tmp / "old")


def test_crypto_shredding_makes_every_version_under_the_key_unreadable(env):
    store, ring, tmp = env
    manifest, v1, _ = _build(store, ring, _records())
    ring.destroy(manifest["key_id"])
    assert "wrapped" not in json.loads(ring.path.read_text())[manifest["key_id"]]
    fetched = store.fetch_directory(v1, tmp / "ct")
    with pytest.raises(KeyringError, match="destroyed"):
        decrypt_verified(fetched, Keyring(ring.path, KEK), tmp / "plain")
    with pytest.raises(DecryptionError):
        from lepton.crypto.envelope import decrypt_file

        decrypt_file(fetched / "train.jsonl.enc", tmp / "x", bytes(32), "ner", "train.jsonl.enc")


@pytest.mark.parametrize("use_git", [False, True], ids=["no-git", "git"])
def test_backup_drill_restores_from_the_remote_alone(tmp_path, use_git):
    store = DvcStore(tmp_path / "repo", str(tmp_path / "remote"), use_git=use_git)
    ring = Keyring(Layout(tmp_path).keyring, KEK)
    records = _records(120, seed=9)
    manifest, version, _ = _build(store, ring, records)
    store.record_version("ner", version, key_id=manifest["key_id"], merkle_root=manifest["merkle_root"])
    # lose the DVC cache and the workspace copy; only the remote (and the keys) survive
    shutil.rmtree(store.repo_dir / ".dvc" / "cache")
    shutil.rmtree(store.repo_dir / "datasets")
    fetched = store.fetch_directory(version, tmp_path / "fetched")
    assert read_manifest(fetched)["merkle_root"] == manifest["merkle_root"]
    decrypt_verified(fetched, ring, tmp_path / "plain")
    for split, data in _expected_plaintext(records, manifest).items():
        assert (tmp_path / "plain" / f"{split}.jsonl").read_bytes() == data
    assert [v["version"] for v in store.versions("ner")] == [version]
    assert not (store.repo_dir / ".restore" / f"{version}.dvc").exists()


def test_dvc_steps_are_serialised_by_a_pool_of_one():
    """DVC locks its repository; the dataset asset runs in the `dvc` pool, limited to one."""
    import yaml

    from assets.dataset import dataset_version
    from tests.conftest import REPO

    assert dataset_version.op.pool == "dvc"
    for cfg in ("dagster.yaml", "dagster.local.yaml"):
        assert yaml.safe_load((REPO / "deploy" / cfg).read_text())["concurrency"]["pools"]["default_limit"] == 1


@pytest.mark.parametrize("version", ["../..", "..", "a/b", "0" * 31, "Z" * 32, "0" * 32 + "/.."])
def test_a_version_is_a_directory_hash_and_never_a_path(env, version):
    """A version string reaches DVC's restore folder and its clean-up: `../..` removed the
    DVC folder's parent once. Only a 32-hex-digit DVC directory hash is taken."""
    store, _, tmp = env
    sentinel = store.repo_dir.parent / "keep-me"
    sentinel.write_text("x")
    with pytest.raises(ValueError, match="32 hex digits"):
        store.fetch_directory(version, tmp / "out")
    assert sentinel.exists() and not (tmp / "out").exists()


def test_training_loads_a_split_only_when_its_manifest_and_records_verify(env):
    """The trainer reads splits through load_split: an edited manifest (the split's record
    list, its rows) must stop it as it stops a restore."""
    store, ring, _ = env
    manifest, _, _ = _build(store, ring, _records())
    folder = store.repo_dir / "datasets" / "ner"
    assert [r.record_id for r in load_split(folder, "train", ring)] == manifest["splits"]["train"]["record_ids"]
    path = folder / "manifest.json"
    edited = json.loads(path.read_text())
    edited["splits"]["train"]["record_ids"][0] = "someone-else"
    path.write_text(json.dumps(edited))
    with pytest.raises(IntegrityError, match="manifest MAC"):
        load_split(folder, "train", ring)
