"""The landing zone as a set of immutable batches.

A file is identified by its content hash: a new file, or a file whose content changed,
is a new batch; a batch's key names the file and the hash, so nothing is processed
twice and nothing is overwritten. The landing location is a universal-pathlib URL, so
an object-store prefix (s3://bucket/landing) is configuration, not code. A batch is
snapshotted into the workspace on first ingestion, so a later change to the landing
file cannot alter it.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from upath import UPath

from lepton.corpus.formats import SIDECARS
from lepton.hashing import sha256_file
from lepton.workspace import Layout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandingFile:
    source: str   # path relative to the landing root, with "/" separators
    sha256: str
    size: int

    @property
    def batch_key(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.source)[-80:]
        return f"{slug}-{self.sha256[:12]}"


class ChangedSinceRegistration(Exception):
    pass



def scan(landing_url: str, seen: dict[str, str]) -> list[LandingFile]:
    """Files under the landing root whose content is not in `seen` (source -> sha256).
    Hidden files and folders (".partial", ".batches") are skipped: uploads in progress
    should be written under a dotted name and renamed when complete. Symbolic links are
    not followed (said, and skipped): one could bring any file the pipeline can read, a
    key file or another team's data, into the workspace and Label Studio."""
    root = UPath(landing_url)
    if not root.exists():
        return []
    found = []
    for path in sorted(root.rglob("*"), key=lambda p: str(p)):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in rel.split("/")) or path.name in SIDECARS:
            continue
        if path.is_symlink():
            log.warning(f"landing {rel} is a symbolic link; not followed, not ingested")
            continue
        if not path.is_file():
            continue
        digest = sha256_file(path)
        if seen.get(rel) != digest:
            found.append(LandingFile(rel, digest, path.stat().st_size))
    return found


class BatchRegistry:
    """Batch key -> the landing file and hash it stands for, in the workspace."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def in_workspace(cls, home: Path) -> "BatchRegistry":
        return cls(Layout(Path(home)).batch_registry)

    def register(self, f: LandingFile, landing_url: str) -> str:
        """The file's batch key. Bytes registered before (a file delivered again after it was
        changed, or after an erasure rewrote it) keep their batch, registered again now, so
        `seen` says what the landing zone holds."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{f.batch_key}.json"
        now = datetime.now(timezone.utc).isoformat()
        before = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**asdict(f), "landing": landing_url, "batch_key": f.batch_key, "registered_at": now,
                                    "first_registered_at": before.get("first_registered_at",
                                                                      before.get("registered_at", now))}))
        return f.batch_key

    def run_key(self, key: str) -> str:
        """The batch key for its first registration; with the time of a later one, so a
        file delivered again is run again (its batch reads the copy it made the first time,
        and an erasure since is applied to the file delivered)."""
        entry = self.get(key)
        again = entry.get("first_registered_at", entry["registered_at"]) != entry["registered_at"]
        return f"{key}@{entry['registered_at']}" if again else key

    def get(self, key: str) -> dict:
        path = self.root / f"{key}.json"
        if not path.exists():
            raise KeyError(f"batch {key} is not registered (no {path})")
        return json.loads(path.read_text())

    def seen(self) -> dict[str, str]:
        """source -> sha256 of the latest registration of each source."""
        out: dict[str, tuple[str, str]] = {}
        if self.root.exists():
            for p in self.root.glob("*.json"):
                e = json.loads(p.read_text())
                if e["source"] not in out or e["registered_at"] > out[e["source"]][1]:
                    out[e["source"]] = (e["sha256"], e["registered_at"])
        return {k: v[0] for k, v in out.items()}

    def snapshot(self, key: str, dest_dir: Path) -> Path:
        """The batch's file, copied once from the landing zone and verified against its hash."""
        entry = self.get(key)
        dest = Path(dest_dir) / entry["source"]
        if dest.exists():
            return dest
        src = UPath(entry["landing"]) / entry["source"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        with src.open("rb") as fin, tmp.open("wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        if sha256_file(UPath(tmp)) != entry["sha256"]:
            tmp.unlink()
            raise ChangedSinceRegistration(
                f"{entry['source']} changed after it was registered as batch {key}: the new content is a new "
                "batch (the landing sensor registers it); this batch can no longer be read from the landing zone")
        tmp.rename(dest)
        return dest
