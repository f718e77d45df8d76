"""Helpers for the embedded (SQLite) form of each store."""

from pathlib import Path


def sqlite_path(url: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(url[len(prefix):]) if url.startswith(prefix) else None


def ensure_sqlite_parent(url: str) -> None:
    """SQLite creates the file but not its folder; the workspace starts empty."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
