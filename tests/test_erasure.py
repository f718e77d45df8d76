"""Erasure end to end: a record that went through the whole chain (Label Studio, a
dataset version in DVC, a registered model) is erased, and its text is then found in no
store the pipeline keeps."""

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from lepton.annotation.studio import Studio
from lepton.annotation.sync import SnapshotStore
from lepton.cli import main as cli
from lepton.corpus.sample import write_sample
from lepton.lineage.ledger import RecordLedger
from lepton.lineage.queries import downstream_of_record
from lepton.settings import Settings
from lepton.stores import lineage_for, mlflow_for
from pipelines.batches import register_landing
from pipelines.definitions import build_definitions
from tests.chain import annotate, run_chain, tick

TEXT = "Zephyrine Quillfeather moved from Ostravik to Pelmarsh in 2031."
SPANS = [{"start": 0, "end": 22, "label": "PER"}, {"start": 34, "end": 42, "label": "LOC"},
         {"start": 46, "end": 54, "label": "LOC"}]
NEEDLES = [TEXT.encode(), b"Zephyrine Quillfeather", TEXT.encode("utf-16-le")]


def holding(roots: list[Path]) -> list[str]:
    """Every file under the roots whose bytes contain the text or the person's name."""
    out = []
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink():
                data = p.read_bytes()
                if any(n in data for n in NEEDLES):
                    out.append(str(p))
    return sorted(out)


