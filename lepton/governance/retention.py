"""Retention: raw batches older than their class's period are archived (encrypted) and
their working copies deleted, each step recorded in lineage and the audit log.

A batch's class is the most sensitive class of any record in it, so a batch holding one
restricted record is kept only as long as restricted data may be.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lepton.crypto.envelope import encrypt_file
from lepton.crypto.keyring import Keyring
from lepton.governance.audit import AuditLog
from lepton.governance.policy import Policy
from lepton.lineage.store import LineageStore, node_id
from lepton.workspace import BATCH_META, GOVERNED, RAW, Layout, WorkTree

ARCHIVE_PURPOSE = "archive"


def write_batch_meta(batch_dir: Path, batch_id: str, ingested_at: datetime | None = None) -> None:
    meta = Path(batch_dir) / BATCH_META
    if not meta.exists():  # the first ingestion of a batch sets its age; re-runs do not reset it
        meta.write_text(json.dumps({"batch_id": batch_id,
                                    "ingested_at": (ingested_at or datetime.now(timezone.utc)).isoformat()}))


def batch_class(work: WorkTree, batch_id: str, policy: Policy) -> str:
    governed = work.stage_file(GOVERNED, batch_id)
    if not governed.exists():
        return policy.classes[-1]  # not yet classified: treat as the most sensitive
    rank = {c: i for i, c in enumerate(policy.classes)}
    level = 0
    with governed.open(encoding="utf-8") as fh:
        for line in fh:
            level = max(level, rank[json.loads(line)["sensitivity"]])
    return policy.classes[level]


@dataclass
class RetentionAction:
    batch_id: str
    sensitivity: str
    age_days: float
    archive: str
    deleted: list[str]


def sweep(home: Path, policy: Policy, keyring: Keyring, lineage: LineageStore, audit: AuditLog,
          now: datetime | None = None, actor: str = "lepton") -> list[RetentionAction]:
    now = now or datetime.now(timezone.utc)
    layout = Layout(Path(home))
    work = layout.work
    done = []
    for meta_path in work.stage_files(RAW, BATCH_META):
        meta = json.loads(meta_path.read_text())
        batch = meta["batch_id"]
        age = now - datetime.fromisoformat(meta["ingested_at"])
        sensitivity = batch_class(work, batch, policy)
        if age < timedelta(days=policy.retention_days[sensitivity]):
            continue
        dirs = work.batch_dirs(batch)
        archive = layout.archive(batch)
        archive.parent.mkdir(parents=True, exist_ok=True)
        key_id, key = keyring.data_key_for(ARCHIVE_PURPOSE)
        with tempfile.TemporaryDirectory(prefix="lepton-archive-") as tmp:
            tar_path = Path(tmp) / "batch.tar"
            with tarfile.open(tar_path, "w") as tar:
                for d in dirs:
                    tar.add(d, arcname=f"{d.parent.name}/{batch}")
            encrypt_file(tar_path, archive, key, key_id, ARCHIVE_PURPOSE, archive.name, deterministic=False)
        audit.append("retention.archive", f"record_batch:{batch}", actor=actor, archive=archive.name,
                     key_id=key_id, sensitivity=sensitivity, age_days=round(age.total_seconds() / 86400, 2))
        anode = lineage.add_node("archive", batch, archive=archive.name, key_id=key_id, sensitivity=sensitivity)
        lineage.add_edge(node_id("record_batch", batch), anode, "archived-as")
        for d in dirs:
            shutil.rmtree(d)
        pnode = lineage.add_node("purge", batch, deleted=[f"work/{d.parent.name}/{batch}" for d in dirs],
                                 at=now.isoformat())
        lineage.add_edge(node_id("record_batch", batch), pnode, "purged-by")
        audit.append("retention.delete", f"record_batch:{batch}", actor=actor,
                     deleted=[f"work/{d.parent.name}/{batch}" for d in dirs])
        done.append(RetentionAction(batch, sensitivity, age.total_seconds() / 86400, str(archive),
                                    [str(d) for d in dirs]))
    return done


def open_archive(archive: Path, keyring: Keyring) -> tarfile.TarFile:
    """For a steward who must look inside an archived batch (an audited read, by the caller)."""
    from lepton.crypto.envelope import decrypt_file, read_key_id

    key = keyring.unwrap(read_key_id(archive))
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "batch.tar"
        decrypt_file(archive, plain, key, ARCHIVE_PURPOSE, Path(archive).name)
        data = plain.read_bytes()
    return tarfile.open(fileobj=io.BytesIO(data))
