"""Steward queries: lineage and the after-run report."""

from __future__ import annotations

import json

import click

from lepton.settings import Settings


@click.group()
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


@click.command()
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
