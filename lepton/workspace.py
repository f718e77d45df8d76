"""The workspace's layout: every path of local state under the workspace folder ($LEPTON_HOME)
is named here and nowhere else, and the readers of its per-batch stage files and erasure
tombstones live beside it (erasure, retention, the review pack and the retraining sensor read
them; being here, below both governance and lineage, neither package imports the other).

    $LEPTON_HOME/
      landing/  lineage.db  mlflow/  dvc/  dagster/     defaults of stores a setting can move
      keys/master.key  keys/keyring.json                the master key (0600) and wrapped data keys
      keys/record_ids.json                              how this workspace names records (keyed or not)
      audit/audit.jsonl                                 the hash-chained audit log
      workspace.lock                                    shared by runs, held alone by an erasure
      locks/<asset>-<partition hash>.lock               one run at a time per asset and partition
      batches/registry/                                 landing files seen, by content hash
      archive/<batch>.tar.enc                           retention archives (encrypted)
      work/                                             a WorkTree: per-batch working copies and reports
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from lepton.corpus.records import RecordIds

# Stage folders under work/, one folder per batch in each.
SOURCES = "snapshots"   # byte copies of the batch's landing files, as ingested
RAW = "raw"             # records as read (records.jsonl), the ingest quarantine, batch.json
CLEAN = "clean"         # records after cleaning, and the cleaning quarantine
PII = "pii"             # personal-data findings per record (types and offsets, never values)
GOVERNED = "governed"   # records after the sensitivity policy: what annotation and training see
PREDICTIONS = "predictions"  # the champion's spans per record (offsets, labels, scores; never text)
DATASETS = "datasets"   # per dataset version: split rows (ids and lengths, no text)
BATCH_STAGES = (SOURCES, RAW, CLEAN, PREDICTIONS, PII, GOVERNED)    # what retention archives and deletes per batch
RECORD_STAGES = (RAW, CLEAN, PREDICTIONS, PII, GOVERNED, DATASETS)  # JSON lines with a record_id on each line
RECORDS = "records.jsonl"
QUARANTINE = "quarantine.jsonl"   # the records a stage refused, in raw/ and clean/
FINDINGS = "findings.jsonl"       # in pii/
BATCH_META = "batch.json"


@dataclass(frozen=True)
class WorkTree:
    """work/, or a retention archive unpacked into a folder of the same shape."""

    root: Path

    def stage(self, stage: str, batch: str) -> Path:
        return self.root / stage / batch

    def stage_file(self, stage: str, batch: str, name: str = RECORDS) -> Path:
        return self.root / stage / batch / name

    def stage_files(self, stage: str, name: str = RECORDS) -> list[Path]:
        """That file of every batch of a stage, in batch order."""
        return sorted((self.root / stage).glob(f"*/{name}"))

    def batch_dirs(self, batch: str) -> list[Path]:
        """The batch's folders that exist, in stage order."""
        return [d for d in (self.stage(s, batch) for s in BATCH_STAGES) if d.exists()]

    @property
    def annotations(self) -> Path:
        """Annotation batches: <batch>/annotations.jsonl and report.json."""
        return self.root / "annotations"

    @property
    def annotation_snapshots(self) -> Path:
        """Immutable pulls from Label Studio, content-hash named, and their HEAD."""
        return self.annotations / "snapshots"

    @property
    def annotation_pointers(self) -> Path:
        """One pointer per snapshot to the annotation batch resolved from it."""
        return self.annotations / "by-snapshot"

    @property
    def validation(self) -> Path:
        """GX reports (JSON and HTML) per batch."""
        return self.root / "validation"

    @property
    def parked(self) -> Path:
        """Batches that failed a contract, with their data and reports, until re-validated."""
        return self.validation / "parked"

    @property
    def erasures(self) -> Path:
        """Erasure tombstones, one JSON file per erasure."""
        return self.root / "erasures"

    def erasure_journal(self, key: str) -> Path:
        """The steps of one erasure as they are done (JSON lines), kept with its tombstone."""
        return self.root / "erasures" / "journal" / f"{key}.jsonl"

    @property
    def openlineage_events(self) -> Path:
        """OpenLineage events as JSON lines, when no OpenLineage transport is configured."""
        return self.root / "openlineage" / "events.jsonl"

    def lineage_picture(self, run_id: str) -> Path:
        return self.root / "lineage" / f"{run_id}.png"

    def review_pack(self, name: str, version: int) -> Path:
        return self.root / "review" / f"{name}-{version}.html"

    def split_rows(self, dataset_version: str) -> Path:
        return self.root / DATASETS / dataset_version / "split_rows.jsonl"


