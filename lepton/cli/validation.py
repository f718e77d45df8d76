"""Parked batches: what failed a blocking contract, and re-validation after a fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from lepton.packaged import shipped
from lepton.settings import Settings
from lepton.stores import audit_for, lineage_for

EXPECTATIONS = shipped("expectations")


@click.group()
def validation() -> None:
    """Batches parked by a failed contract: list them, re-validate one after a fix."""


@validation.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def validation_list(as_json: bool) -> None:
    """Every parked batch with its suite, its failed rules and its report."""
    from lepton.validation.parking import Parking

    entries = Parking.in_workspace(Settings.from_env().home).list()
    if as_json:
        click.echo(json.dumps(entries, indent=1))
        return
    if not entries:
        click.echo("no parked batch")
    for e in entries:
        click.echo(f"{e['batch']}  suite {e['suite_key']}  parked {e['parked_at']}\n"
                   f"  failed: {'; '.join(e['failed_rules'])}\n  data:   {e['data']}\n  report: {e['report_html']}")


@validation.command("rerun")
@click.argument("batch")
@click.option("--expectations", "expectations_dir", type=click.Path(file_okay=False, path_type=Path),
              default=lambda: os.environ.get("LEPTON_EXPECTATIONS_DIR", str(EXPECTATIONS)), show_default=True,
              help="Folder of the contracts (the reviewed expectations/ of this checkout).")
def validation_rerun(batch: str, expectations_dir: Path) -> None:
    """Re-validate a parked BATCH as its data and contract are now; release it if it passes.

    Exit status 0 when released, 1 when it still fails (it stays parked, with a new report).
    """
    from lepton.lineage.events import StageLineage
    from lepton.validation.parking import Parking, rerun

    s = Settings.from_env()
    stage = StageLineage(lineage_for(s), run_id=None, code_version="validation-rerun")
    try:
        from lepton.annotation.schema import load_schema

        report, entry = rerun(Parking.in_workspace(s.home), batch, expectations_dir, stage,
                              load_schema(s.label_schema_file).names)
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    audit_for(s).append("validation.rerun", f"batch:{batch}", actor=f"cli:{os.environ.get('USER', '?')}",
                        suite=report.suite_key, success=report.success, evaluated=report.evaluated_rows,
                        failed_expectations=len(report.failed))
    click.echo(report.summary())
    click.echo(f"report: {entry['report_html']}")
    if not report.success:
        click.echo(f"{batch} stays parked", err=True)
        raise SystemExit(1)
    click.echo(f"{batch} released: downstream runs may use it now")
