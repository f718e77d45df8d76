from functools import cached_property

import dagster as dg

from lepton.lineage.store import LineageStore


class LineageResource(dg.ConfigurableResource):
    """SQLAlchemy URL of the lineage store: SQLite by default, PostgreSQL in production."""

    url: str

    @cached_property
    def store(self) -> LineageStore:
        return LineageStore(self.url)
