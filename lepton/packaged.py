"""The reviewed files the code reads (policy/, expectations/, dvc.yaml, the local Dagster
instance configuration, the lock) found through the installed package, not through the
checkout's folders: `lepton/files/` links to the top-level copies people edit and review, and
a built wheel carries the files themselves, so an installed Lepton runs without a checkout."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped(relative: str) -> Path:
    """A shipped file or folder, e.g. `shipped("policy/labels.yaml")`. Wheels install unzipped,
    so the package's resources are plain files with a path other tools (DVC, GX) can open."""
    return Path(str(files("lepton").joinpath("files", relative)))
