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


def _keyring(s: Settings):
    from lepton.crypto.keyring import Keyring, load_master_key

    return Keyring(s.home / "keys" / "keyring.json", load_master_key(s.key_file, create=False))


def _dvc(s: Settings):
    from lepton.datasets.dvc_store import DvcStore

    return DvcStore(s.dvc_repo, s.dvc_remote)


@main.group()
def dataset() -> None:
    """Encrypted, DVC-versioned dataset versions."""


@dataset.command("list")
@click.option("--name", default="ner", show_default=True)
def dataset_list(name: str) -> None:
    """Versions of a dataset, oldest first."""
    for v in _dvc(Settings.from_env()).versions(name):
        click.echo(f"{v['version']}  {v['recorded_at'][:19]}  key={v['key_id']}  rows={v.get('rows')}  "
                   f"merkle={v['merkle_root'][:16]}")


@dataset.command("restore")
@click.argument("version")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
def dataset_restore(version: str, target: Path) -> None:
    """Fetch VERSION from the DVC remote, verify it and decrypt it into TARGET."""
    import tempfile

    from lepton.crypto.envelope import DecryptionError
    from lepton.crypto.keyring import KeyringError
    from lepton.datasets.version import IntegrityError, decrypt_verified

    s = Settings.from_env()
    if target.exists() and any(target.iterdir()):
        raise click.ClickException(f"{target} is not empty")
    with tempfile.TemporaryDirectory(prefix="lepton-restore-", dir=s.home) as tmp:
        fetched = _dvc(s).fetch_directory(version.removesuffix(".dir"), Path(tmp) / "ciphertext")
        try:
            manifest = decrypt_verified(fetched, _keyring(s), target)
        except (DecryptionError, IntegrityError, KeyringError) as exc:
            raise click.ClickException(str(exc)) from None
    rows = {k: v["rows"] for k, v in manifest["splits"].items()}
    click.echo(f"restored {manifest['dataset']} version {version} into {target}: {rows}, "
               f"Merkle root {manifest['merkle_root']} verified")


@dataset.command("rotate-key")
@click.option("--name", default="ner", show_default=True)
def dataset_rotate_key(name: str) -> None:
    """Re-encrypt the current version under a new data key and retire the old key."""
    from lepton.datasets.version import reencrypt_under_new_key
    from lepton.lineage.store import LineageStore

    s = Settings.from_env()
    store = _dvc(s)
    versions = store.versions(name)
    if not versions:
        raise click.ClickException(f"dataset {name} has no versions yet")
    work = s.dvc_repo / "datasets" / name
    manifest = reencrypt_under_new_key(work, _keyring(s))
    tracked = store.add_and_push(work)
    new = tracked["md5"].removesuffix(".dir")
    rows = {k: v["rows"] for k, v in manifest["splits"].items()}
    store.record_version(name, new, key_id=manifest["key_id"], merkle_root=manifest["merkle_root"], rows=rows,
                         reencrypted_from=versions[-1]["version"])
    lineage = LineageStore(s.lineage_url)
    nid = lineage.add_node("dataset_version", new, dataset=name, key_id=manifest["key_id"],
                           merkle_root=manifest["merkle_root"])
    old = f"dataset_version:{versions[-1]['version']}"
    if lineage.get(old) is not None:
        lineage.add_edge(old, nid, "reencrypted-from")
    click.echo(f"{name}: version {versions[-1]['version']} re-encrypted as {new} under {manifest['key_id']}; "
               f"the previous key is retired")


@main.group()
def keys() -> None:
    """The master key and the data keys it wraps."""


@keys.command("list")
def keys_list() -> None:
    ring = _keyring(Settings.from_env())
    click.echo(f"master key {ring.kek_id}")
    for key_id, e in sorted(ring.entries().items()):
        click.echo(f"{key_id}  dataset={e['dataset']}  state={e['state']}  wrapped-by={e['kek_id']}")


@keys.command("rotate-kek")
def keys_rotate_kek() -> None:
    """Generate a new master key and re-wrap every data key under it; data is untouched."""
    import base64

    from lepton.crypto.keyring import MASTER_KEY_ENV, new_master_key_file

    s = Settings.from_env()
    if os.environ.get(MASTER_KEY_ENV):
        raise click.ClickException(f"the master key comes from {MASTER_KEY_ENV}: rotate it in the system "
                                   "that sets it, using Keyring.rotate_kek from a script")
    ring = _keyring(s)
    staged = s.key_file.with_name(s.key_file.name + ".new")
    new_master_key_file(staged)  # kept until the keyring is re-wrapped, so a crash loses nothing
    n = ring.rotate_kek(base64.b64decode(staged.read_bytes().strip()))
    os.replace(staged, s.key_file)
    click.echo(f"re-wrapped {n} data keys under {ring.kek_id}; the old master key is gone")


@keys.command("shred")
@click.argument("key_id")
@click.confirmation_option(prompt="Destroying a data key makes every dataset version under it unreadable. Continue?")
def keys_shred(key_id: str) -> None:
    """Crypto-shred: destroy a data key so the data encrypted under it can never be read."""
    _keyring(Settings.from_env()).destroy(key_id)
    click.echo(f"{key_id} destroyed")


@main.group("quarantine")
def quarantine_cmd() -> None:
    """Records that ingestion or cleaning refused."""


def _quarantine_files(s: Settings, batch: str | None) -> list[Path]:
    work = s.home / "work"
    files = sorted(work.glob("raw/*/quarantine.jsonl")) + sorted(work.glob("clean/*/quarantine.jsonl"))
    return [f for f in files if batch is None or f.parent.name == batch]


