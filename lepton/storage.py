"""Helpers for the embedded (SQLite) form of each store."""

from pathlib import Path


def ensure_sqlite_parent(url: str) -> None:
    """SQLite creates the file but not its folder; the workspace starts empty."""
    prefix = "sqlite:///"
    if url.startswith(prefix):
        Path(url[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
