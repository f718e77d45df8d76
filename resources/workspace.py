from pathlib import Path

import dagster as dg


class WorkspaceResource(dg.ConfigurableResource):
    """The git-ignored folder that holds every piece of local state."""

    home: str
    landing_url: str

    def path(self, *parts: str) -> Path:
        """A file path under the workspace, its folder created."""
        p = Path(self.home).joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def folder(self, *parts: str) -> Path:
        p = Path(self.home).joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p