@dataclass(frozen=True)
class Layout:
    """Every path under the workspace folder."""

    home: Path

    @property
    def work(self) -> WorkTree:
        return WorkTree(self.home / "work")

    @property
    def keyring(self) -> Path:
        return self.home / "keys" / "keyring.json"

    @property
    def master_key(self) -> Path:
        """The default key file (LEPTON_KEY_FILE moves it)."""
        return self.home / "keys" / "master.key"

    @property
    def record_id_scheme(self) -> Path:
        return self.home / "keys" / "record_ids.json"

    @property
    def audit_log(self) -> Path:
        return self.home / "audit" / "audit.jsonl"

    @property
    def batch_registry(self) -> Path:
        return self.home / "batches" / "registry"

    @property
    def archives(self) -> Path:
        return self.home / "archive"

    @property
    def lock(self) -> Path:
        """The workspace lock (lepton.workspace_lock): runs share it, an erasure holds it alone."""
        return self.home / "workspace.lock"

    def step_lock(self, asset: str, partition: str | None) -> Path:
        """One asset's step for one partition (lepton.workspace_lock.one_at_a_time); the
        partition key is hashed, since it may hold any character."""
        digest = hashlib.sha256((partition or "").encode()).hexdigest()[:16]
        return self.home / "locks" / f"{asset}-{digest}.lock"

    def archive(self, batch: str) -> Path:
        return self.archives / f"{batch}.tar.enc"

    # Defaults of the stores that a setting can move out of the workspace.
    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def lineage_db(self) -> Path:
        return self.home / "lineage.db"

    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow" / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.home / "mlflow" / "artifacts"

    @property
    def dvc_repo(self) -> Path:
        return self.home / "dvc" / "repo"

    @property
    def dvc_remote(self) -> Path:
        return self.home / "dvc" / "remote"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def private_files() -> None:
    """The workspace holds personal data and keys: whatever the shell's umask, what this
    process creates is its owner's only (folders 0700, files 0600). Called where a process
    starts working on the workspace: the `lepton` command and the code location's load."""
    os.umask(0o077)


def stage_docs(work: WorkTree, stage: str) -> Iterator[tuple[str, dict]]:
    """(batch, record dict) for every record of one stage's per-batch files (raw, governed...)."""
    for path in work.stage_files(stage):
        with path.open("rb") as fh:
            for line in fh:
                yield path.parent.name, orjson.loads(line)


def ingested(work: WorkTree) -> dict[str, dict]:
    """record id -> batch, source and line, from every batch's ingested records."""
    return {doc["record_id"]: {"batch": batch, "source": doc["source"], "line": doc["line"], "text": doc["text"]}
            for batch, doc in stage_docs(work, RAW)}


def quarantined(work: WorkTree) -> Iterator[tuple[str, dict]]:
    """(batch, entry) for every line of every stage's quarantine (raw and clean), the raw
    text still encrypted."""
    for stage in (RAW, CLEAN):
        for path in work.stage_files(stage, QUARANTINE):
            with path.open("rb") as fh:
                for line in fh:
                    if line.strip():
                        yield path.parent.name, orjson.loads(line)


def erasures(work: WorkTree) -> list[dict]:
    """Tombstones, oldest first: what the retraining sensor and the review pack read."""
    return [json.loads(p.read_text()) for p in sorted(work.erasures.glob("*.json"))]


RECORD_ID_KEY = "record-ids"  # the keyring entry record ids are keyed with; never rotated or shredded


def record_ids(layout: Layout, keyring) -> RecordIds:
    """How this workspace names records, fixed at its first ingestion: keyed (HMAC under the
    keyring's record-ids key) for a new workspace; unkeyed for one that ingested before ids
    were keyed, so its ids, lineage, datasets and tombstones stay one scheme (README: "Record
    ids" says how to move it). Recorded in keys/record_ids.json, created exclusively so two
    first runs cannot choose differently."""
    marker = layout.record_id_scheme
    if not marker.exists():
        legacy = bool(layout.work.stage_files(RAW))
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"scheme": "sha256" if legacy else "hmac-sha256"}))
        try:  # a hard link, not a rename: whoever links first decides, whole
            os.link(tmp, marker)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    scheme = json.loads(marker.read_text())["scheme"]
    if scheme == "sha256":
        return RecordIds(None)
    return RecordIds(keyring.data_key_for(RECORD_ID_KEY)[1])


def erased_ids(work: WorkTree) -> frozenset[str]:
    """Every record id an erasure took: ingestion and the annotation sync refuse them."""
    return frozenset(rid for t in erasures(work) for rid in t["records"])
