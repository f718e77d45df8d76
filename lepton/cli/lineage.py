"""Steward queries: lineage and the after-run report."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lepton.settings import Settings
from lepton.stores import lineage_for


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

    store = lineage_for(Settings.from_env())
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


def _stores():
    from lepton.lineage.ledger import RecordLedger

    store = lineage_for(Settings.from_env())
    return store, RecordLedger(store)


def _emit(data: dict, as_json: bool, lines) -> None:
    click.echo(json.dumps(data, indent=1, default=str) if as_json else "\n".join(lines(data)))


@lineage.command("upstream")
@click.argument("ref")
@click.option("--records", "with_records", is_flag=True, help="List the record ids, not only their counts.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def lineage_upstream(ref: str, with_records: bool, as_json: bool) -> None:
    """What went into a model version (NAME/VERSION, VERSION or a node id), down to its records."""
    from lepton.lineage.queries import upstream_of

    store, ledger = _stores()
    try:
        data = upstream_of(store, ledger, _model_node(store, ref), with_records)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(data, as_json, lambda d: [f"{'  ' * c['depth']}{c['node']}" + (
        f"  <-[{c['edge']}] run {c['pinned']['run_id']}" if c["pinned"] else "") for c in d["chain"]] + [
        f"{ds['node']}: " + ", ".join(f"{k} {v}" for k, v in sorted(ds["records_by_split"].items())) + " records"
        for ds in d["dataset_versions"]])


@lineage.command("downstream")
@click.argument("record_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def lineage_downstream(record_id: str, as_json: bool) -> None:
    """Every dataset version, training run and model version that holds or used RECORD_ID."""
    from lepton.lineage.queries import downstream_of_record

    store, ledger = _stores()
    data = downstream_of_record(store, ledger, record_id)
    _emit(data, as_json, lambda d: [f"record {d['record']}"] + [
        f"  in {v['node']} ({v['split']})" for v in d["dataset_versions"]] + [
        f"  -> {v['node']}" for v in d["derived_datasets"] + d["training_runs"] + d["model_versions"]] + [
        f"  erased by {e}" for e in d["erasures"]]
        if d["dataset_versions"] else [f"record {d['record']} is in no dataset version"])


@lineage.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def lineage_diff(a: str, b: str, as_json: bool) -> None:
    """Records added, removed and moved between two dataset versions (or two model versions)."""
    from lepton.lineage.queries import dataset_node, diff

    store, ledger = _stores()

    def ref(x: str) -> str:
        return _model_node(store, x) if "/" in x or x.startswith("model_version:") else dataset_node(x)

    try:
        data = diff(store, ledger, ref(a), ref(b))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(data, as_json, lambda d: [f"{d['a']} -> {d['b']}: {len(d['added'])} added, {len(d['removed'])} removed, "
                                    f"{len(d['moved_split'])} moved split"] + ([
        f"  labels added {d['schema_changes']['labels_added']}, removed {d['schema_changes']['labels_removed']}"]
        if d["schema_changes"] else []) + [
        f"  {k}: {v['a']} -> {v['b']}" for k, v in d["attributes_changed"].items()])


@lineage.command("who")
@click.argument("subject")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def lineage_who(subject: str, as_json: bool) -> None:
    """Who touched SUBJECT (a record, batch or version id): the audit log's entries naming it."""
    from lepton.lineage.queries import who_touched
    from lepton.stores import audit_for

    found = who_touched(audit_for(Settings.from_env()).entries(), subject)
    _emit({"subject": subject, "entries": found}, as_json, lambda d: [
        f"{e['at']}  {e['actor']}  {e['action']}  {e['subject']}" for e in d["entries"]] or [f"nothing names {subject}"])


def _model_ref(s: Settings, ref: str) -> tuple[str, int]:
    name, _, version = (ref if "/" in ref else f"{s.model_name}/{ref}").rpartition("/")
    return name, int(version)