@quarantine_cmd.command("list")
@click.option("--batch", default=None, help="Only this record batch.")
def quarantine_list(batch: str | None) -> None:
    """Quarantined records by batch, file, line and rule (no raw text)."""
    from lepton.corpus.quarantine import read_quarantine

    for path in _quarantine_files(Settings.from_env(), batch):
        for e in read_quarantine(path):
            click.echo(f"{path.parent.name}  {path.parent.parent.name:<5}  {e['source']}:{e['line']}  {e['rule']}: {e['detail']}")


@quarantine_cmd.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--batch", default=None, help="Only this record batch.")
def quarantine_export(out: Path, batch: str | None) -> None:
    """Decrypt quarantined records into OUT (JSONL) for fixing; the read is audited."""
    from lepton.corpus.quarantine import read_quarantine
    from lepton.crypto.fields import FieldCipher
    from lepton.crypto.keyring import write_private

    s = Settings.from_env()
    cipher = FieldCipher(_keyring(s), "quarantine")
    entries = [e for p in _quarantine_files(s, batch) for e in read_quarantine(p, reveal=cipher.decrypt)]
    write_private(out, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries).encode())
    _audit(s).append("read.quarantine", f"quarantine:{batch or 'all'}", actor=f"cli:{os.environ.get('USER', '?')}",
                     records=len(entries), exported_to=str(out))
    click.echo(f"exported {len(entries)} records to {out} (mode 0600); fix 'raw' and run `lepton quarantine reprocess`")


@quarantine_cmd.command("reprocess")
@click.argument("fixed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def quarantine_reprocess(fixed: Path) -> None:
    """Re-read fixed records with their file's rules; those that pass go to the landing folder."""
    from lepton.corpus.reprocess import reprocess

    s = Settings.from_env()
    entries = [json.loads(line) for line in fixed.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = reprocess(entries, s.landing_url)
    _audit(s).append("quarantine.reprocess", f"file:{report.output.name if report.output else '-'}",
                     actor=f"cli:{os.environ.get('USER', '?')}", accepted=report.accepted,
                     still_failing=[r.message() for r in report.still_failing])
    for r in report.still_failing:
        click.echo(f"still quarantined: {r.message()}")
    click.echo(f"{len(report.accepted)} records re-ingest from {report.output}" if report.output
               else "no record passed; nothing written")


@main.group()
def audit() -> None:
    """The hash-chained audit log of governance decisions."""


def _audit(s: Settings):
    from lepton.governance.audit import AuditLog

    return AuditLog(s.home / "audit" / "audit.jsonl")


@audit.command("verify")
def audit_verify() -> None:
    """Check the chain and the head: exit 1 naming the first edited, inserted or removed entry."""
    result = _audit(Settings.from_env()).verify()
    if not result.ok:
        raise click.ClickException(f"audit log is NOT intact: {result.problem}")
    click.echo(f"audit log intact: {result.entries} entries")


@audit.command("show")
@click.option("--last", type=int, default=20, show_default=True)
def audit_show(last: int) -> None:
    for e in _audit(Settings.from_env()).entries()[-last:]:
        click.echo(f"{e['seq']:>6}  {e['at'][:19]}  {e['actor']:<24} {e['action']:<24} {e['subject']}")


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


BATCH_ASSETS = "raw_documents,quarantine,clean_documents,pii_findings,sensitivity,annotations"
DATASET_ASSETS = "dataset_version,ner_model,registered_model"


def run_pipeline(s: Settings, echo=click.echo) -> None:
    """What the landing sensor and a person at the shell would do: register the new landing
    files as batch partitions, materialise each batch, then the dataset and the model.
    Driven through the `dagster` CLI in subprocesses, since the core never imports dagster."""
    env = {**os.environ, "LEPTON_HOME": str(s.home), "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(s.dagster_home))}
    repo_root = Path(__file__).resolve().parent.parent
    instance_yaml = Path(env["DAGSTER_HOME"]) / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(repo_root / "deploy" / "dagster.local.yaml", instance_yaml)
    bin_dir = Path(sys.executable).parent

    def run(cmd: list[str], capture: bool = False) -> str:
        echo("$ " + " ".join(cmd))
        proc = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=capture, text=True)
        if proc.returncode != 0:
            raise click.ClickException(f"{cmd[0]} failed (exit {proc.returncode})"
                                       + (f": {proc.stderr[-2000:]}" if capture else "; see the log above"))
        return proc.stdout if capture else ""

    keys = run([sys.executable, "-m", "pipelines.batches", "register"], capture=True).split()
    echo(f"registered {len(keys)} new batches: {', '.join(keys) or '(none)'}")
    quiet = json.dumps({"loggers": {"console": {"config": {"log_level": "INFO"}}}})
    materialize = [str(bin_dir / "dagster"), "asset", "materialize", "-m", "pipelines.definitions",
                   "--config-json", quiet]
    for key in keys:
        run(materialize + ["--select", BATCH_ASSETS, "--partition", key])
    run(materialize + ["--select", DATASET_ASSETS])


@main.command()
@click.option("-n", "--docs", type=click.IntRange(100, 1_000_000), default=2000, show_default=True)
@click.option("--seed", type=int, default=13, show_default=True)
def demo(docs: int, seed: int) -> None:
    """Generate a sample corpus, run the whole chain through the dagster CLI, report."""
    s = Settings.from_env()
    ctx = click.get_current_context()
    ctx.invoke(sample, out_dir=s.landing_dir, docs=docs, seed=seed, conll_share=0.2)
    run_pipeline(s)
    ctx.invoke(report)


if __name__ == "__main__":
    main()
