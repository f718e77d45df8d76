"""Run facts every asset stamps on its lineage edges."""

import dagster as dg

from lepton.lineage.events import StageLineage
from resources import LineageResource


def stage_lineage(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, lineage: LineageResource, code_version: str) -> StageLineage:
    return StageLineage(lineage.store, run_id=context.run.run_id, code_version=code_version)
