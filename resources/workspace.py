from pathlib import Path

import dagster as dg

from lepton.workspace import Layout, WorkTree


class WorkspaceResource(dg.ConfigurableResource):
    """The git-ignored folder that holds every piece of local state; its paths are named by
    lepton.workspace.Layout, and assets ask for a file or folder to be made there."""

    home: str
    landing_url: str

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
