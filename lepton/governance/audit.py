"""An append-only, keyed hash chain of governance decisions.

Each entry carries the MAC of the one before it, so editing, inserting or removing an entry
breaks the chain; a separate head file (sequence number and last MAC) catches the removal of
entries from the end, which a chain alone cannot see. The MAC is HMAC-SHA256 under a key
derived from the master key: a bare hash chain and its head could be rewritten together by
anyone who can write the workspace. A head that lags its log by one entry (a crash between
writing the entry and moving the head) is recovered from the last entry, which the key
vouches for. Against someone who holds the key, heads are anchored where the workspace's
writer cannot change them (the lineage store, the review pack) and checked against the log.
Entries name subjects by id (record id, batch id, key id), never the personal data itself.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

GENESIS = "0" * 64


def audit_key(master: bytes) -> bytes:
    """The chain's key, derived from the master key (never the master key itself)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"lepton-audit-chain").derive(master)


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    problem: str | None = None
    note: str | None = None


class AuditLog:
    def __init__(self, path: Path, key: bytes):
        self.path = Path(path)
        self.head_path = self.path.with_suffix(".head")
        self._key = key

    def mac(self, entry: dict) -> str:
        body = {k: v for k, v in entry.items() if k != "hash"}
        return hmac.new(self._key, json.dumps(body, sort_keys=True, ensure_ascii=False).encode(),
                        hashlib.sha256).hexdigest()

    def head(self) -> tuple[int, str]:
        """(sequence, MAC) of the last entry: what an anchor records."""
        return self._read_head()

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
                seq, prev = self._recovered_head()
                entry = {"seq": seq + 1, "at": datetime.now(timezone.utc).isoformat(), "actor": actor,
                         "action": action, "subject": subject, "details": details, "prev": prev}
                entry["hash"] = self.mac(entry)
                fh.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                tmp = self.head_path.with_suffix(".head.tmp")
                tmp.write_text(json.dumps({"seq": entry["seq"], "hash": entry["hash"]}))
                os.replace(tmp, self.head_path)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry

    def _last(self) -> dict | None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        with self.path.open("rb") as fh:
            fh.seek(max(0, self.path.stat().st_size - (1 << 20)))
            lines = [line for line in fh.read().splitlines() if line.strip()]
        return json.loads(lines[-1]) if lines else None

    def _recovered_head(self) -> tuple[int, str]:
        """The head, or the last entry when the head lags it by exactly that entry and the
        entry is keyed and chains to the head (a crash after the entry was synced)."""
        seq, mac = self._read_head()
        last = self._last()
        if last is not None and last.get("seq") == seq + 1 and last.get("prev") == mac and \
                hmac.compare_digest(self.mac(last), str(last.get("hash"))):
            return last["seq"], last["hash"]
        return seq, mac

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def verify(self, anchors: list[tuple[int, str]] = ()) -> VerifyResult:
        """The chain, its head, and each anchor (sequence, MAC) recorded elsewhere."""
        prev, n = GENESIS, 0
        at: dict[int, str] = {}
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
                    if not hmac.compare_digest(self.mac(entry), str(entry.get("hash"))):
                        return VerifyResult(False, n, f"line {line_no}: MAC mismatch (entry {n} was edited, "
                                                      "or the log was written under another key)")
                    prev = entry["hash"]
                    at[n] = prev
        head_seq, head_hash = self._read_head()
        note = None
        if (head_seq, head_hash) != (n, prev):
            if n == head_seq + 1 and at.get(head_seq, GENESIS) == head_hash:
                note = f"head recovered from entry {n} (the head was not moved after it was written)"
            else:
                return VerifyResult(False, n, f"log ends at entry {n} but its head records entry {head_seq} "
                                              "(entries were removed from the end, or the head was altered)")
        for seq, mac in anchors:
            if at.get(seq) != mac:
                return VerifyResult(False, n, f"the anchor at entry {seq} does not match the log "
                                              "(its past was rewritten, or entries were removed)")
        return VerifyResult(True, n, note=note)


ANCHOR = "audit_anchor"  # the lineage node kind, and the MLflow model version tag


def anchor(log: AuditLog, store) -> tuple[int, str]:
    """Records the log's head in the lineage store (`store`: a LineageStore; PostgreSQL in a
    deployment, out of reach of whoever writes the workspace); returns it."""
    seq, mac = log.head()
    if seq:
        store.add_node(ANCHOR, str(seq), seq=seq, mac=mac)
    return seq, mac


def anchors(store) -> list[tuple[int, str]]:
    return [(int(n.attrs["seq"]), n.attrs["mac"]) for n in store.find(ANCHOR)]
