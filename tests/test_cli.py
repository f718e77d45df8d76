"""The chain driven from the shell, as a user would: `lepton sample`, `dagster asset
materialize`, `lepton lineage show`, `lepton report`."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _run(args, env, timeout=600):
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout, preexec_fn=_shell_umask)


def _shell_umask() -> None:
    os.umask(0o022)  # a usual shell's: what Lepton writes must be private all the same


def test_dagster_asset_materialize_from_the_shell(studio_env):
    out = _run(["lepton", "sample", "-n", "150", "--seed", "9"], studio_env)
    assert out.returncode == 0, out.stderr
    assert "wrote 120 documents" in out.stdout and "wrote 30 documents" in out.stdout

    keys = subprocess.run([sys.executable, "-m", "pipelines.batches", "register"], cwd=REPO, text=True,
                          capture_output=True, env={**os.environ, **studio_env}, preexec_fn=_shell_umask).stdout.split()
    assert len(keys) == 2
    for key in keys:
        run = _run(["dagster", "asset", "materialize", "-m", "pipelines.definitions", "--partition", key,
                    "--select", "raw_documents,quarantine,clean_documents,predictions,pii_findings,sensitivity,annotation_tasks"],
                   studio_env)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    _materialize_annotations(studio_env)
    run = _run(["dagster", "asset", "materialize", "-m", "pipelines.definitions",
                "--select", "dataset_version,ner_model,lineage_graph,registered_model,model_evaluation"], studio_env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "RUN_SUCCESS" in run.stdout + run.stderr

    show = _run(["lepton", "lineage", "show", "lepton-ner/1"], studio_env)
    assert show.returncode == 0, show.stderr
    lines = show.stdout.splitlines()
    assert lines[0].startswith("model_version lepton-ner/1")
    assert any("input_file sample-9.jsonl" in line for line in lines)
    assert any("input_file sample-9.conll" in line for line in lines)

    as_json = json.loads(_run(["lepton", "lineage", "show", "1", "--json"], studio_env).stdout)
    assert {n["kind"] for n in as_json} >= {"training_run", "dataset_version", "input_file"}

    report = _run(["lepton", "report"], studio_env)
    assert report.returncode == 0, report.stderr
    assert "Registered model: lepton-ner version 1" in report.stdout
    assert "mlflow ui --backend-store-uri" in report.stdout

    # DVC users see training metrics and plots declared in dvc.yaml with DVC's own commands
    dvc_repo = Path(studio_env["LEPTON_HOME"]) / "dvc" / "repo"
    metrics = subprocess.run([str(BIN / "dvc"), "metrics", "show", "--json"], cwd=dvc_repo,
                             capture_output=True, text=True)
    assert metrics.returncode == 0, metrics.stderr
    assert '"f1"' in metrics.stdout and "metrics/ner.json" in metrics.stdout
    f1 = float(re.search(r"test entity F1 = ([0-9.]+)", report.stdout).group(1))
    assert abs(json.loads((dvc_repo / "metrics" / "ner.json").read_text())["test"]["f1"] - f1) < 1e-4
    plots = subprocess.run([str(BIN / "dvc"), "plots", "show", "--json"], cwd=dvc_repo, capture_output=True, text=True)
    assert plots.returncode == 0 and "ner_training.csv" in plots.stdout, plots.stderr

    missing = _run(["lepton", "lineage", "show", "lepton-ner/9"], studio_env)
    assert missing.returncode != 0 and "no lineage node" in missing.stderr

    # the workspace is its owner's only: folders 0700, files 0600 (DVC makes its cache and
    # remote files read-only, 0444: they hold ciphertext only). The Dagster command writes its
    # install id and its own log before it loads the code location: those follow the shell.
    home = Path(studio_env["LEPTON_HOME"])
    dvc_store = (home / "dvc" / "repo" / ".dvc" / "cache", home / "dvc" / "remote")
    dagster_own = (home / "dagster" / ".telemetry", home / "dagster" / "logs")
    made = [p for p in home.rglob("*") if p != home / "dagster"  # the test made that one
            and not any(p.is_relative_to(d) for d in dagster_own)]

    def dvc_read_only(p: Path) -> bool:
        return p.is_file() and any(p.is_relative_to(d) for d in dvc_store) and p.stat().st_mode & 0o777 == 0o444
    loose = {str(p.relative_to(home)): oct(p.stat().st_mode & 0o777) for p in made
             if p.stat().st_mode & 0o077 and not dvc_read_only(p)}
    assert len(made) > 50 and loose == {}


def _materialize_annotations(env) -> str:
    """What the annotation sync sensor does, from the shell: pull a snapshot, run its partition."""
    pulled = subprocess.run([sys.executable, "-m", "pipelines.annotation_sync", "pull"], cwd=REPO, text=True,
                            capture_output=True, env={**os.environ, **env}, preexec_fn=_shell_umask)
    assert pulled.returncode == 0, pulled.stderr[-3000:]
    snapshot = pulled.stdout.split()[-1]
    run = _run(["dagster", "asset", "materialize", "-m", "pipelines.definitions", "--partition", snapshot,
                "--select", "annotations"], env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "annotations_contract" in run.stdout + run.stderr, "the validation gate ran in the annotation run"
    return snapshot


def test_dataset_and_key_commands_after_a_run(studio_env, tmp_path):
    assert _run(["lepton", "sample", "-n", "120", "--seed", "5", "--conll-share", "0"], studio_env).returncode == 0
    key = subprocess.run([sys.executable, "-m", "pipelines.batches", "register"], cwd=REPO, text=True,
                         capture_output=True, env={**os.environ, **studio_env}).stdout.strip()
    run = _run(["dagster", "asset", "materialize", "-m", "pipelines.definitions", "--partition", key, "--select",
                "raw_documents,clean_documents,predictions,pii_findings,sensitivity,annotation_tasks"], studio_env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    _materialize_annotations(studio_env)
    materialize = ["dagster", "asset", "materialize", "-m", "pipelines.definitions", "--select", "dataset_version"]
    dvc_repo = Path(studio_env["LEPTON_HOME"]) / "dvc" / "repo"
    # kill -9 in the DVC step: once tracked but not pushed, once pushed but not recorded. No
    # version is visible after either, and the run after them gives the id they were making.
    making = set()
    for point in ("dvc.added:ner", "dvc.pushed:ner"):
        killed = _run(materialize, {**studio_env, "LEPTON_FAILPOINTS": point})
        assert killed.returncode == -9, (point, killed.returncode, killed.stderr[-2000:])
        assert _run(["lepton", "dataset", "list"], studio_env).stdout.strip() == "", point
        making.add(re.search(r"md5: (\w+)\.dir", (dvc_repo / "datasets" / "ner.dvc").read_text()).group(1))
    run = _run(materialize, studio_env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    listing = _run(["lepton", "dataset", "list"], studio_env)
    assert listing.returncode == 0, listing.stderr
    [line] = listing.stdout.splitlines()
    version = line.split()[0]
    assert making == {version}

    restored = _run(["lepton", "dataset", "restore", version, str(tmp_path / "r1")], studio_env)
    assert restored.returncode == 0, restored.stderr
    assert "verified" in restored.stdout
    rows = sum(len((tmp_path / "r1" / f"{s}.jsonl").read_text().splitlines()) for s in ("train", "dev", "test"))
    printed = dict(re.findall(r"'(train|dev|test)': (\d+)", restored.stdout))
    assert rows == sum(int(v) for v in printed.values()) > 100

    # DVC's own commands see the dataset artifact declared in dvc.yaml
    status = subprocess.run([str(BIN / "dvc"), "data", "status", "--json"], cwd=dvc_repo, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr

    live_keys = _run(["lepton", "keys", "list"], studio_env).stdout.count("state=active")
    rot = _run(["lepton", "keys", "rotate-kek"], studio_env)
    assert rot.returncode == 0 and f"re-wrapped {live_keys} data keys" in rot.stdout, rot.stderr
    again = _run(["lepton", "dataset", "restore", version, str(tmp_path / "r2")], studio_env)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "r2" / "train.jsonl").read_bytes() == (tmp_path / "r1" / "train.jsonl").read_bytes()

    dk = _run(["lepton", "dataset", "rotate-key"], studio_env)
    assert dk.returncode == 0, dk.stderr
    new_version = dk.stdout.split(" as ")[1].split()[0]
    assert new_version != version
    old = _run(["lepton", "dataset", "restore", version, str(tmp_path / "r3")], studio_env)
    assert old.returncode != 0 and "retired" in old.stderr
    new = _run(["lepton", "dataset", "restore", new_version, str(tmp_path / "r4")], studio_env)
    assert new.returncode == 0, new.stderr
    assert (tmp_path / "r4" / "test.jsonl").read_bytes() == (tmp_path / "r1" / "test.jsonl").read_bytes()
    keys = _run(["lepton", "keys", "list"], studio_env).stdout
    assert "state=retired" in keys and "state=active" in keys


def test_the_demo_command_runs_the_loop_with_the_scripted_annotator(studio_env):
    """`make demo`'s command, small: sample, push, scripted annotators, pull, dataset, model."""
    out = _run(["lepton", "demo", "--docs", "100"], {**studio_env, "LEPTON_INPUT_LABELS": "predictions"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "A SCRIPTED ANNOTATOR (a stand-in for people" in out.stdout
    done = re.search(r"scripted annotators: (\d+) annotations on (\d+) tasks, (\d+) second opinions, "
                     r"(\d+) disagreements", out.stdout)
    assert done and int(done.group(2)) > 0 and int(done.group(4)) > 0
    assert "annotation snapshot" in out.stdout and "Registered model: lepton-ner version 1" in out.stdout

