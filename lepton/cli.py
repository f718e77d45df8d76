"""The `lepton` command: sample data, the demo run, and steward queries.

The CLI never imports dagster (the core's rule); `lepton demo` drives Dagster the way a
user would, through `dagster asset materialize` in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from lepton.settings import Settings


@click.group()
def main() -> None:
    """Lepton: a governed NER data-and-model pipeline."""


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write into (default: the landing folder from settings).")
@click.option("-n", "--docs", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=13, show_default=True)
@click.option("--conll-share", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Share of documents written as CoNLL instead of JSONL.")
def sample(out_dir: Path | None, docs: int, seed: int, conll_share: float) -> None:
    """Write a seeded synthetic NER corpus (JSONL with character spans, and CoNLL)."""
    from lepton.corpus.sample import write_sample

    out_dir = out_dir or Settings.from_env().landing_dir
    for path, n in write_sample(out_dir, docs, seed=seed, conll_share=conll_share).items():
        click.echo(f"wrote {n} documents to {path}")


@main.group()
def lineage() -> None:
    """Query the governance lineage graph."""


def _model_node(store, ref: str) -> str:
    """Accepts NAME/VERSION, a bare VERSION of the configured model, or a full node id."""
    if ":" in ref:
        return ref
    if "/" not in ref:
        ref = f"{Settings.from_env().model_name}/{ref}"
    return f"model_version:{ref}"


@lineage.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def lineage_show(ref: str, as_json: bool) -> None:
    """Print the chain from a model version (e.g. lepton-ner/1, or 1) back to its input files."""
    from lepton.lineage.store import LineageStore

    store = LineageStore(Settings.from_env().lineage_url)
    nid = _model_node(store, ref)
    try:
        if as_json:
            click.echo(json.dumps([
                {"depth": d, "node": n.node_id, "kind": n.kind, "attrs": n.attrs, "edge": e, "child": c}
                for d, n, e, c in store.upstream(nid)], indent=1))
        else:
            click.echo(store.render_upstream(nid))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
def report() -> None:
    """Where to look after a run: the champion model, its F1, the UIs and its lineage."""
    from lepton.lineage.store import LineageStore
    from lepton.tracking.mlflow_store import MlflowStore

    s = Settings.from_env()
    store = MlflowStore(s.mlflow_tracking_uri, s.mlflow_experiment, s.mlflow_artifact_location, s.model_name)
    champ = store.champion()
    click.echo("")
    if champ is None:
        click.echo(f"No champion: no version of {s.model_name} has cleared the F1 floor ({s.f1_floor}).")
    else:
        click.echo(f"Registered model: {champ['name']} version {champ['version']} (alias 'champion'), "
                   f"test entity F1 = {champ['test_f1']:.4f}")
    click.echo("")
    click.echo("Where to look:")
    click.echo(f"  Dagster UI:  DAGSTER_HOME={s.dagster_home} .venv/bin/dagster dev -w workspace.yaml   "
               "(then http://127.0.0.1:3000)")
    click.echo(f"  MLflow UI:   .venv/bin/mlflow ui --backend-store-uri {s.mlflow_tracking_uri} "
               "--port 5000   (then http://127.0.0.1:5000)")
    if champ is not None:
        click.echo(f"  Lineage:     .venv/bin/lepton lineage show {champ['name']}/{champ['version']}")
        click.echo("")
        click.echo(LineageStore(s.lineage_url).render_upstream(f"model_version:{champ['name']}/{champ['version']}"))


@main.command()
@click.option("-n", "--docs", type=click.IntRange(100, 1_000_000), default=2000, show_default=True)
@click.option("--seed", type=int, default=13, show_default=True)
def demo(docs: int, seed: int) -> None:
    """Generate a sample corpus, run the whole chain with `dagster asset materialize`, report."""
    s = Settings.from_env()
    ctx = click.get_current_context()
    ctx.invoke(sample, out_dir=s.landing_dir, docs=docs, seed=seed, conll_share=0.2)
    env = {**os.environ, "LEPTON_HOME": str(s.home), "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(s.dagster_home))}
    repo_root = Path(__file__).resolve().parent.parent
    instance_yaml = Path(env["DAGSTER_HOME"]) / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(repo_root / "deploy" / "dagster.local.yaml", instance_yaml)
    cmd = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize",
           "-m", "pipelines.definitions", "--select", "*",
           "--config-json", json.dumps({"loggers": {"console": {"config": {"log_level": "INFO"}}}})]
    click.echo("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=repo_root, env=env)
    if proc.returncode != 0:
        raise click.ClickException(f"the pipeline run failed (exit {proc.returncode}); see the log above")
    ctx.invoke(report)


if __name__ == "__main__":
    main()
