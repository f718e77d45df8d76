"""The frozen evaluation set: chosen once by policy, held out of every later dataset
version's train and dev splits, grown only by an audited command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from lepton.corpus.records import Record, Span
from lepton.corpus.sample import sample_records, write_sample
from lepton.datasets.eval_set import EVAL_SET, EvalSetError, EvalSetPolicy, choose
from lepton.datasets.split import split_records
from lepton.settings import Settings
from lepton.validation.distribution import family_keys

REPO = Path(__file__).resolve().parent.parent
POLICY = EvalSetPolicy(fraction=0.1, min_records=20, max_records=2000, seed=13)


def test_the_shipped_policy_loads_and_a_bad_one_names_its_file_and_key(tmp_path):
    assert EvalSetPolicy.load(REPO / "policy" / "eval_set.yaml").to_dict() == POLICY.to_dict()
    bad = tmp_path / "eval_set.yaml"
    bad.write_text("fraction: 1.5\nmin_records: 20\nmax_records: 2000\nseed: 13\n")
    with pytest.raises(EvalSetError, match=f"{bad}: fraction 1.5 must be between 0 and 1"):
        EvalSetPolicy.load(bad)
    bad.write_text("fraction: 0.1\nmin_records: 20\nseed: 13\n")
    with pytest.raises(EvalSetError, match="expected exactly the keys"):
        EvalSetPolicy.load(bad)


def test_the_set_is_stratified_whole_families_and_the_same_for_the_same_records():
    records = {r.record_id: r for r in sample_records(400, seed=3)}
    rare = Record("rare-1", "other.jsonl", 1, "Zed met Quux.", (Span(0, 3, "RARE"),))
    records[rare.record_id] = rare
    fams = family_keys(records)
    ids = choose(records, fams, POLICY)
    assert ids == choose(dict(reversed(list(records.items()))), fams, POLICY)
    assert abs(len(ids) - 40) <= 4
    chosen_fams = {fams[r] for r in ids}
    assert all(r in ids for r, f in fams.items() if f in chosen_fams), "families are taken whole"
    assert "rare-1" in ids, "a stratum of one document (label RARE, source other.jsonl) still gives it"
    labels = {sp.label for r in ids for sp in records[r].spans}
    assert labels >= {"PER", "ORG", "LOC", "MISC"}


def test_the_held_out_set_is_in_test_and_train_keeps_its_share():
    ids = [f"r{i:03d}" for i in range(300)]
    held = frozenset(ids[:30])
    splits = split_records(ids, seed=5, held_out=held)
    assert held <= set(splits["test"]) and not held & (set(splits["train"]) | set(splits["dev"]))
    assert sorted(sum(splits.values(), [])) == ids
    assert abs(len(splits["train"]) - 240) <= 3 and abs(len(splits["test"]) - 30) <= 3


def _build_dataset(s, instance):
    from pipelines.definitions import build_definitions

    run = build_definitions(s).resolve_job_def("dataset_and_model").execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("dataset_version")])
    return run.output_for_node("dataset_version")


def test_no_frozen_record_enters_train_or_dev_as_batches_arrive_and_it_grows_only_by_command(studio_env, tmp_path):
    from lepton.datasets.version import read_manifest
    from lepton.stores import dvc_for, lineage_for
    from tests.chain import run_chain

    s = Settings.from_env()
    write_sample(s.landing_dir, 60, seed=21, conll_share=0.0)
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        run_chain(s, instance, final=False)
        first = _build_dataset(s, instance)
        [frozen] = dvc_for(s).versions(EVAL_SET)
        held = set(frozen["record_ids"])
        assert 4 <= len(held) <= 8

        # a new batch arrives: the next version keeps the set in test, none of it in train or dev
        write_sample(s.landing_dir / "later", 50, seed=22, conll_share=0.0)
        run_chain(s, instance, final=False)
        second = _build_dataset(s, instance)
        assert second["version"] != first["version"] and dvc_for(s).versions(EVAL_SET) == [frozen]
        splits = {k: set(v["record_ids"]) for k, v in read_manifest(second["path"])["splits"].items()}
        assert held <= splits["test"] and not held & (splits["train"] | splits["dev"])
        lineage = lineage_for(s)
        held_out_of = {dst for dst, kind in lineage.children(f"dataset_version:{frozen['version']}")
                       if kind == "holds-out"}
        assert held_out_of == {f"dataset_version:{first['version']}", f"dataset_version:{second['version']}"}

        # extended by command, with a reason, from records no version trained on
        env = {**os.environ}
        lepton = str(Path(sys.executable).parent / "lepton")
        refused = subprocess.run([lepton, "eval-set", "extend", "--count", "3", "--reason", " "], env=env,
                                 capture_output=True, text=True, timeout=300)
        assert refused.returncode != 0 and "needs a reason" in refused.stderr
        grown = subprocess.run([lepton, "eval-set", "extend", "--count", "3", "--reason", "more MISC in test"],
                               env=env, capture_output=True, text=True, timeout=300)
        assert grown.returncode == 0, grown.stderr[-2000:]
        old, new = dvc_for(s).versions(EVAL_SET)
        added = set(new["record_ids"]) - held
        assert held < set(new["record_ids"]) and 1 <= len(added) <= 6 and new["reason"] == "more MISC in test"
        ledger_train = set()
        from lepton.lineage.ledger import RecordLedger
        for ds in (first, second):
            got = RecordLedger(lineage).records(f"dataset_version:{ds['version']}")
            ledger_train |= set(got["train"]) | set(got["dev"])
        assert not added & ledger_train, "only records no version trained on are added"
        third = _build_dataset(s, instance)
        splits = {k: set(v["record_ids"]) for k, v in read_manifest(third["path"])["splits"].items()}
        assert set(new["record_ids"]) <= splits["test"]
    audit = [json.loads(line) for line in s.layout.audit_log.read_text().splitlines()]
    assert [e["action"] for e in audit if e["action"].startswith("eval_set.")] == ["eval_set.freeze", "eval_set.extend"]
    shown = subprocess.run([lepton, "eval-set", "show", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert [v["version"] for v in json.loads(shown.stdout)] == [old["version"], new["version"]]
