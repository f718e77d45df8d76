"""Erasure of a person's records from every store Lepton keeps, with lineage kept whole.

Order matters, because crypto-shredding cannot be undone: first everything is found and
every plaintext rewrite is planned and checked; then the records' Label Studio tasks are
deleted (refused, with nothing changed, when the tasks were pushed and Label Studio is not
configured or does not answer: a task left there would come back with the next sync); then
each dataset version that holds the records gets a successor without them under a new data
key (the same splits otherwise), and the quarantine is sealed again under a new key when it
held them; then the old data keys are destroyed, which makes every old version unreadable
wherever its ciphertext lives (DVC cache, remote, backups); then the plaintext copies are
rewritten; last, affected model versions are tainted and a tombstone is written. The
tombstone names records by id and by the HMAC their dataset manifest committed to: keyed
under a key that no longer exists, so it proves which record went without being a
dictionary oracle for its text. Ingestion and the annotation sync refuse the ids it names.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from upath import UPath

from lepton import workspace_lock
from lepton.corpus.formats import ReaderOptions
from lepton.corpus.landing import BatchRegistry, LandingFile
from lepton.corpus.quarantine import KEY_PURPOSE as QUARANTINE_PURPOSE
from lepton.corpus.quarantine import subject as quarantine_subject
from lepton.corpus.records import RecordIds
from lepton.crypto.envelope import encrypt_file
from lepton.crypto.keyring import DESTROYED, Keyring
from lepton.datasets.version import decrypt_verified, write_successor
from lepton.failpoints import failpoint
from lepton.governance.audit import AuditLog, anchor
from lepton.governance.purge import Rewrite, planned_rewrites, quarantine_files, quarantine_rekeyed, source_without
from lepton.governance.retention import ARCHIVE_PURPOSE, open_archive
from lepton.hashing import sha256_file
from lepton.lineage.events import DERIVED_FROM
from lepton.lineage.ledger import RecordLedger
from lepton.lineage.queries import downstream_of_record
from lepton.lineage.store import LineageStore
from lepton.workspace import SOURCES, Layout, WorkTree, ingested, quarantined

CODE_VERSION = "erasure-1"
ERASED_BY = "erased-by"
TAINTED_BY = "tainted-by"


ERASE_SCRATCH = "lepton-erase-"  # the prefix of an erasure's working folder in the workspace


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
    ids: RecordIds          # how the workspace names records and keeps file digests (lepton.workspace.record_ids)
    mlflow: object | None = None   # lepton.tracking.mlflow_store.MlflowStore
    studio: object | None = None   # lepton.annotation.studio.Studio
    ls_project: str | None = None
    lock_wait_seconds: float = 600.0

    @property
    def layout(self) -> Layout:
        return Layout(self.home)

    @property
    def work(self) -> WorkTree:
        return self.layout.work


def records_of_subject(stores: "ErasureStores", subject: str) -> list[str]:
    """Records whose text contains the identifier (a name, an e-mail address, a customer
    number), compared case-insensitively: ingested records and quarantined lines (decrypted
    in memory), in the working batches and inside the retention archives (decrypted in a
    temporary folder)."""
    needle = subject.casefold()
    cipher = None  # opened at the first sealed line: a search must not create a quarantine key

    def raw(entry: dict) -> str:
        nonlocal cipher
        if "raw_encrypted" not in entry:
            return entry.get("raw", "")
        cipher = cipher or _quarantine_cipher(stores)
        return cipher.decrypt(quarantine_subject(entry["source"], entry["line"]), entry["raw_encrypted"]).decode()

    with tempfile.TemporaryDirectory(prefix="lepton-subject-", dir=stores.home) as tmp:
        trees = [stores.work, *_unpack_archives(stores, Path(tmp)).values()]
        found = {rid for tree in trees for rid, r in ingested(tree).items() if needle in r["text"].casefold()}
        found |= {e["record_id"] for tree in trees for _, e in quarantined(tree)
                  if e.get("record_id") and needle in raw(e).casefold()}
        return sorted(found)


def _quarantine_cipher(stores: "ErasureStores"):
    from lepton.crypto.fields import FieldCipher

    return FieldCipher(stores.keyring, QUARANTINE_PURPOSE)


def _places(tree: WorkTree, ids: frozenset[str]) -> dict[tuple[str, str], set[str]]:
    """(batch, source file) -> the erased ids read from it: as records, or as lines its
    ingestion or cleaning quarantined."""
    out: dict[tuple[str, str], set[str]] = {}
    for rid, r in ingested(tree).items():
        if rid in ids:
            out.setdefault((r["batch"], r["source"]), set()).add(rid)
    for batch, e in quarantined(tree):
        if e.get("record_id") in ids:
            out.setdefault((batch, e["source"]), set()).add(e["record_id"])
    return dict(sorted(out.items()))


def _reader(stores: ErasureStores, source: str):
    return stores.ids.reading(stores.readers.reader_for(Path(source)))


def _copy_rewrites(stores: ErasureStores, work: WorkTree, places: dict[tuple[str, str], set[str]]) -> list[Rewrite]:
    """The batch copies of the source files in a work tree."""
    return [source_without(work.stage(SOURCES, batch) / source, source, rids, _reader(stores, source))
            for (batch, source), rids in places.items()
            if (work.stage(SOURCES, batch) / source).exists()]


def _landing_rewrites(stores: ErasureStores, places: dict[tuple[str, str], set[str]], tmp: Path
                      ) -> tuple[list[Rewrite], list[LandingFile], list[dict]]:
    """The landing zone's files (a local folder or an object store), where each still holds
    the content last registered; each is registered again as rewritten, so it is not
    ingested again. Returns the rewrites, the files to register, and the files left as they
    are with the reason (said in the tombstone, never skipped silently)."""
    zone = UPath(stores.landing_url)
    remote = "://" in stores.landing_url
    seen = BatchRegistry.in_workspace(stores.home).seen()
    by_source: dict[str, set[str]] = {}
    for (_, source), rids in places.items():
        by_source.setdefault(source, set()).update(rids)
    rewrites, landing_files, skipped = [], [], []
    for source, rids in sorted(by_source.items()):
        landing = zone / source
        if not landing.exists():
            skipped.append({"source": source, "why": "no longer in the landing zone"})
            continue
        if sha256_file(landing) != seen.get(source):
            skipped.append({"source": source, "why": "changed since it was registered: its new content is another "
                                                     "batch, and ingestion refuses the erased records by id"})
            continue
        if remote:  # rewritten from a local copy, then written back whole
            local = tmp / "landing" / source
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(landing.read_bytes())
            rw = source_without(local, source, rids, _reader(stores, source))
            rw = Rewrite(landing, rw.before, rw.content, rw.removed, remote=True)
        else:
            rw = source_without(Path(landing), source, rids, _reader(stores, source))
        rewrites.append(rw)
        landing_files.append(LandingFile(source, hashlib.sha256(rw.content).hexdigest(), len(rw.content)))
    return rewrites, landing_files, skipped


def _pushed_to(stores: ErasureStores, batches: set[str]) -> set[int]:
    """Label Studio projects the lineage says these record batches' tasks were pushed to."""
    out = set()
    for node in stores.lineage.find("annotation_tasks"):
        batch, _, project = node.name.rpartition("@project-")
        if batch in batches:
            out.add(int(project))
    return out


