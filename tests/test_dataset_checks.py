"""Dataset-level checks: near-duplicates stay in one split, the distribution contract
blocks training in the same run and in later runs, drift warns."""

import json
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lepton.corpus.records import Record, Span, near_duplicate_key
from lepton.corpus.sample import write_sample
from lepton.datasets.split import split_records
from lepton.settings import Settings
from lepton.validation.distribution import contract, drift, js_distance, load_thresholds, profile
from pipelines.definitions import build_definitions
from tests.chain import run_chain

REPO = Path(__file__).resolve().parent.parent
THRESHOLDS = load_thresholds(REPO / "expectations" / "thresholds.yaml")


def test_near_duplicates_share_a_key():
    assert near_duplicate_key("Call Ana on +44 20 7946 0958.") == near_duplicate_key("call ana on +44 20 7946 0123")
    assert near_duplicate_key("Ana met Bob.") != near_duplicate_key("Ana met Rob.")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 15), min_size=1, max_size=80), st.integers(0, 99))
def test_a_family_of_near_duplicates_lands_in_one_split(families, seed):
    ids = [f"r{i}" for i in range(len(families))]
    fam = {rid: f"k{f}" for rid, f in zip(ids, families)}
    splits = split_records(ids, seed=seed, families=fam)
    assert sorted(r for s in splits.values() for r in s) == sorted(ids)
    where = {rid: s for s, rs in splits.items() for rid in rs}
    for f in set(fam.values()):
        assert len({where[r] for r in ids if fam[r] == f}) == 1


def test_contract_findings_name_the_rule_and_the_figures():
    recs = {f"r{i}": Record(f"r{i}", "f", i, text, (Span(0, 3, "PER"),)) for i, text in
            enumerate(["Ann is here.", "ann is here!", "Bob was there.", "Cy left."])}
    prof = profile(recs, {"train": ["r0", "r2"], "dev": ["r1"], "test": ["r3"]})
    assert prof["leaked_documents"] == 2 and prof["leaked_examples"] == [["r0", "r1"]]
    assert prof["duplicate_rate"] == 0.5
    failed = {f.rule: f for f in contract(prof, THRESHOLDS, ("PER", "ORG", "LOC", "MISC")) if not f.passed}
    assert set(failed) == {"no identical or near-identical document in two splits",
                           "minimum examples per label (train split)", "duplicate-text rate"}
    assert failed["minimum examples per label (train split)"].observed == {"PER": 2, "ORG": 0, "LOC": 0, "MISC": 0}
    assert "Ann" not in json.dumps([f.to_dict() for f in failed.values()])
    assert js_distance({"PER": 10, "ORG": 10}, {"PER": 10, "ORG": 10}) == 0.0
    assert js_distance({"PER": 10}, {"ORG": 10}) == pytest.approx(1.0)
    assert not drift({"labels_total": {"PER": 10}}, {"ORG": 10}, THRESHOLDS).passed
    assert drift({"labels_total": {"PER": 10}}, None, THRESHOLDS).passed


def test_a_label_declaring_its_own_floor_in_the_schema_file_is_held_to_it(tmp_path):
    from lepton.annotation.schema import SchemaError, parse_schema

    schema = parse_schema({"labels": {"common": {}, "rare": {"min_examples": 2}}}, "labels.yaml")
    assert schema.min_examples() == {"rare": 2}
    assert schema.version != parse_schema({"labels": {"common": {}, "rare": {}}}, "labels.yaml").version
    recs = {f"r{i}": Record(f"r{i}", "f", i, f"Doc {i} of Kim.", (Span(0, 3, "common"),) + (
        (Span(11, 14, "rare"),) if i < 2 else ())) for i in range(6)}
    prof = profile(recs, {"train": [f"r{i}" for i in range(6)], "dev": [], "test": []})
    rule = "minimum examples per label (train split)"
    [floor] = [f for f in contract(prof, THRESHOLDS, schema.names, schema.min_examples()) if f.rule == rule]
    assert floor.passed and floor.threshold == {"default": THRESHOLDS["min_examples_per_label"], "rare": 2}
    [default] = [f for f in contract(prof, THRESHOLDS, schema.names) if f.rule == rule]
    assert not default.passed and default.observed == {"rare": 2}
    with pytest.raises(SchemaError, match="label rare: min_examples -1 must be a whole number"):
        parse_schema({"labels": {"rare": {"min_examples": -1}}}, "labels.yaml")


def _instance(path: Path):
    path.mkdir(parents=True, exist_ok=True)
    return dg.instance_for_test(temp_dir=str(path))


