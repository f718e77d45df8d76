"""Label Studio -> immutable annotation snapshots.

A snapshot is the whole annotated state of the project at one pull: every task that has
annotations, with each annotation's id, annotator id, update time and result. A new one
is written only when some task's annotations changed (added, updated or deleted) since
the previous snapshot. Snapshots are content-hashed and name their predecessor, so the
chain is tamper-evident, and writing the same state twice gives the same id: a sync
interrupted before its cursor moved repeats itself without duplicating anything.

Whole-state snapshots (not deltas) keep the blocking gate simple and lossless: a snapshot
whose gate fails is skipped whole, and the fix made in Label Studio arrives in the next
snapshot together with every good annotation of the failed one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from lepton.workspace import Layout


def _canon(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _annotations(task: dict) -> list[dict]:
    out = []
    for a in task.get("annotations") or []:
        out.append({"annotation_id": a["id"], "annotator": f"label-studio:user/{a.get('completed_by')}",
                    "updated_at": a.get("updated_at") or a.get("created_at"),
                    "ground_truth": bool(a.get("ground_truth")), "was_cancelled": bool(a.get("was_cancelled")),
                    "result": a.get("result") or []})
    return sorted(out, key=lambda a: a["annotation_id"])


def fingerprint(annotations: list[dict]) -> str:
    """What must change for a task to count as changed: its annotations' ids and update
    times. Takes Label Studio's annotation objects (full or from the index)."""
    items = sorted((a["id"], a.get("updated_at") or a.get("created_at")) for a in annotations)
    return hashlib.sha256(_canon(items)).hexdigest()[:16]


@dataclass
class Snapshot:
    snapshot_id: str
    sequence: int
    path: Path
    tasks: int
    annotations: int
    changes: dict


class SnapshotStore:
    """Snapshot files in one folder of the workspace, named by their content hash."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def in_workspace(cls, home: Path) -> "SnapshotStore":
        return cls(Layout(Path(home)).work.annotation_snapshots)

    def path(self, snapshot_id: str) -> Path:
        return self.folder / f"{snapshot_id}.json"

    def load(self, snapshot_id: str) -> dict:
        p = self.path(snapshot_id)
        if not p.exists():
            raise FileNotFoundError(f"no annotation snapshot {snapshot_id} in {self.folder}")
        return json.loads(p.read_text(encoding="utf-8"))

    def state(self, snapshot_id: str | None) -> dict[int, str]:
        """Task id -> fingerprint of its annotations, as of the snapshot."""
        if not snapshot_id:
            return {}
        return {t["task_id"]: t["fingerprint"] for t in self.load(snapshot_id)["tasks"]}

    def head(self) -> str | None:
        """The latest snapshot stored (highest sequence), for pulls made outside the sensor.
        Kept in a HEAD file, so finding it does not read every snapshot (each holds the
        whole annotated state)."""
        p = self.folder / "HEAD"
        return p.read_text().strip() if p.exists() else None

    def chain(self, snapshot_id: str) -> list[str]:
        """Oldest first, ending at `snapshot_id`."""
        out, cur = [], snapshot_id
        while cur:
            out.append(cur)
            cur = self.load(cur)["previous"]
        return out[::-1]

    def write(self, project_id: int, tasks: list[dict], changes: dict, previous: str | None,
              schema_version: str | None = None) -> Snapshot:
        """`schema_version`: the label schema in force at the pull (the batch is resolved
        under the schema in force when it runs, and says so)."""
        prev_seq = self.load(previous)["sequence"] if previous else 0
        body = {"previous": previous, "sequence": prev_seq + 1, "project_id": project_id,
                "label_schema_version": schema_version, "changes": changes,
                "tasks": sorted(tasks, key=lambda t: t["task_id"])}
        sid = hashlib.sha256(_canon(body)).hexdigest()[:16]
        path = self.path(sid)
        if not path.exists():  # immutable: the same content is already there under the same id
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"snapshot_id": sid, **body}, ensure_ascii=False, indent=1), encoding="utf-8")
            tmp.replace(path)
        head = self.head()
        if head is None or self.load(head)["sequence"] <= body["sequence"]:
            tmp = self.folder / "HEAD.tmp"
            tmp.write_text(sid)
            tmp.replace(self.folder / "HEAD")
        return Snapshot(sid, body["sequence"], path, len(tasks), sum(len(t["annotations"]) for t in tasks), changes)


def entries(tasks: list[dict], erased: frozenset[str] = frozenset()) -> list[dict]:
    """Label Studio tasks that have annotations, as snapshot entries; never a task of an
    erased record (one restored into Label Studio from a backup of its own, say)."""
    out = []
    for t in tasks:
        anns = _annotations(t)
        d = t["data"]
        if not anns or d.get("record_id") in erased:
            continue
        out.append({"task_id": t["id"], "record_id": d.get("record_id"), "record_batch": d.get("record_batch"),
                    "source": d.get("source"), "line": d.get("line"), "text": d.get("text", ""),
                    "annotations": anns, "fingerprint": fingerprint(t["annotations"])})
    return out


def compare(now: list[dict], before: dict[int, str]) -> dict:
    fps = {t["task_id"]: t["fingerprint"] for t in now}
    return {"added": sum(1 for k in fps if k not in before),
            "updated": sum(1 for k, v in fps.items() if k in before and before[k] != v),
            "removed": sum(1 for k in before if k not in fps)}


def current(studio, project_id: int, previous: dict[int, dict], erased: frozenset[str] = frozenset()) -> list[dict]:
    """The project's annotated tasks as snapshot entries. The first pull reads every task in
    full; later pulls read an index of annotation ids and update times, and fetch in full
    only the tasks whose fingerprint differs from the previous snapshot's."""
    if not previous:
        return entries(studio.tasks(project_id), erased)
    fps = {tid: fingerprint(anns) for tid, anns in studio.task_index(project_id).items() if anns}
    changed = [tid for tid, fp in fps.items() if previous.get(tid, {}).get("fingerprint") != fp]
    fresh = {e["task_id"]: e for e in entries(studio.tasks(project_id, ids=changed), erased)} if changed else {}
    # a changed task missing from `fresh` lost its annotations between the two reads, or is erased
    return [fresh[tid] if tid in fresh else previous[tid] for tid in fps
            if tid in fresh or (tid not in changed and tid in previous)]


def sync(studio, project_id: int, store: SnapshotStore, cursor: str | None,
         schema_version: str | None = None, erased: frozenset[str] = frozenset()) -> Snapshot | None:
    """One pull: a new snapshot if any task's annotations changed since `cursor`, else None.
    The caller moves its cursor to the snapshot id only after this returns, i.e. after the
    snapshot is stored."""
    previous = {t["task_id"]: t for t in store.load(cursor)["tasks"]} if cursor else {}
    now = current(studio, project_id, previous, erased)
    changes = compare(now, {tid: t["fingerprint"] for tid, t in previous.items()})
    if not any(changes.values()):
        return None
    return store.write(project_id, now, changes, cursor, schema_version)
