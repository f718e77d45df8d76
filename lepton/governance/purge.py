"""Taking erased records out of the workspace's plaintext copies: the per-stage record
files, the annotation snapshots and batches, and the copies of the source files.

Every rewrite is planned in memory and checked before anything is written, so an erasure
that cannot be carried out in one file fails before it has changed any: a source file is
re-read with its own format's reader after the record's lines are blanked, and must give
back exactly the records it gave before, less the erased ones.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from lepton.corpus.quarantine import Rejection, subject
from lepton.corpus.textio import format_suffix
from lepton.workspace import CLEAN, QUARANTINE, RAW, RECORD_STAGES, WorkTree


class PurgeError(Exception):
    """An erased record cannot be taken out of a file cleanly; names the file and why."""


@dataclass
class Rewrite:
    path: Path
    before: bytes = field(repr=False)
    content: bytes = field(repr=False)
    removed: int = 0
    remote: bool = False  # a universal-pathlib path on an object store: written whole, in place

    def to_dict(self, root: Path, digest: Callable[[bytes], str]) -> dict:
        """What a tombstone keeps of the rewrite: the file, and its digests before and after
        under `digest` (the workspace's keyed digest: a kept digest must not confirm a
        guessed file)."""
        return {"file": self.path.relative_to(root).as_posix() if self.path.is_relative_to(root) else str(self.path),
                "digest_before": digest(self.before), "digest_after": digest(self.content), "removed": self.removed}

    def apply(self) -> None:
        """Atomic, and the old bytes are not left behind in a backup copy (an object store
        replaces an object whole)."""
        if self.remote:
            self.path.write_bytes(self.content)
            return
        tmp = self.path.with_name(self.path.name + ".erasing")
        tmp.write_bytes(self.content)
        os.replace(tmp, self.path)


def jsonl_without(path: Path, ids: frozenset[str]) -> Rewrite | None:
    data = path.read_bytes()
    kept, removed = [], 0
    for line in data.splitlines(keepends=True):
        if line.strip() and orjson.loads(line).get("record_id") in ids:
            removed += 1
        else:
            kept.append(line)
    return Rewrite(path, data, b"".join(kept), removed) if removed else None


def snapshot_without(path: Path, ids: frozenset[str]) -> Rewrite | None:
    """Annotation snapshots: the task entries of erased records go, with their annotations
    (span texts are personal data too). The file keeps its name, the content hash it was
    named by is kept in the tombstone."""
    data = path.read_bytes()
    snap = json.loads(data)
    tasks = [t for t in snap.get("tasks", []) if t.get("record_id") not in ids]
    removed = len(snap.get("tasks", [])) - len(tasks)
    if not removed:
        return None
    snap["tasks"] = tasks
    return Rewrite(path, data, json.dumps(snap, ensure_ascii=False, indent=1).encode(), removed)


def report_without(path: Path, ids: frozenset[str]) -> Rewrite | None:
    """Annotation batch reports: list entries (span problems, conflicts, unaligned spans)
    about erased records go; they can quote span text."""
    data = path.read_bytes()
    report = json.loads(data)
    removed = 0
    for key, value in report.items():
        if isinstance(value, list):
            kept = [v for v in value if not (isinstance(v, dict) and v.get("record_id") in ids)]
            removed += len(value) - len(kept)
            report[key] = kept
    return Rewrite(path, data, json.dumps(report, indent=1, ensure_ascii=False).encode(), removed) \
        if removed else None


def quarantine_files(work: WorkTree) -> list[Path]:
    return [p for stage in (RAW, CLEAN) for p in work.stage_files(stage, QUARANTINE)]


def record_files(work: WorkTree) -> Iterable[Path]:
    for stage in RECORD_STAGES:
        yield from work.stage_files(stage, "*.jsonl")
    yield from sorted(work.annotations.glob("*/annotations.jsonl"))


def quarantine_rekeyed(path: Path, ids: frozenset[str], reseal: Callable[[str, str], str]) -> Rewrite:
    """A quarantine file without the erased records' lines, every other line's raw text
    sealed again by `reseal(subject, token) -> token` (decrypted under the old quarantine key,
    encrypted under its successor), so the old key can be destroyed and with it every copy
    of the erased lines made before (backups, exports of the file)."""
    data = path.read_bytes()
    kept, removed = [], 0
    for line in data.splitlines():
        if not line.strip():
            continue
        entry = orjson.loads(line)
        if entry.get("record_id") in ids:
            removed += 1
            continue
        if "raw_encrypted" in entry:
            entry["raw_encrypted"] = reseal(subject(entry["source"], entry["line"]), entry["raw_encrypted"])
        kept.append(json.dumps(entry, ensure_ascii=False) + "\n")
    return Rewrite(path, data, "".join(kept).encode(), removed)


def planned_rewrites(work: WorkTree, ids: frozenset[str], quarantine: bool = True) -> list[Rewrite]:
    """Every workspace file (other than source copies) that holds an erased record; without
    the quarantine files when `quarantine` is False (the caller re-keys them)."""
    skip = set() if quarantine else set(quarantine_files(work))
    out = [jsonl_without(p, ids) for p in record_files(work) if p not in skip]
    out += [snapshot_without(p, ids) for p in sorted(work.annotation_snapshots.glob("*.json"))]
    out += [report_without(p, ids) for p in sorted(work.annotations.glob("*/report.json"))]
    return [r for r in out if r is not None]




def source_without(path: Path, source: str, erased: set[str], reader: Callable) -> Rewrite:
    """A source file with the lines of the erased records replaced by empty lines, so every
    other record keeps its line number. Each item read from the file (a record, or a line
    its reader refused) whose id is erased goes from its first line up to the next item's
    first line: exact duplicates of a record go with it. Checked by reading the new file
    back with the format's reader: every other record must come back, and nothing erased."""
    def items(p: Path) -> list:
        return list(reader(p, source))

    before = items(path)
    starts = sorted({item.line for item in before})
    here = {item.record_id for item in before}
    if not erased <= here:
        raise PurgeError(f"{path}: {len(erased - here)} of the {len(erased)} erased records are not in it; "
                         "the file no longer matches its ingestion")
    records_before = {item.record_id for item in before if not isinstance(item, Rejection)}
    erased_lines = sorted({item.line for item in before if item.record_id in erased and item.line >= 1})
    raw = path.read_bytes()
    gz = path.suffix.lower() == ".gz"
    lines = (gzip.decompress(raw) if gz else raw).splitlines(keepends=True)
    for first in erased_lines:
        later = [s for s in starts if s > first]
        last = (later[0] - 1) if later else len(lines)
        for i in range(first - 1, last):
            ending = b"\r\n" if lines[i].endswith(b"\r\n") else b"\n" if lines[i].endswith(b"\n") else b""
            lines[i] = ending
    content = b"".join(lines)
    with tempfile.TemporaryDirectory(prefix="lepton-erase-") as tmp:
        check = Path(tmp) / path.name
        check.write_bytes(gzip.compress(content, mtime=0) if gz else content)
        after = items(check)
    records_after = {item.record_id for item in after if not isinstance(item, Rejection)}
    left = {item.record_id for item in after} & erased
    if records_after != records_before - erased or left:
        raise PurgeError(f"{path}: blanking the erased records' lines changes other records "
                         f"({len(records_before - erased - records_after)} lost, "
                         f"{len(records_after - records_before)} new, {len(left)} erased left); "
                         f"this {format_suffix(path)} file cannot be erased in place")
    return Rewrite(path, raw, gzip.compress(content, mtime=0) if gz else content, len(erased_lines))
