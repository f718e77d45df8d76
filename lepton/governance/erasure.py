"""Erasure of a person's records from every store Lepton keeps, with lineage kept whole.

Order matters, because crypto-shredding cannot be undone: first everything is found and
every plaintext rewrite is planned and checked; then each dataset version that holds the
records gets a successor without them under a new data key (the same splits otherwise);
then the old data keys are destroyed, which makes every old version unreadable wherever
its ciphertext lives (DVC cache, remote, backups); then the plaintext copies are
rewritten and Label Studio's tasks deleted; last, affected model versions are tainted
and a tombstone is written. The tombstone names records by id and by the HMAC their
dataset manifest committed to: keyed under a key that no longer exists, so it proves
which record went without being a dictionary oracle for its text.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lepton.corpus.formats import ReaderOptions
from lepton.corpus.landing import BatchRegistry, LandingFile
from lepton.crypto.envelope import encrypt_file
from lepton.crypto.keyring import DESTROYED, Keyring
from lepton.datasets.version import decrypt_verified, write_successor
from lepton.governance.audit import AuditLog
from lepton.governance.purge import Rewrite, planned_rewrites, source_without
from lepton.governance.retention import ARCHIVE_PURPOSE, open_archive
from lepton.hashing import sha256_file
from lepton.lineage.events import DERIVED_FROM
from lepton.lineage.ledger import RecordLedger
from lepton.lineage.queries import downstream_of_record
from lepton.lineage.store import LineageStore
from lepton.workspace import SOURCES, Layout, WorkTree, ingested

CODE_VERSION = "erasure-1"
ERASED_BY = "erased-by"
TAINTED_BY = "tainted-by"


class ErasureError(Exception):
    """Names the record or file that stops an erasure; raised before anything is changed."""


@dataclass
class ErasureStores:
    """What an erasure reaches, opened by the caller from settings."""

    home: Path
    landing_url: str
    readers: ReaderOptions
    keyring: Keyring
    dvc: object          # lepton.datasets.dvc_store.DvcStore
    lineage: LineageStore
    audit: AuditLog
    mlflow: object | None = None   # lepton.tracking.mlflow_store.MlflowStore
    studio: object | None = None   # lepton.annotation.studio.Studio
    ls_project: str | None = None

    @property
    def layout(self) -> Layout:
        return Layout(self.home)

    @property
    def work(self) -> WorkTree:
        return self.layout.work


def records_of_subject(stores: "ErasureStores", subject: str) -> list[str]:
    """Records whose ingested text contains the identifier (a name, an e-mail address, a
    customer number), compared case-insensitively: in the working batches and inside the
    retention archives (decrypted in a temporary folder)."""
    needle = subject.casefold()
    with tempfile.TemporaryDirectory(prefix="lepton-subject-", dir=stores.home) as tmp:
        trees = [stores.work, *_unpack_archives(stores, Path(tmp)).values()]
        return sorted({rid for tree in trees for rid, r in ingested(tree).items() if needle in r["text"].casefold()})


def _lines_by_file(found: dict[str, dict]) -> dict[tuple[str, str], set[int]]:
    """(batch, source file) -> first lines of the erased records in it."""
    out: dict[tuple[str, str], set[int]] = {}
    for r in found.values():
        out.setdefault((r["batch"], r["source"]), set()).add(r["line"])
    return dict(sorted(out.items()))


def _reader(stores: ErasureStores, source: str):
    return stores.readers.reader_for(Path(source))


def _copy_rewrites(stores: ErasureStores, work: WorkTree, found: dict[str, dict]) -> list[Rewrite]:
    """The batch copies of the source files in a work tree."""
    return [source_without(work.stage(SOURCES, batch) / source, source, lines, _reader(stores, source))
            for (batch, source), lines in _lines_by_file(found).items()
            if (work.stage(SOURCES, batch) / source).exists()]


def _landing_rewrites(stores: ErasureStores, found: dict[str, dict]) -> tuple[list[Rewrite], list[LandingFile]]:
    """The landing zone's files, where it is a local folder still holding the file as last
    registered; each is registered again as rewritten, so it is not ingested again."""
    if "://" in stores.landing_url:
        return [], []
    seen = BatchRegistry.in_workspace(stores.home).seen()
    rewrites, landing_files = [], []
    for (_, source), lines in _lines_by_file(found).items():
        landing = Path(stores.landing_url) / source
        if landing.exists() and sha256_file(landing) == seen.get(source):
            rw = source_without(landing, source, lines, _reader(stores, source))
            rewrites.append(rw)
            landing_files.append(LandingFile(source, hashlib.sha256(rw.content).hexdigest(), len(rw.content)))
    return rewrites, landing_files


def _datasets_holding(stores: ErasureStores, ids: frozenset[str], ledger: RecordLedger) -> dict[str, list[dict]]:
    """dataset name -> its versions readable under its active key, for every dataset with a
    version that holds an erased record."""
    holding = {c.split(":", 1)[1] for rid in ids for c, _ in ledger.containers(rid)}
    out = {}
    for index in sorted((stores.dvc.repo_dir / "versions").glob("*.jsonl")):
        name = index.stem
        versions = stores.dvc.versions(name)
        active = stores.keyring.active_key_id(name)
        if any(v["version"] in holding for v in versions):
            out[name] = [v for v in versions if v["key_id"] == active]
    return out


def _replace_versions(stores: ErasureStores, name: str, versions: list[dict], ids: frozenset[str],
                      erasure: str, ledger: RecordLedger, tmp: Path) -> tuple[list[dict], dict[str, str], list[str]]:
    """Successors of every readable version of one dataset, under a new data key; then the
    old keys are destroyed. Returns (old -> new versions, erased record -> its HMAC, keys destroyed)."""
    plain = {}
    for v in versions:
        fetched = stores.dvc.fetch_directory(v["version"], tmp / f"{v['version']}-enc")
        plain[v["version"]] = (decrypt_verified(fetched, stores.keyring, tmp / v["version"]), tmp / v["version"])
    hmacs = {rid: h for manifest, _ in plain.values() for split in manifest["splits"].values()
             for rid, h in zip(split["record_ids"], split["record_hmacs"]) if rid in ids}
    _, key_id, data_key = stores.keyring.rotate_data_key(name)
    out_dir = stores.dvc.repo_dir / "datasets" / name
    replaced = []
    for v in versions:  # oldest first: the working copy ends as the successor of the latest
        manifest, plain_dir = plain[v["version"]]
        if out_dir.exists():
            shutil.rmtree(out_dir)
        new_manifest = write_successor(manifest, plain_dir, out_dir, key_id, data_key, drop=ids, erasure=erasure,
                                       replaces=v["version"])
        tracked = stores.dvc.add_and_push(out_dir)
        new = tracked["md5"].removesuffix(".dir")
        rows = {s: e["rows"] for s, e in new_manifest["splits"].items()}
        stores.dvc.record_version(name, new, key_id=key_id, merkle_root=new_manifest["merkle_root"], rows=rows,
                                  replaces=v["version"], erasure=erasure)
        before = stores.lineage.get(f"dataset_version:{v['version']}")
        nid = stores.lineage.add_node("dataset_version", new, **{
            **(before.attrs if before else {}), "dataset": name, "key_id": key_id,
            "merkle_root": new_manifest["merkle_root"], "replaces": v["version"], "erasure": erasure,
            **{f"rows_{k}": n for k, n in rows.items()}})
        ledger.add(nid, {s: e["record_ids"] for s, e in new_manifest["splits"].items()})
        removed = sum(manifest["splits"][s]["rows"] - n for s, n in rows.items())
        replaced.append({"old": v["version"], "new": new, "records_removed": removed})
    destroyed = []
    for kid, entry in stores.keyring.entries().items():
        if entry["dataset"] == name and kid != key_id and entry["state"] != DESTROYED:
            stores.keyring.destroy(kid)
            destroyed.append(kid)
    return replaced, hmacs, destroyed


def _unpack_archives(stores: ErasureStores, into: Path) -> dict[Path, WorkTree]:
    """Retention archives (encrypted tars of a batch's working folders), each unpacked into a
    folder laid out like work/: archive -> its work tree."""
    out = {}
    for archive in sorted(stores.layout.archives.glob("*.tar.enc")):
        tree = into / archive.name
        with open_archive(archive, stores.keyring) as tar:
            tar.extractall(tree, filter="data")
        out[archive] = WorkTree(tree)
    return out


def _rewrite_archives(stores: ErasureStores, trees: dict[Path, WorkTree], rewrites: dict[Path, list[Rewrite]],
                      tmp: Path) -> tuple[list[dict], list[str]]:
    """Every archive re-encrypted under a new archive key, the ones holding erased records
    without them; then the old archive keys are destroyed. All archives share their key, so
    all must move for the old key to go."""
    _, key_id, key = stores.keyring.rotate_data_key(ARCHIVE_PURPOSE)
    changed = []
    for archive, tree in trees.items():
        before = sha256_file(archive)
        for rw in rewrites.get(archive, []):
            rw.apply()
        tar_path = tmp / f"{archive.name}.tar"
        with tarfile.open(tar_path, "w") as tar:
            for folder in sorted(p for p in tree.root.glob("*/*") if p.is_dir()):
                tar.add(folder, arcname=f"{folder.parent.name}/{folder.name}")
        encrypt_file(tar_path, archive, key, key_id, ARCHIVE_PURPOSE, archive.name, deterministic=False)
        tar_path.unlink()
        if rewrites.get(archive):
            changed.append({"file": archive.relative_to(stores.home).as_posix(), "sha256_before": before,
                            "sha256_after": sha256_file(archive),
                            "removed": sum(rw.removed for rw in rewrites[archive])})
    destroyed = []
    for kid, entry in stores.keyring.entries().items():
        if entry["dataset"] == ARCHIVE_PURPOSE and kid != key_id and entry["state"] != DESTROYED:
            stores.keyring.destroy(kid)
            destroyed.append(kid)
    return changed, destroyed


def erase(stores: ErasureStores, record_ids: list[str], actor: str, retrain: bool = False) -> dict:
    """Erases the records everywhere and returns the tombstone (ids, hashes, what changed)."""
    ids = frozenset(record_ids)
    if not ids:
        raise ErasureError("no record to erase")
    now = datetime.now(timezone.utc)
    erasure = f"{now.strftime('%Y%m%dT%H%M%S')}-{hashlib.sha256(','.join(sorted(ids)).encode()).hexdigest()[:8]}"
    ledger = RecordLedger(stores.lineage)
    with tempfile.TemporaryDirectory(prefix="lepton-erase-", dir=stores.home) as tmp:
        tmp = Path(tmp)
        trees = _unpack_archives(stores, tmp / "archives")
        found = {rid: r for rid, r in ingested(stores.work).items() if rid in ids}
        in_archives = {a: {rid: r for rid, r in ingested(tree).items() if rid in ids} for a, tree in trees.items()}
        reach = {rid: downstream_of_record(stores.lineage, ledger, rid) for rid in ids}
        unknown = sorted(rid for rid in ids if rid not in found and not reach[rid]["dataset_versions"]
                         and not any(rid in f for f in in_archives.values()))
        if unknown:
            raise ErasureError(f"record {unknown[0]} is in no ingested batch, archive or dataset version"
                               + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))

        # 1. plan and check every plaintext rewrite before anything irreversible happens
        rewrites = planned_rewrites(stores.work, ids)
        everywhere = {**{rid: r for f in in_archives.values() for rid, r in f.items()}, **found}
        landing_rewrites, landing_files = _landing_rewrites(stores, everywhere)
        source_rewrites = _copy_rewrites(stores, stores.work, found) + landing_rewrites
        archive_rewrites = {a: planned_rewrites(tree, ids) + _copy_rewrites(stores, tree, in_archives[a])
                            for a, tree in trees.items()}
        holding = _datasets_holding(stores, ids, ledger)

        # 2. successors without the records, then the old keys destroyed
        replaced, hmacs, destroyed = {}, {}, []
        for name, versions in holding.items():
            replaced[name], h, keys = _replace_versions(stores, name, versions, ids, erasure, ledger, tmp)
            hmacs.update(h)
            destroyed += keys
        archives: list[dict] = []
        if any(archive_rewrites.values()):
            archives, keys = _rewrite_archives(stores, trees, archive_rewrites, tmp)
            destroyed += keys

    # 3. the plaintext copies, and the landing zone's files registered as already seen
    for rw in rewrites + source_rewrites:
        rw.apply()
    registry = BatchRegistry.in_workspace(stores.home)
    for f in landing_files:
        registry.register(f, stores.landing_url)

    # 4. Label Studio: the tasks go with their annotations and predictions
    ls_deleted = []
    if stores.studio is not None and stores.ls_project:
        project = stores.studio.find_project(stores.ls_project)
        if project is not None:
            for task in stores.studio.tasks_of_records(project, ids):
                stores.studio.delete_task(task)
                ls_deleted.append(task)

    # 5. models trained on the records, and the tombstone
    models = sorted({m["node"] for d in reach.values() for m in d["model_versions"]})
    tainted = []
    for node in models:
        name, version = node.split(":", 1)[1].rsplit("/", 1)
        if stores.mlflow is not None and name == stores.mlflow.model_name:
            stores.mlflow.taint(int(version), erasure)
        tainted.append(node)
    home = stores.home
    tombstone = {
        "erasure": erasure, "at": now.isoformat(), "actor": actor, "records": sorted(ids),
        "record_hmacs": dict(sorted(hmacs.items())),
        "held_in": {rid: [v["node"] for v in reach[rid]["dataset_versions"]] for rid in sorted(ids)},
        "dataset_versions_replaced": replaced, "data_keys_destroyed": destroyed,
        "files_rewritten": [rw.to_dict(home) for rw in rewrites + source_rewrites] + archives,
        "label_studio_tasks_deleted": ls_deleted, "model_versions_tainted": tainted, "retrain": retrain,
    }
    node = stores.lineage.add_node("erasure", erasure, **tombstone)
    for rid in sorted(ids):
        for v in reach[rid]["dataset_versions"]:
            stores.lineage.add_edge(node, v["node"], ERASED_BY, code_version=CODE_VERSION)
    for pairs in replaced.values():
        for pair in pairs:
            new = f"dataset_version:{pair['new']}"
            stores.lineage.add_edge(f"dataset_version:{pair['old']}", new, DERIVED_FROM, code_version=CODE_VERSION)
            stores.lineage.add_edge(node, new, DERIVED_FROM, code_version=CODE_VERSION)
    for m in tainted:
        stores.lineage.add_edge(node, m, TAINTED_BY, code_version=CODE_VERSION)
    folder = stores.work.erasures
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{erasure}.json").write_text(json.dumps(tombstone, indent=1, sort_keys=True))
    stores.audit.append("governance.erase", f"erasure:{erasure}", actor=actor, records=sorted(ids),
                        data_keys_destroyed=destroyed, model_versions_tainted=tainted,
                        dataset_versions=[p["new"] for ps in replaced.values() for p in ps],
                        files_rewritten=len(rewrites) + len(source_rewrites),
                        label_studio_tasks_deleted=len(ls_deleted), retrain=retrain)
    return tombstone