def test_erasure_leaves_the_text_in_no_store_and_lineage_whole(studio_env, tmp_path, label_studio):
    s = Settings.from_env()
    write_sample(s.landing_dir, 60, seed=5)
    [jsonl] = s.landing_dir.glob("*.jsonl")
    with jsonl.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"text": TEXT, "spans": SPANS}) + "\n")
    delivered = jsonl.read_bytes()
    dagster_dir = tmp_path / "dagster"
    dagster_dir.mkdir()
    with dg.instance_for_test(temp_dir=str(dagster_dir)) as instance:
        chain = run_chain(s, instance)
    old = chain.final.output_for_node("dataset_version")["version"]
    roots = [s.home, dagster_dir, label_studio.home]
    before = holding(roots)
    # the search can find it: landing, batch copy, stage files, snapshot, annotations, and
    # Label Studio's own database
    assert len(before) >= 7, before
    assert any(p.startswith(str(label_studio.home)) for p in before), before

    # the tiny encoder's vocabulary, saved with the model, is built from the training text
    model_files = [p for p in (s.home / "mlflow").rglob("*") if p.is_file() and "models" in p.parts]
    assert any(b"quillfeather" in p.read_bytes() for p in model_files)

    store = lineage_for(s)
    ledger = RecordLedger(store)
    studio = Studio(label_studio.url, label_studio.token)
    project = studio.find_project(s.ls_project)

    runner = CliRunner()
    dry = runner.invoke(cli, ["governance", "erase", "--subject", "quillfeather", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    [(rid, reach)] = json.loads(dry.stdout).items()
    assert [v["node"] for v in reach["dataset_versions"]] == [f"dataset_version:{old}"]
    assert [m["node"] for m in reach["model_versions"]] == [f"model_version:{s.model_name}/1"]
    assert len(studio.tasks_of_records(project, frozenset([rid]))) == 1
    others = {k: v for k, v in ledger.records(f"dataset_version:{old}").items()}

    # the records went to Label Studio: without it in the shell, erasure refuses and changes nothing
    with pytest.MonkeyPatch.context() as mp:
        for var in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
            mp.delenv(var)
        refused = runner.invoke(cli, ["governance", "erase", "--record", rid])
    assert refused.exit_code != 0 and f"project {project}" in refused.output and "LABEL_STUDIO_URL" in refused.output
    assert holding(roots) == before

    # kill -9 between two of its steps (the dataset versions replaced, their keys destroyed):
    # no tombstone yet, and the runs below finish it from its journal
    killed = subprocess.run([str(Path(sys.executable).parent / "lepton"), "governance", "erase", "--record", rid],
                            env={**os.environ, "LEPTON_FAILPOINTS": "erasure.datasets"}, capture_output=True,
                            text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not list(s.layout.work.erasures.glob("*.json"))

    # MLflow fails after the data keys were destroyed: the erasure stops, says how to finish,
    # and the same command finishes it from its journal without redoing the dataset step
    from lepton.tracking.mlflow_store import MlflowStore

    def unavailable(self, version, erasure):
        raise RuntimeError("MLflow answered 503")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(MlflowStore, "taint", unavailable)
        stopped = runner.invoke(cli, ["governance", "erase", "--record", rid, "--retrain", "--json"])
    assert stopped.exit_code != 0 and "run the same command again" in stopped.output
    assert "503" in stopped.output and TEXT not in stopped.output
    assert not list(s.layout.work.erasures.glob("*.json"))  # no tombstone yet

    res = runner.invoke(cli, ["governance", "erase", "--record", rid, "--retrain", "--json"])
    assert res.exit_code == 0, res.output
    tomb = json.loads(res.stdout)
    assert tomb["resumed"] is True
    # what the tombstone keeps forever cannot confirm a guessed text or file: the record's id
    # and the rewritten files' digests are keyed
    from lepton.corpus.records import record_id
    assert tomb["record_ids"] == "hmac-sha256" and rid != record_id(TEXT, jsonl.name)
    landing_entry = next(f for f in tomb["files_rewritten"] if f["file"].endswith(jsonl.name)
                         and not f["file"].startswith("work/"))
    assert landing_entry["digest_before"] != hashlib.sha256(delivered).hexdigest()
    again = runner.invoke(cli, ["governance", "erase", "--record", rid])
    assert again.exit_code != 0 and f"erased already, by erasure {tomb['erasure']}" in again.output

    # 1. the text is in no file of any store: workspace, landing, DVC repo, cache and remote,
    # MLflow, lineage and Dagster databases, audit log, keys, Label Studio's database
    assert holding(roots) == []
    # ...and not in Label Studio
    assert studio.tasks_of_records(project, frozenset([rid])) == []
    assert not any(TEXT in json.dumps(t) for t in studio.tasks(project))

    # 2. the old version's key is destroyed: its ciphertext, still in the DVC remote, cannot be read
    [pair] = tomb["dataset_versions_replaced"]["ner"]
    assert pair == {"old": old, "new": pair["new"], "records_removed": 1}
    gone = runner.invoke(cli, ["dataset", "restore", old, str(tmp_path / "old")])
    assert gone.exit_code != 0 and "destroyed" in gone.output
    # the successor restores, verified, with every other record in the same split
    back = runner.invoke(cli, ["dataset", "restore", pair["new"], str(tmp_path / "new")])
    assert back.exit_code == 0, back.output
    restored = {split: sorted(json.loads(line)["record_id"] for line in (tmp_path / "new" / f"{split}.jsonl").open())
                for split in ("train", "dev", "test")}
    assert restored == {k: sorted(r for r in v if r != rid) for k, v in others.items()}
    assert len(tomb["data_keys_destroyed"]) == 1 and tomb["record_hmacs"].keys() == {rid}

    # 3. lineage stays complete without the content: the record's history names the erasure,
    # the successor holds no trace of it, the model is tainted
    down = downstream_of_record(store, ledger, rid)
    assert [v["node"] for v in down["dataset_versions"]] == [f"dataset_version:{old}"]
    assert ledger.containers(rid) == [(f"dataset_version:{old}", next(
        k for k, v in others.items() if rid in v))]
    erasure = f"erasure:{tomb['erasure']}"
    assert down["erasures"] == [erasure]
    assert ("erased-by" in [k for _, k in store.parents(f"dataset_version:{old}")])
    assert (erasure, "tainted-by") in store.parents(f"model_version:{s.model_name}/1")
    assert store.get(erasure).attrs["records"] == [rid]
    mlflow = mlflow_for(s)
    assert mlflow.tainted(1) == tomb["erasure"]
    # the tainted version's model files (with that vocabulary) are gone; its record stays
    left = [str(p) for p in (s.home / "mlflow").rglob("*") if p.is_file() and b"quillfeather" in p.read_bytes()]
    assert left == []
    assert tomb["model_artifacts_deleted"] == [f"model_version:{s.model_name}/1"]
    from lepton.lineage.completeness import gaps

    assert gaps(store, ledger) == []

    # 4. audited; the rewritten landing file is not ingested again
    verified = runner.invoke(cli, ["audit", "verify"])
    # the heads anchored by the model's registration (lineage, MLflow tag) and by the erasure match
    assert verified.exit_code == 0 and "3 anchored heads match" in verified.output, verified.output
    who = runner.invoke(cli, ["lineage", "who", rid, "--json"])
    assert "governance.erase" in [e["action"] for e in json.loads(who.stdout)["entries"]]
    with dg.instance_for_test(temp_dir=str(dagster_dir)) as instance:
        assert register_landing(s, instance) == []

    # ...nor by a sync or an ingestion: the file delivered again, and the task restored into
    # Label Studio (from a backup of its own), are refused by record id and leave no copy
    jsonl.write_bytes(delivered + json.dumps({"text": "Mara Okafor joined Initech.", "spans": []}).encode() + b"\n")
    studio.push(project, [{"data": {"text": TEXT, "record_id": rid, "record_batch": "restored", "source": jsonl.name,
                                    "line": 61}, "annotations": [{"result": [], "ground_truth": False}]}])
    with dg.instance_for_test(temp_dir=str(dagster_dir)) as instance:
        [again_key] = register_landing(s, instance)
        ingested = build_definitions(s).resolve_job_def("ingest_batch").execute_in_process(
            instance=instance, partition_key=again_key)
        annotate(s, instance)
    raw, first_raw = ingested.output_for_node("raw_documents"), next(
        run for key, run in chain.batches.items() if key.startswith(jsonl.name)).output_for_node("raw_documents")
    # the file delivered again, with one more record: the erased one is refused, the new one taken
    assert (raw["accepted"], raw["quarantined"]) == (first_raw["accepted"], first_raw["quarantined"] + 1)
    assert TEXT.encode() not in jsonl.read_bytes() and b"Mara Okafor" in jsonl.read_bytes()
    store_head = SnapshotStore.in_workspace(s.home)
    assert rid not in json.dumps(store_head.load(store_head.head())["tasks"])
    assert [p for p in holding(roots) if not p.startswith(str(label_studio.home))] == []
    for task in studio.tasks_of_records(project, frozenset([rid])):  # the restored task: the test's own doing
        studio.delete_task(task)

    # 5. retraining was asked for: the sensor requests one dataset-and-model run, once
    from pipelines.erasure import erasure_retrain
    from resources import WorkspaceResource

    workspace = {"workspace": WorkspaceResource(home=str(s.home), landing_url=s.landing_url)}
    with dg.instance_for_test(temp_dir=str(dagster_dir)) as instance:
        first = tick(erasure_retrain, instance, workspace)
        again = tick(erasure_retrain, instance, workspace, first.cursor)
    assert [r.run_key for r in first.run_requests] == [f"retrain-{tomb['erasure']}"]
    assert again.run_requests == []

    # 6. the steward review pack of the tainted model, rendered in a real headless Chromium

    from PIL import Image

    from lepton.lineage.browser import dump_dom
    from lepton.lineage.pack import sign_offs

    shot = tmp_path / "pack.png"
    made = runner.invoke(cli, ["lineage", "review-pack", "1", "--screenshot", str(shot)])
    assert made.exit_code == 0, made.output
    html = s.layout.work.review_pack(s.model_name, 1)
    dom = dump_dom(html)
    assert 'data-rendered="ok"' in dom  # the lineage picture and the training curve decoded
    assert tomb["erasure"] in dom and store.get(f"dataset_version:{old}").attrs["merkle_root"] in dom
    assert "must not be approved" in dom and "(erased)" in dom
    assert Image.open(shot).size[0] == 1280
    assert TEXT not in html.read_text(encoding="utf-8")
    # sign-off: approval is refused while the model is tainted; a rejection is recorded
    refused = runner.invoke(cli, ["lineage", "sign-off", "1", "--approve", "--by", "dana"])
    assert refused.exit_code != 0 and "tainted" in refused.output
    rejected = runner.invoke(cli, ["lineage", "sign-off", "1", "--reject", "--by", "dana", "--note", "retrain first"])
    assert rejected.exit_code == 0, rejected.output
    [signed] = sign_offs(store, f"model_version:{s.model_name}/1")
    assert signed["status"] == "rejected" and signed["pack_sha256"] == hashlib.sha256(html.read_bytes()).hexdigest()
    audit = json.loads(runner.invoke(cli, ["lineage", "who", f"model_version:{s.model_name}/1", "--json"]).stdout)
    assert [e["details"]["status"] for e in audit["entries"] if e["action"] == "steward.sign_off"] == ["rejected"]
    assert runner.invoke(cli, ["lineage", "review-pack", "1"]).exit_code == 0
    assert "retrain first" in dump_dom(html)

    # an unknown record is refused before anything changes
    bad = runner.invoke(cli, ["governance", "erase", "--record", "no-such-record"])
    assert bad.exit_code != 0 and "no-such-record" in bad.output
