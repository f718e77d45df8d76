"""Where records that cannot be read go, with the rule they broke, so nothing is lost."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rejection:
    source: str
    line: int
    rule: str
    detail: str
    raw: str

    def message(self) -> str:
        return f"{self.source}:{self.line}: {self.rule}: {self.detail}"


class QuarantineWriter:
    """Appends rejections as JSONL; one file per ingestion so re-runs never mix."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("w", encoding="utf-8")
        self.count = 0

    def write(self, rejection: Rejection) -> None:
        self._fh.write(json.dumps(asdict(rejection), ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "QuarantineWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
