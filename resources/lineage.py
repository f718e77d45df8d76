from functools import cached_property
from pathlib import Path

import dagster as dg

from lepton.lineage.openlineage import Emitter, standard_config_present, emitter_from_env
from lepton.lineage.store import LineageStore


class LineageResource(dg.ConfigurableResource):
    """SQLAlchemy URL of the lineage store: SQLite by default, PostgreSQL in production.

    `events_file`: where OpenLineage events go as JSON lines when OpenLineage is not configured
    the standard way (OPENLINEAGE_URL, OPENLINEAGE_CONFIG, ...); empty with no such
    configuration, no events are sent."""

    url: str
    events_file: str = ""

    @cached_property
    def store(self) -> LineageStore:
        return LineageStore(self.url)

    @cached_property
    def emitter(self) -> Emitter | None:
        if not self.events_file and not standard_config_present():
            return None
        return emitter_from_env(Path(self.events_file))