def _delete_tasks(stores: ErasureStores, ids: frozenset[str], batches: set[str]) -> list[int]:
    """Deletes the records' tasks (with their annotations and predictions) from every project
    they were pushed to and the configured one. Refuses, before anything has changed, when
    they were pushed and Label Studio is not configured here or does not answer."""
    from lepton.annotation.studio import StudioError

    projects = _pushed_to(stores, batches)
    if stores.studio is None:
        if projects:
            raise ErasureError(f"the records' tasks were pushed to Label Studio project {min(projects)}; erasure "
                               "deletes them there first: set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY "
                               "(nothing was changed)")
        return []
    deleted = []
    try:
        configured = stores.studio.find_project(stores.ls_project) if stores.ls_project else None
        for project in sorted(projects | ({configured} if configured is not None else set())):
            for task in stores.studio.tasks_of_records(project, ids):
                stores.studio.delete_task(task)
                deleted.append(task)
    except StudioError as exc:
        raise ErasureError(f"{exc}; erasure deletes the records' tasks there first"
                           + ("" if deleted else " (nothing was changed)")) from None
    return deleted


def scrub_redelivered(home: Path, landing_url: str, readers: ReaderOptions, batch: str,
                      erased: frozenset[str], ids: RecordIds) -> list[dict]:
    """A batch that brought erased records back (a landing file delivered again) refused
    them at ingestion; here its byte copy of the file loses their lines, and so does the
    landing file where it is a local folder still holding the bytes the batch was registered
    from (registered again as rewritten, so it is not ingested again). Returns the files
    rewritten."""
    work, registry = Layout(home).work, BatchRegistry.in_workspace(home)
    registered = registry.get(batch)["sha256"]
    done = []
    for copy in sorted(p for p in work.stage(SOURCES, batch).rglob("*") if p.is_file()):
        source = copy.relative_to(work.stage(SOURCES, batch)).as_posix()
        plain = readers.reader_for(Path(source))
        if plain is None:
            continue
        reader = ids.reading(plain)
        landing = Path(landing_url) / source
        delivered = "://" not in landing_url and landing.exists() and sha256_file(landing) == registered
        for path in [copy] + ([landing] if delivered else []):
            # tombstones of a workspace that moved to keyed ids hold the unkeyed ids (README)
            here = {ids.rekey(item).record_id for item in plain(path, source)
                    if item.record_id in erased or ids.rekey(item).record_id in erased}
            if not here:
                continue
            rw = source_without(path, source, here, reader)
            rw.apply()
            done.append(rw.to_dict(home, ids.of_bytes))
            if path == landing:
                registry.register(LandingFile(source, sha256_file(landing), landing.stat().st_size), landing_url)
    return done


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
        kept = {"record_ids": sorted(r for e in new_manifest["splits"].values() for r in e["record_ids"])} \
            if "record_ids" in v else {}  # the frozen evaluation set lists its ids in the index
        stores.dvc.record_version(name, new, key_id=key_id, merkle_root=new_manifest["merkle_root"], rows=rows,
                                  replaces=v["version"], erasure=erasure, **kept)
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
        before = stores.ids.of_file(archive)
        for rw in rewrites.get(archive, []):
            rw.apply()
        tar_path = tmp / f"{archive.name}.tar"
        with tarfile.open(tar_path, "w") as tar:
            for folder in sorted(p for p in tree.root.glob("*/*") if p.is_dir()):
                tar.add(folder, arcname=f"{folder.parent.name}/{folder.name}")
        encrypt_file(tar_path, archive, key, key_id, ARCHIVE_PURPOSE, archive.name, deterministic=False)
        tar_path.unlink()
        if rewrites.get(archive):
            changed.append({"file": archive.relative_to(stores.home).as_posix(), "digest_before": before,
                            "digest_after": stores.ids.of_file(archive),
                            "removed": sum(rw.removed for rw in rewrites[archive])})
    destroyed = []
    for kid, entry in stores.keyring.entries().items():
        if entry["dataset"] == ARCHIVE_PURPOSE and kid != key_id and entry["state"] != DESTROYED:
            stores.keyring.destroy(kid)
            destroyed.append(kid)
    return changed, destroyed


