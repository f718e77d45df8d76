"""An append-only, hash-chained audit log of governance decisions.

Each entry carries the hash of the one before it, so editing, inserting or removing an
entry breaks the chain; a separate head file (sequence number and last hash) catches the
removal of entries from the end, which a chain alone cannot see. Entries name subjects by
id (record id, batch id, key id) and never carry the personal data they are about.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

GENESIS = "0" * 64


def _entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    problem: str | None = None


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.head_path = self.path.with_suffix(".head")

    def _read_head(self) -> tuple[int, str]:
        if not self.head_path.exists():
            return 0, GENESIS
        head = json.loads(self.head_path.read_text())
        return head["seq"], head["hash"]

    def append(self, action: str, subject: str, actor: str = "lepton", **details) -> dict:
        """Serialised across processes with an exclusive lock on the log file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                seq, prev = self._read_head()
                entry = {"seq": seq + 1, "at": datetime.now(timezone.utc).isoformat(), "actor": actor,
                         "action": action, "subject": subject, "details": details, "prev": prev}
                entry["hash"] = _entry_hash(entry)
                fh.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                tmp = self.head_path.with_suffix(".head.tmp")
                tmp.write_text(json.dumps({"seq": entry["seq"], "hash": entry["hash"]}))
                os.replace(tmp, self.head_path)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def verify(self) -> VerifyResult:
        prev, n = GENESIS, 0
        if self.path.exists():
            with self.path.open(encoding="utf-8") as fh:
                for line_no, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        return VerifyResult(False, n, f"line {line_no}: not valid JSON")
                    n += 1
                    if entry.get("seq") != n:
                        return VerifyResult(False, n, f"line {line_no}: sequence {entry.get('seq')}, expected {n} "
                                                      "(an entry was inserted or removed)")
                    if entry.get("prev") != prev:
                        return VerifyResult(False, n, f"line {line_no}: does not chain to the entry before "
                                                      "(an entry was inserted, removed or edited)")
                    if _entry_hash(entry) != entry.get("hash"):
                        return VerifyResult(False, n, f"line {line_no}: hash mismatch (entry {n} was edited)")
                    prev = entry["hash"]
        head_seq, head_hash = self._read_head()
        if (head_seq, head_hash) != (n, prev):
            return VerifyResult(False, n, f"log ends at entry {n} but its head records entry {head_seq} "
                                          "(entries were removed from the end, or the head was altered)")
        return VerifyResult(True, n)
