"""The demo: sample data, the whole pipeline through the dg command line, the report.

The core never imports dagster, so Dagster is driven as a user would drive it: through
`python -m pipelines.batches register`, `python -m pipelines.annotation_sync pull` and
`dg launch --assets` in subprocesses. People are played by a scripted annotator,
and the demo says so wherever it shows up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from lepton.annotation import scripted
from lepton.cli.data import sample
from lepton.cli.lineage import report
from lepton.packaged import shipped
from lepton.settings import Settings
from lepton.stores import studio_for

BATCH_ASSETS = "raw_documents,quarantine,clean_documents,predictions,pii_findings,sensitivity,annotation_tasks"
DATASET_ASSETS = "dataset_version,ner_model,lineage_graph,registered_model,model_evaluation"


def run_pipeline(s: Settings, echo=click.echo) -> None:
    """What the sensors and a person at the shell would do: register the new landing files
    as batch partitions and materialise each (its tasks go to Label Studio); let the
    scripted annotator work; pull the annotations as a snapshot and run it through its
    gate; then the dataset and the model."""
    env = {**os.environ, "LEPTON_HOME": str(s.home), "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(s.dagster_home))}
    instance_yaml = Path(env["DAGSTER_HOME"]) / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped("dagster.local.yaml"), instance_yaml)
    bin_dir = Path(sys.executable).parent

    def run(cmd: list[str], capture: bool = False) -> str:
        echo("$ " + " ".join(cmd))
        proc = subprocess.run(cmd, env=env, capture_output=capture, text=True)
        if proc.returncode != 0:
            raise click.ClickException(f"{cmd[0]} failed (exit {proc.returncode})"
                                       + (f": {proc.stderr[-2000:]}" if capture else "; see the log above"))
        return proc.stdout if capture else ""

    keys = run([sys.executable, "-m", "pipelines.batches", "register"], capture=True).split()
    echo(f"registered {len(keys)} new batches: {', '.join(keys) or '(none)'}")
    quiet = json.dumps({"loggers": {"console": {"config": {"log_level": "INFO"}}}})
    # dg launch, the non-superseded form of `dagster asset materialize` (which keeps working and
    # is tested), pointed at the code location's module, so it runs from any folder; in a
    # checkout, `dg launch` alone finds it through [tool.dg] in pyproject.toml
    materialize = [str(bin_dir / "dg"), "launch", "-m", "pipelines.definitions", "--config-json", quiet]
    for key in keys:
        run(materialize + ["--assets", BATCH_ASSETS, "--partition", key])
    studio = studio_for(s)
    project = studio.find_project(s.ls_project)
    if project is not None:
        echo("** A SCRIPTED ANNOTATOR (a stand-in for people, not a person) now works through the Label Studio "
             "API: annotator A confirms each pre-annotation, annotator B gives a second opinion on every 4th task "
             "and disagrees on some of them. **")
        done = scripted.annotate(studio, project)
        echo(f"scripted annotators: {done['annotations']} annotations on {done['tasks']} tasks, "
             f"{done['second_opinions']} second opinions, {done['disagreements']} disagreements")
    for snapshot in run([sys.executable, "-m", "pipelines.annotation_sync", "pull"], capture=True).split():
        echo(f"annotation snapshot {snapshot} pulled from Label Studio")
        run(materialize + ["--assets", "annotations", "--partition", snapshot])
    run(materialize + ["--assets", DATASET_ASSETS])


@click.command()
@click.option("-n", "--docs", type=click.IntRange(100, 1_000_000), default=2000, show_default=True)
@click.option("--seed", type=int, default=13, show_default=True)
def demo(docs: int, seed: int) -> None:
    """Generate a sample corpus, run the whole chain through the dagster CLI with a scripted
    annotator in Label Studio, report. Needs a running server (`make demo` starts one)."""
    if not os.environ.get("LABEL_STUDIO_URL") or not os.environ.get("LABEL_STUDIO_API_KEY"):
        raise click.ClickException("the demo needs a Label Studio server: run `make demo`, or start one with "
                                   "scripts/label-studio.sh start and export what scripts/label-studio.sh env prints")
    s = Settings.from_env()
    ctx = click.get_current_context()
    ctx.invoke(sample, out_dir=s.landing_dir, docs=docs, seed=seed, conll_share=0.2)
    run_pipeline(s)
    ctx.invoke(report)
    click.echo(f"\nLabel Studio: {os.environ['LABEL_STUDIO_URL']}/projects (user lepton@localhost, password in "
               f"{Path(os.environ.get('LS_HOME', s.home / 'label-studio')) / 'token'}); stop it with "
               "scripts/label-studio.sh stop")
