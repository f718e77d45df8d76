from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from lepton import workspace_lock
from lepton.workspace import Layout, WorkTree


class WorkspaceResource(dg.ConfigurableResource):
    """The git-ignored folder that holds every piece of local state; its paths are named by
    lepton.workspace.Layout, and assets ask for a file or folder to be made there. A run
    holds the workspace lock shared for as long as it executes, so no erasure rewrites its
    files under it and none starts while an erasure runs (it waits `lock_wait_seconds`)."""

    home: str
    landing_url: str
    lock_wait_seconds: float = 600.0

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["WorkspaceResource"]:
        if context.dagster_run is None:  # a sensor tick, not a run: sensors ask `busy` and skip
            yield self
            return
        with workspace_lock.shared(self.layout.lock, self.lock_wait_seconds):
            yield self

    @property
    def busy(self) -> bool:
        """An erasure holds the workspace: a sensor skips its tick."""
        return workspace_lock.busy(self.layout.lock)

    @property
    def layout(self) -> Layout:
        return Layout(Path(self.home))

    @property
    def work(self) -> WorkTree:
        return self.layout.work

    @staticmethod
    def file(path: Path) -> Path:
        """`path`, its folder created."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def folder(path: Path) -> Path:
        """`path`, created as a folder."""
        path.mkdir(parents=True, exist_ok=True)
        return path