@lineage.command("review-pack")
@click.argument("ref")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write (default: work/review/NAME-VERSION.html).")
@click.option("--screenshot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also render it in headless Chromium and save a PNG here.")
def lineage_review_pack(ref: str, out: Path | None, screenshot: Path | None) -> None:
    """The steward review pack of model version REF: one self-contained HTML page."""
    from lepton.annotation.schema import load_schema
    from lepton.lineage.pack import write_pack
    from lepton.stores import dvc_for, mlflow_for

    s = Settings.from_env()
    name, version = _model_ref(s, ref)
    store, _ = _stores()
    out = out or s.layout.work.review_pack(name, version)
    try:
        write_pack(store, mlflow_for(s), dvc_for(s), s.layout.work, name, version, out, s.min_agreement_f1,
                   load_schema(s.label_schema_file))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"review pack of {name}/{version}: {out}")
    if screenshot:
        from lepton.lineage.browser import screenshot as shoot

        shoot(out, screenshot, height=4200)
        click.echo(f"screenshot (headless Chromium): {screenshot}")


@lineage.command("sign-off")
@click.argument("ref")
@click.option("--approve", "status", flag_value="approved", help="Approve the model version.")
@click.option("--reject", "status", flag_value="rejected", help="Reject it.")
@click.option("--by", "by", required=True, help="The steward signing.")
@click.option("--note", default="", help="Why.")
@click.option("--pack", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The review pack read (default: work/review/NAME-VERSION.html if it exists); its hash is pinned.")
def lineage_sign_off(ref: str, status: str | None, by: str, note: str, pack: Path | None) -> None:
    """Record a steward's decision on model version REF in lineage and the audit log."""
    from lepton.lineage.pack import SignOffRefused, sign_off
    from lepton.stores import audit_for, mlflow_for

    if status is None:
        raise click.ClickException("say --approve or --reject")
    s = Settings.from_env()
    name, version = _model_ref(s, ref)
    default = s.layout.work.review_pack(name, version)
    store, _ = _stores()
    try:
        nid = sign_off(store, audit_for(s), mlflow_for(s), name, version, status, by, note,
                       pack or (default if default.exists() else None))
    except (SignOffRefused, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{name}/{version} {status} by {by}: {nid}")


@click.command("reproduce")
@click.argument("ref")
@click.option("--tolerance", type=float, default=0.005, show_default=True, help="Largest F1 difference that matches.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reproduce_cmd(ref: str, tolerance: float, as_json: bool) -> None:
    """Re-train model version REF (NAME/VERSION or VERSION) from its recorded commit, settings,
    seed and dataset version; exit 1 unless test and dev F1 come back within the tolerance."""
    from lepton.ner.reproduce import reproduce
    from lepton.stores import dvc_for, keyring_for, mlflow_for

    s = Settings.from_env()
    name, version = _model_ref(s, ref)
    store = mlflow_for(s)

    out = reproduce(store, dvc_for(s), keyring_for(s), name, version, tolerance,
                    progress=lambda line: click.echo(line, err=True), lineage=lineage_for(s))
    _emit(out, as_json, lambda d: [
        f"{d['model_version']} (run {d['run_id']}, dataset {d['dataset_version']}, seed {d['seed']})",
        f"  annotation snapshots (lineage): {', '.join(d['lineage']['annotation_snapshots']) or 'none'}; "
        f"lineage and MLflow {'agree' if d['lineage']['agrees_with_mlflow'] else 'DISAGREE'}",
        f"  git commit {'same' if d['git_commit']['same'] else 'DIFFERENT'}: {d['git_commit']['recorded']}",
        f"  lock file  {'same' if d['lock_sha256']['same'] else 'DIFFERENT'}"] + [
        f"  {k}: recorded {v['recorded']}, reproduced {v['reproduced']:.4f}" for k, v in d["metrics"].items()] + [
        f"  {'MATCH' if d['match'] else 'NO MATCH'} within {d['tolerance']}"])
    if not out["match"]:
        raise SystemExit(1)


@click.command()
def report() -> None:
    """Where to look after a run: the champion model, its F1, the UIs and its lineage."""
    from lepton.stores import mlflow_for

    s = Settings.from_env()
    store = mlflow_for(s)
    champ = store.champion()
    click.echo("")
    if champ is None:
        click.echo(f"No champion: no version of {s.model_name} has passed the promotion gate ({s.promotion_policy.name}).")
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
        click.echo(lineage_for(s).render_upstream(f"model_version:{champ['name']}/{champ['version']}"))