def erase(stores: ErasureStores, record_ids: list[str], actor: str, retrain: bool = False) -> dict:
    """Erases the records everywhere and returns the tombstone (ids, hashes, what changed).

    Holds the workspace lock alone (runs in flight finish first, none starts meanwhile) and
    journals each step as it is done: an erasure stopped by a crash or a service error is
    finished by running the same command again, which skips what the journal says is done."""
    ids = frozenset(record_ids)
    if not ids:
        raise ErasureError("no record to erase")
    journal = Journal(stores.work.erasure_journal(hashlib.sha256(",".join(sorted(ids)).encode()).hexdigest()[:16]))
    with workspace_lock.exclusive(stores.layout.lock, stores.lock_wait_seconds):
        done = journal.entries()
        if journal.has("tombstone"):
            raise ErasureError(f"these records were erased already, by erasure {done[0]['erasure']}")
        try:
            return _erase(stores, ids, actor, retrain, journal)
        except ErasureError:
            raise
        except Exception as exc:
            raise ErasureError(f"erasure stopped by {type(exc).__name__}: {exc}; its journal {journal.path} holds "
                               "the steps done: run the same command again to finish it") from exc


def _erase(stores: ErasureStores, ids: frozenset[str], actor: str, retrain: bool, journal: "Journal") -> dict:
    resumed = journal.has("started")
    if resumed:
        erasure, at = journal.first("started")["erasure"], journal.first("started")["at"]
    else:
        now = datetime.now(timezone.utc)
        erasure = f"{now.strftime('%Y%m%dT%H%M%S')}-{hashlib.sha256(','.join(sorted(ids)).encode()).hexdigest()[:8]}"
        at = now.isoformat()
    ledger = RecordLedger(stores.lineage)
    # A killed erasure leaves its decrypted working copies (dataset splits, unpacked archives);
    # only an erasure makes these folders, and it holds the workspace alone, so any found is stale.
    for stale in stores.home.glob(f"{ERASE_SCRATCH}*"):
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=ERASE_SCRATCH, dir=stores.home) as tmp:
        tmp = Path(tmp)
        trees = _unpack_archives(stores, tmp / "archives")
        here = _places(stores.work, ids)
        in_archives = {a: _places(tree, ids) for a, tree in trees.items()}
        everywhere: dict[tuple[str, str], set[str]] = {}
        for places in (here, *in_archives.values()):
            for where, rids in places.items():
                everywhere.setdefault(where, set()).update(rids)
        known = set().union(*everywhere.values())
        reach = {rid: downstream_of_record(stores.lineage, ledger, rid) for rid in ids}
        unknown = sorted(rid for rid in ids if rid not in known and not reach[rid]["dataset_versions"])
        if unknown and not resumed:
            raise ErasureError(f"record {unknown[0]} is in no ingested batch, quarantine, archive or dataset version"
                               + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
        # quarantined lines are sealed under one key: when one goes, every other is sealed
        # again under a new key and the old key is destroyed, so no earlier copy can be read
        rekey = any(e.get("record_id") in ids for tree in (stores.work, *trees.values()) for _, e in quarantined(tree))

        # 1. plan and check every plaintext rewrite before anything irreversible happens
        rewrites = planned_rewrites(stores.work, ids, quarantine=not rekey)
        landing_rewrites, landing_files, landing_skipped = _landing_rewrites(stores, everywhere, tmp)
        source_rewrites = _copy_rewrites(stores, stores.work, here) + landing_rewrites
        archive_rewrites = {a: planned_rewrites(tree, ids, quarantine=not rekey)
                            + _copy_rewrites(stores, tree, in_archives[a]) for a, tree in trees.items()}
        holding = _datasets_holding(stores, ids, ledger)

        if not resumed:
            journal.record("started", erasure=erasure, at=at, records=sorted(ids), actor=actor)
        # 2. Label Studio first, the first change: a task left there comes back with the next sync
        journal.record("label_studio", tasks=_delete_tasks(stores, ids, {batch for batch, _ in everywhere}))
        old_quarantine_key = None
        if rekey:  # every line that stays must decrypt before its key is rotated
            old = _quarantine_cipher(stores)

            def readable(subj: str, token: str) -> str:
                old.decrypt(subj, token)
                return token
            for tree in (stores.work, *trees.values()):
                for p in quarantine_files(tree):
                    quarantine_rekeyed(p, ids, readable)

        # 3. successors without the records, then the old keys destroyed
        if not journal.has("datasets"):
            replaced, hmacs, keys = {}, {}, []
            for name, versions in holding.items():
                replaced[name], h, destroyed_here = _replace_versions(stores, name, versions, ids, erasure, ledger,
                                                                      tmp)
                hmacs.update(h)
                keys += destroyed_here
            journal.record("datasets", replaced=replaced, record_hmacs=hmacs, keys_destroyed=keys)
            failpoint("erasure.datasets")
        if rekey:
            old_quarantine_key, new_quarantine_key, _ = stores.keyring.rotate_data_key(QUARANTINE_PURPOSE)
            new = _quarantine_cipher(stores)

            def reseal(subj: str, token: str) -> str:
                return new.encrypt(subj, old.decrypt(subj, token))
            rewrites += [quarantine_rekeyed(p, ids, reseal) for p in quarantine_files(stores.work)]
            for a, tree in trees.items():
                archive_rewrites[a] += [quarantine_rekeyed(p, ids, reseal) for p in quarantine_files(tree)]
        if any(archive_rewrites.values()):
            archives, keys = _rewrite_archives(stores, trees, archive_rewrites, tmp)
            journal.record("archives", files=archives, keys_destroyed=keys)

    # 4. the plaintext copies, and the landing zone's files registered as already seen
    for rw in rewrites + source_rewrites:
        rw.apply()
    registry = BatchRegistry.in_workspace(stores.home)
    for f in landing_files:
        registry.register(f, stores.landing_url)
    if old_quarantine_key is not None:  # every copy sealed under it goes now
        stores.keyring.destroy(old_quarantine_key)
    journal.record("files", files=[rw.to_dict(stores.home, stores.ids.of_bytes) for rw in rewrites + source_rewrites],
                   keys_destroyed=[old_quarantine_key] if old_quarantine_key else [])

    # 5. models trained on the records, and the tombstone
    models = sorted({m["node"] for d in reach.values() for m in d["model_versions"]})
    tainted, deleted = [], []
    for node in models:
        name, version = node.split(":", 1)[1].rsplit("/", 1)
        if stores.mlflow is not None and name == stores.mlflow.model_name:
            stores.mlflow.taint(int(version), erasure)
            stores.mlflow.delete_model_files(int(version), erasure)
            deleted.append(node)
        tainted.append(node)
    datasets = journal.first("datasets")
    replaced = datasets["replaced"]
    destroyed = journal.all("keys_destroyed")
    files = journal.all("files")
    ls_deleted = journal.all("tasks")
    tombstone = {
        "erasure": erasure, "at": at, "actor": actor, "records": sorted(ids),
        "record_hmacs": dict(sorted(datasets["record_hmacs"].items())),
        "held_in": {rid: [v["node"] for v in reach[rid]["dataset_versions"]] for rid in sorted(ids)},
        "dataset_versions_replaced": replaced, "data_keys_destroyed": destroyed,
        "files_rewritten": files, "label_studio_tasks_deleted": ls_deleted, "model_versions_tainted": tainted,
        "model_artifacts_deleted": deleted, "retrain": retrain, "resumed": resumed,
        "landing_not_rewritten": landing_skipped, "record_ids": stores.ids.scheme,
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
                        files_rewritten=len(files), label_studio_tasks_deleted=len(ls_deleted), retrain=retrain,
                        resumed=resumed)
    anchor(stores.audit, stores.lineage)
    journal.record("tombstone", erasure=erasure)
    return tombstone


class Journal:
    """One erasure's steps as JSON lines, each written (and synced to disk) when the step is
    done, so a re-run knows where the last one stopped and the tombstone can say everything
    every attempt did."""

    def __init__(self, path: Path):
        self.path = path

    def entries(self) -> list[dict]:
        """The steps recorded; a last line without its newline is a write a kill cut short
        (that step is done again), so it is left out."""
        if not self.path.exists():
            return []
        text = self.path.read_text()
        lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
        return [json.loads(line) for line in lines if line.strip()]

    def has(self, step: str) -> bool:
        return any(e["step"] == step for e in self.entries())

    def first(self, step: str) -> dict:
        return next(e for e in self.entries() if e["step"] == step)

    def all(self, field: str) -> list:
        """`field`'s lists from every entry, joined: what all attempts did."""
        return [x for e in self.entries() for x in e.get(field, [])]

    def record(self, step: str, **details) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():  # drop a line a kill cut short, so this entry starts a line of its own
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                os.truncate(self.path, data.rfind(b"\n") + 1)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": step, "done_at": datetime.now(timezone.utc).isoformat(), **details},
                                sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
