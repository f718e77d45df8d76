"""Lepton's Dagster code location: jobs, sensors, schedules and the Definitions.

Every process that loads it (the webserver, the daemon, a run worker, `dagster asset
materialize`, `python -m pipelines...`) writes a private workspace, whatever its umask."""

from lepton.workspace import private_files

private_files()