def test_a_dataset_that_breaks_its_contract_trains_nothing_now_or_later(studio_env, tmp_path):
    s = Settings.from_env()
    s.landing_dir.mkdir(parents=True)
    names = ["Ana", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lu"]
    (s.landing_dir / "people.jsonl").write_text("".join(
        json.dumps({"text": f"{n} waved at us today number {i}.", "spans": [{"start": 0, "end": len(n), "label": "PER"}]})
        + "\n" for i, n in enumerate(names)))
    with _instance(tmp_path / "dagster") as instance:
        chain = run_chain(s, instance, raise_on_error=False)
        checks = {c.check_name: c for c in chain.final.get_asset_check_evaluations()}
        assert not checks["dataset_contract"].passed
        assert "minimum examples per label (train split)" in checks["dataset_contract"].description
        assert "dataset_version" in chain.materialized()
        assert "ner_model" not in chain.materialized(), "the blocking check stopped training in the same run"
        # a later run (a retry, a backfill) of the training alone refuses the same version
        later = build_definitions(s).resolve_job_def("dataset_and_model").execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("ner_model")], raise_on_error=False)
        assert not later.success
        failure = [e for e in later.all_events if e.event_type_value == "STEP_FAILURE"][0]
        assert "has no passing dataset_contract / dataset_splits_contract check" in failure.event_specific_data.error.to_string()


def test_drift_warns_and_does_not_block(studio_env, tmp_path, monkeypatch):
    # The first model here is trained by two gloo processes under torchrun, launched by the
    # asset: each rank decrypts the dataset version with the workspace's keyring itself.
    monkeypatch.setenv("LEPTON_TRAIN_PROCESSES", "2")
    s = Settings.from_env()
    write_sample(s.landing_dir, 120, seed=31, conll_share=0.0)
    with _instance(tmp_path / "dagster") as instance:
        first = run_chain(s, instance)
        [trained] = [e.materialization.metadata for e in first.final.get_asset_materialization_events()
                     if e.asset_key.path == ["ner_model"]]
        assert trained["processes"].value == 2 and trained["test_f1"].value > 0.2
        # the next batch is all people: the label mix moves far from the first version's
        lines = []
        for i in range(400):
            text = f"Person {i} Quinn Avery spoke."
            start = text.index("Quinn")
            lines.append(json.dumps({"text": text, "spans": [{"start": start, "end": start + 11, "label": "PER"}]}))
        (s.landing_dir / "people.jsonl").write_text("\n".join(lines) + "\n")
        again = run_chain(s, instance, raise_on_error=False)
    [annotated] = again.annotated.values()
    assert all(c.passed for c in annotated.get_asset_check_evaluations())
    checks = {c.check_name: c for c in again.final.get_asset_check_evaluations()}
    assert not checks["label_drift"].passed and checks["label_drift"].severity == dg.AssetCheckSeverity.WARN
    assert checks["label_drift"].metadata["js_distance"].value > THRESHOLDS["max_label_drift_js"]


def test_dataset_splits_contract_names_the_leaking_records():
    from lepton.validation.distribution import split_rows
    from lepton.validation.gx_suite import validate_records

    recs = {f"r{i}": Record(f"r{i}", "f", i, t, (Span(0, 3, "PER"),)) for i, t in
            enumerate(["Ann is here.", "ann is here!", "Bob was there.", "Cy left."])}
    suite = REPO / "expectations" / "dataset_splits.json"
    ok = validate_records(split_rows(recs, {"train": ["r0", "r1", "r2"], "dev": ["r3"], "test": []}), suite)
    failed = {o.rule: o for o in ok.failed}
    assert list(failed) == ["every split has documents"]
    leak = validate_records(split_rows(recs, {"train": ["r0", "r2"], "dev": ["r3"], "test": ["r1"]}), suite)
    failed = {o.rule: o for o in leak.failed}
    assert list(failed) == ["no identical or near-identical document in two splits"]
    assert sorted(failed["no identical or near-identical document in two splits"].failing_rows) == [
        "test:r1", "train:r0"]


def test_the_build_takes_the_latest_validated_batch_and_names_the_newer_ones_it_skips(tmp_path):
    from lepton.datasets.build import latest_validated, write_split_rows

    pointers = [{"batch_id": b, "path": f"{b}.jsonl"} for b in ("a1", "a2", "a3", "a4")]
    passed = {"a2": "validation:a2-ok", "a1": "validation:a1-ok"}.get
    choice = latest_validated(pointers, passed)
    assert choice.chosen == {"batch_id": "a2", "path": "a2.jsonl", "validation": "validation:a2-ok"}
    assert choice.left_out == ["a4", "a3"]
    none = latest_validated(pointers, lambda batch: None)
    assert none.chosen is None and none.left_out == ["a4", "a3", "a2", "a1"]
    recs = {f"r{i}": Record(f"r{i}", "f", i, f"Doc {i} by Ana.", (Span(11, 14, "PER"),)) for i in range(3)}
    assignment = {"train": ["r0", "r1"], "dev": ["r2"], "test": []}
    prof = write_split_rows(recs, assignment, {rid: rid for rid in recs}, tmp_path / "rows.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert [(r["record_id"], r["split"]) for r in rows] == [("r0", "train"), ("r1", "train"), ("r2", "dev")]
    assert "Ana" not in (tmp_path / "rows.jsonl").read_text()
    assert prof["labels"]["train"] == {"PER": 2} and prof["documents"] == 3
