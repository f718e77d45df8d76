"""The whole chain, materialised in process as the Dagster UI would launch it: once for the
module (`whole_chain`), then looked at from each side in its own test, so the first failure
does not hide the rest; and the gate's refusals, each on a chain of its own."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from lepton.corpus.sample import write_sample
from lepton.settings import Settings
from lepton.stores import lineage_for, mlflow_for
from pipelines.definitions import build_definitions
from tests.chain import BAD_DOCS, ChainRun, annotate, run_chain, set_annotations, spoil_annotations, write_bad_landing
from tests.conftest import enter_studio, enter_workspace

DOCS = 160


def _instance(path: Path):
    path.mkdir(parents=True, exist_ok=True)
    return dg.instance_for_test(temp_dir=str(path))


@dataclass
class WholeChain:
    s: Settings
    chain: ChainRun
    dagster_dir: Path

    @property
    def ds(self) -> dict:
        return self.chain.final.output_for_node("dataset_version")

    @property
    def model(self) -> dict:
        return self.chain.final.output_for_node("ner_model")


@pytest.fixture(scope="module")
def whole_chain(label_studio, tmp_path_factory):
    """Two landing files (JSONL and CoNLL) through ingestion, Label Studio, the gates, the
    dataset and the model, on embedded defaults; the environment stays pointed at the
    workspace until the module ends."""
    tmp = tmp_path_factory.mktemp("chain")
    with pytest.MonkeyPatch.context() as mp:
        enter_studio(enter_workspace(tmp / "ws", mp), label_studio, mp)
        s = Settings.from_env()
        write_sample(s.landing_dir, DOCS, seed=21)
        with _instance(tmp / "dagster") as instance:
            chain = run_chain(s, instance)
        yield WholeChain(s, chain, tmp / "dagster")


@pytest.fixture(scope="module")
def openlineage(whole_chain):
    """(events text, {asset: [(dagster run, materialization metadata, COMPLETE event)]}) after
    checking that every materialization has exactly one valid START and COMPLETE pair."""
    from lepton.lineage.openlineage import run_id_for
    from tests.openlineage_validation import validate_event

    s, chain = whole_chain.s, whole_chain.chain
    events_text = s.layout.work.openlineage_events.read_text(encoding="utf-8")
    events = [json.loads(line) for line in events_text.splitlines()]
    for event in events:
        validate_event(event)
    ol_runs: dict = {}
    for event in events:
        ol_runs.setdefault((event["job"]["name"], event["run"]["runId"]), []).append(event)
    seen: dict = {}
    for r in chain.runs():
        for e in r.get_asset_materialization_events():
            job, md = e.asset_key.to_user_string(), e.materialization.metadata
            pair = ol_runs.get((job, run_id_for(r.run_id, job)), [])
            assert [p["eventType"] for p in pair] == ["START", "COMPLETE"], (job, r.run_id)
            seen.setdefault(job, []).append((r, md, pair[1]))
    return events_text, seen


def test_every_asset_materialises_and_every_gate_passes(whole_chain):
    chain = whole_chain.chain
    assert len(chain.batches) == 2, "one batch per landing file"
    assert chain.materialized() == {"raw_documents", "quarantine", "clean_documents", "predictions", "pii_findings",
                                    "sensitivity", "annotation_tasks", "annotations", "dataset_version",
                                    "ner_model", "lineage_graph", "registered_model", "model_evaluation"}
    # each push is followed by a sync: two snapshots, the second holding both batches' annotations
    checks = {k: {c.check_name: c for c in r.get_asset_check_evaluations()} for k, r in chain.annotated.items()}
    assert len(checks) == 2
    assert all(c.passed for cs in checks.values() for c in cs.values())
    raw_checks = [c for r in chain.batches.values() for c in r.get_asset_check_evaluations()]
    assert [c.check_name for c in raw_checks] == ["raw_documents_contract"] * 2 and all(c.passed for c in raw_checks)
    last = checks[list(chain.batches)[-1]]["annotations_contract"]
    assert last.metadata["evaluated_rows"].value > DOCS  # spans


def test_stewards_see_pii_findings_and_sensitivity_per_batch(whole_chain):
    meta = {e.asset_key.path[0]: e.materialization.metadata for r in whole_chain.chain.batches.values()
            for e in r.get_asset_materialization_events()
            if e.asset_key.path[0] in ("pii_findings", "sensitivity") and "sample-21.jsonl" in e.partition}
    assert meta["pii_findings"]["findings_by_type"].value.get("EMAIL", 0) > 0
    assert meta["pii_findings"]["findings_by_type"].value.get("PHONE", 0) > 0
    assert meta["sensitivity"]["by_class"].value.get("confidential", 0) > 0
    by_class, by_action = meta["sensitivity"]["by_class"].value, meta["sensitivity"]["by_action"].value
    assert by_action.get("redact", 0) == by_class.get("confidential", 0)


def test_every_record_is_counted_and_the_dataset_is_encrypted_and_pushed(whole_chain):
    s, chain, ds = whole_chain.s, whole_chain.chain, whole_chain.ds
    raws = [r.output_for_node("raw_documents") for r in chain.batches.values()]
    assert sum(r["accepted"] + r["quarantined"] for r in raws) == DOCS
    withheld = sum(r.output_for_node("sensitivity")["withheld"] for r in chain.batches.values())
    assert sum(ds["rows"].values()) + withheld == sum(r["accepted"] for r in raws)
    enc = Path(ds["path"]) / "train.jsonl.enc"
    assert enc.read_bytes()[:6] == b"LEPENC"
    assert b'"text"' not in enc.read_bytes()
    remote_files = [p for p in Path(s.dvc_remote).rglob("*") if p.is_file()]
    assert len(remote_files) >= 4


def test_the_model_is_tracked_registered_and_served_the_mlflow_way(whole_chain):
    s, ds, model = whole_chain.s, whole_chain.ds, whole_chain.model
    reg = whole_chain.chain.final.output_for_node("registered_model")
    client = mlflow_for(s).client()
    run = client.get_run(model["run_id"])
    assert run.data.params["dataset_version"] == ds["version"]
    assert {"dev_f1", "train_loss", "test_f1"} <= set(run.data.metrics)
    assert len(client.get_metric_history(model["run_id"], "dev_f1")) == 5  # one per epoch
    champ = mlflow_for(s).champion()
    # the first version meets no champion: the gate weighs it on the frozen set against the floor
    evaluation = whole_chain.chain.final.output_for_node("model_evaluation")["report"]
    assert evaluation["scored_on"]["kind"] == "frozen" and evaluation["champion"] is None
    [gate] = [c for c in whole_chain.chain.final.get_asset_check_evaluations() if c.check_name == "promotion_gate"]
    assert gate.passed and gate.metadata["outcome"].value == "promoted"
    assert model["test_f1"] > 0.3, "a tiny model learns this corpus well above chance"
    assert champ is not None and champ["version"] == reg["version"] == 1
    # MLflow's own conventions: the dataset version as a digest-only input, the version linked
    # to its LoggedModel, which carries the test metrics, a signature and an input example
    from mlflow.models import get_model_info

    [data_input] = run.inputs.dataset_inputs
    assert data_input.dataset.digest == ds["version"] and data_input.dataset.name == ds["dataset"]
    mv = client.get_model_version(s.model_name, "1")  # its source is the LoggedModel's URI
    assert mv.source == model["model_uri"] == f"models:/{model['model_id']}"
    logged = client.get_logged_model(model["model_id"])
    assert {m.key: m.value for m in logged.metrics}["test_f1"] == pytest.approx(model["test_f1"])
    info = get_model_info(model["model_uri"])
    assert [c.type.name for c in info.signature.inputs.inputs] == ["string"]
    assert info.saved_input_example_info is not None

    # the served model returns spans
    import mlflow.pyfunc

    served = mlflow.pyfunc.load_model(f"models:/{s.model_name}@champion")
    [spans] = served.predict(["Ana Silva joined Acme Corporation in Berlin last May."])
    assert all({"start", "end", "label", "text", "score"} <= set(sp) for sp in spans)


def test_lineage_reaches_the_input_files_and_the_ledger_resolves_each_record(whole_chain):
    from lepton.lineage.ledger import RecordLedger
    from lepton.lineage.queries import downstream_of_record, upstream_of

    s, chain, ds = whole_chain.s, whole_chain.chain, whole_chain.ds
    store = lineage_for(s)
    walk = store.upstream(f"model_version:{s.model_name}/1")
    kinds = {n.kind for _, n, _, _ in walk}
    assert kinds == {"model_version", "alias_change", "training_run", "dataset_version", "annotation_batch",
                     "annotation_tasks", "label_schema", "governed_batch", "pii_findings", "clean_batch",
                     "validation_result", "record_batch", "input_file", "model_evaluation", "promotion_decision"}
    [promotion] = [(n, e) for _, n, e, _ in walk if n.kind == "alias_change"]
    assert promotion[1] == "promoted-by"
    assert {k: promotion[0].attrs[k] for k in ("alias", "version", "previous")} == {"alias": "champion", "version": 1,
                                                                                   "previous": None}
    [decision] = [n for _, n, _, _ in walk if n.kind == "promotion_decision"]
    assert decision.attrs["outcome"] == "promoted" and decision.attrs["refused_by"] == []
    files = {n.name for _, n, _, _ in walk if n.kind == "input_file"}
    assert files == {"sample-21.jsonl", "sample-21.conll"}
    # the lineage picture and the completeness check that gates promotion
    [graph_check] = [c for c in chain.final.get_asset_check_evaluations() if c.check_name == "lineage_complete"]
    assert graph_check.passed and graph_check.metadata["gaps"].value == 0
    [graph] = [e.materialization.metadata for e in chain.final.get_asset_materialization_events()
               if e.asset_key.path == ["lineage_graph"]]
    assert Path(graph["picture"].value).read_bytes()[:4] == b"\x89PNG"
    # the record ledger: the model's dataset version resolves to exactly its records
    ledger = RecordLedger(store)
    up = upstream_of(store, ledger, f"model_version:{s.model_name}/1")
    assert up["dataset_versions"][0]["records_by_split"] == ds["rows"]
    some = ledger.records(f"dataset_version:{ds['version']}")["test"][0]
    down = downstream_of_record(store, ledger, some)
    assert [m["node"] for m in down["model_versions"]] == [f"model_version:{s.model_name}/1"]


def test_every_asset_goes_through_its_lineage_step(whole_chain, openlineage):
    """A valid START and COMPLETE (one run id) for every asset materialization (checked by the
    `openlineage` fixture), each showing its lineage summary; and the chain materialises every
    asset of the code location, so an asset added later without its lineage step
    (`with lineage.step(context)`) fails here."""
    s, chain = whole_chain.s, whole_chain.chain
    _, seen = openlineage
    dagster_runs = {r.run_id for r in chain.runs()}
    for job, materialized in seen.items():
        for r, md, complete in materialized:
            assert complete["run"]["facets"]["parent"]["run"]["runId"] == r.run_id
            assert complete["run"]["facets"]["parent"]["job"]["name"] == r.job_def.name
            assert len(complete["outputs"]) == 1 and complete["inputs"]
            assert md["openlineage_run_id"].value == complete["run"]["runId"]
            assert md["lineage_query"].value.startswith("lepton lineage upstream ")
            assert isinstance(md["lineage_counts"].value, dict)
            upstream = md["lineage_upstream"].value
            assert upstream, job
            for u in upstream:  # every upstream version pinned to the run that made it
                assert u["version"] and u["node"].endswith(u["version"])
                assert u["run_id"] in dagster_runs, (job, u)
    assert set(seen) == chain.materialized()
    # every asset a run can materialise (champion_model is external: the champion_watch sensor records it)
    graph = build_definitions(s).resolve_asset_graph()
    assert chain.materialized() == {k.to_user_string() for k in graph.materializable_asset_keys}


def test_the_dataset_version_event_carries_its_manifest_and_dagster_its_schema(whole_chain, openlineage):
    from lepton.datasets.version import read_manifest

    chain, ds = whole_chain.chain, whole_chain.ds
    _, seen = openlineage
    [(_, ds_meta, ds_event)] = seen["dataset_version"]
    [ds_out] = ds_event["outputs"]
    manifest = read_manifest(ds["path"])
    assert ds_out["name"] == ds_meta["lineage_node"].value == f"dataset_version:{ds['version']}"
    assert ds_out["facets"]["version"]["datasetVersion"] == ds["version"] == ds_meta["dataset_version"].value
    assert (ds_out["facets"]["lepton_manifest"]["merkle_root"] == manifest["merkle_root"]
            == ds_meta["merkle_root"].value)
    assert ds_out["facets"]["lepton_manifest"]["key_id"] == manifest["key_id"]
    assert ds_out["facets"]["lepton_manifest"]["rows"] == ds["rows"]
    assert ds_out["facets"]["lepton_manifest"]["manifest_sha256"] == hashlib.sha256(
        (Path(ds["path"]) / "manifest.json").read_bytes()).hexdigest()
    assert [f["name"] for f in ds_out["facets"]["schema"]["fields"]] == ["record_id", "source", "line", "text",
                                                                          "spans"]
    # Dagster's own row count and column schema: the column schema is the one OpenLineage carries
    assert ds_meta["dagster/row_count"].value == sum(ds["rows"].values())
    for job, materialized in seen.items():
        for _, md, event in materialized:
            schema = event["outputs"][0]["facets"].get("schema")
            if schema is not None:
                assert [c.name for c in md["dagster/column_schema"].value.columns] == [
                    f["name"] for f in schema["fields"]], job
                assert isinstance(md["dagster/row_count"].value, int), job
    for _, raw_meta, _ in seen["raw_documents"]:
        assert raw_meta["dagster/row_count"].value == raw_meta["accepted"].value > 0
    assert ds_meta["lineage_counts"].value["records_by_split"] == ds["rows"]
    [annotation_batch] = ds["annotation_batches"]
    [batch_key] = [k for k, snap in chain.snapshots.items() if snap == annotation_batch]
    ds_upstream = {u["node"]: u for u in ds_meta["lineage_upstream"].value}
    assert ds_upstream[f"annotation_batch:{annotation_batch}"]["run_id"] == chain.annotated[batch_key].run_id
    assert ds_upstream[f"annotation_batch:{annotation_batch}"]["edge"] == "derived-from"
    assert f"annotation_batch:{annotation_batch}" in {i["name"] for i in ds_event["inputs"]}
    [(_, model_meta, _)] = seen["ner_model"]
    assert {u["node"]: u["run_id"] for u in model_meta["lineage_upstream"].value}[
        f"dataset_version:{ds['version']}"] == chain.final.run_id
    [(_, reg_meta, reg_event)] = seen["registered_model"]
    s = whole_chain.s
    assert reg_event["outputs"][0]["name"] == reg_meta["lineage_node"].value == f"model_version:{s.model_name}/1"
    assert reg_meta["lineage_counts"].value["records_by_split"] == ds["rows"]


def test_lineage_events_carry_governance_facets_and_no_record_text(whole_chain, openlineage):
    s, chain = whole_chain.s, whole_chain.chain
    events_text, seen = openlineage
    pii_by_run = {r.run_id: md for r, md, _ in seen["pii_findings"]}
    assert len(seen["sensitivity"]) == len(chain.batches) == len(pii_by_run)
    for r, md, event in seen["sensitivity"]:
        gov = event["outputs"][0]["facets"]["lepton_governance"]
        assert gov["sensitivity_classes"] == md["by_class"].value
        assert gov["pii_types"] == sorted(pii_by_run[r.run_id]["findings_by_type"].value)
    for _, md, event in seen["pii_findings"]:
        assert event["outputs"][0]["facets"]["lepton_governance"]["pii_types"] == sorted(
            md["findings_by_type"].value)
    # ids, hashes, counts and class names only: no record text in any event
    from lepton.workspace import CLEAN

    clean_texts = [json.loads(line)["text"] for f in s.layout.work.stage_files(CLEAN)
                   for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert clean_texts and all(t not in events_text for t in clean_texts)


def test_lepton_reproduce_matches_the_recorded_metrics_exactly(whole_chain):
    """The dataset version fetched from the DVC remote by its id, the recorded settings and
    seed; training on CPU is deterministic, so the metrics match exactly."""
    from click.testing import CliRunner

    from lepton.cli import main as cli

    ds, model = whole_chain.ds, whole_chain.model
    rep = CliRunner().invoke(cli, ["reproduce", "1", "--json", "--tolerance", "0"])
    assert rep.exit_code == 0, rep.output
    out = json.loads(rep.stdout)
    assert out["match"] and out["dataset_version"] == ds["version"] and out["git_commit"]["same"]
    assert out["metrics"]["test_f1"]["reproduced"] == out["metrics"]["test_f1"]["recorded"]
    assert out["lineage"]["agrees_with_mlflow"] and out["lineage"]["training_run"] == model["run_id"]
    assert out["lineage"]["annotation_snapshots"] == ds["annotation_batches"]


def test_nothing_new_gives_no_batch_and_the_same_dataset_version(whole_chain):
    s, ds = whole_chain.s, whole_chain.ds
    with _instance(whole_chain.dagster_dir) as instance:
        again = run_chain(s, instance, final=False)
        assert again.batches == {}
        rebuilt = build_definitions(s).resolve_job_def("dataset_and_model").execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("dataset_version")])
    assert rebuilt.output_for_node("dataset_version")["version"] == ds["version"]
    mat = [e for e in rebuilt.get_asset_materialization_events() if e.asset_key.path == ["dataset_version"]][0]
    assert mat.materialization.metadata["files_pushed"].value == 0


def test_failed_validation_blocks_the_batch_until_it_is_fixed_in_label_studio(studio_env, tmp_path):
    s = Settings.from_env()
    write_sample(s.landing_dir, 40, seed=4, conll_share=0.0)
    with _instance(tmp_path / "dagster") as instance:
        good = run_chain(s, instance, final=False)
        [good_snapshot] = good.snapshots.values()
        write_bad_landing(s.landing_dir)
        chain = run_chain(s, instance, raise_on_error=False, final=False, after_push=lambda: spoil_annotations(s))
        [bad_key] = chain.batches
        bad_snapshot = chain.snapshots[bad_key]
        checks = {c.check_name: c for c in chain.annotated[bad_key].get_asset_check_evaluations()}
        check = checks["annotations_contract"]
        assert not check.passed
        assert "bad.jsonl:1 span 0" in check.metadata["failures"].value
        assert "bad.jsonl:2 span 0" in check.metadata["failures"].value
        assert "Acme" not in check.metadata["failures"].value
        good_check = {c.check_name: c for c in good.annotated[next(iter(good.annotated))].get_asset_check_evaluations()}
        assert good_check["annotations_contract"].passed

        # A later run of only the downstream assets (as a retry or a backfill would) builds on
        # the last batch that passed, and names the failed one it left out.
        later = build_definitions(s).resolve_job_def("dataset_and_model").execute_in_process(
            instance=instance, raise_on_error=False)
        ds = later.output_for_node("dataset_version")
        mat = [e for e in later.get_asset_materialization_events() if e.asset_key.path == ["dataset_version"]][0]
        assert mat.materialization.metadata["batches_left_out"].value == [bad_snapshot]
        assert ds["annotation_batches"] == [good_snapshot]

        from lepton.datasets.version import read_manifest

        manifest = read_manifest(ds["path"])
        ids = {rid for split in manifest["splits"].values() for rid in split["record_ids"]}
        assert ids and all(not rid.startswith("bad") for rid in ids)

        # The annotator fixes the two spans in Label Studio; the next sync re-validates, and
        # the fixed batch carries the good annotations of the failed snapshot with it.
        assert set_annotations(s, {d["text"]: d["spans"] for d in BAD_DOCS}) == 2
        fixed_snapshot, fixed_run = annotate(s, instance)
        assert all(c.passed for c in fixed_run.get_asset_check_evaluations())
        rebuilt = build_definitions(s).resolve_job_def("dataset_and_model").execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("dataset_version")])
        ds2 = rebuilt.output_for_node("dataset_version")
        assert ds2["annotation_batches"] == [fixed_snapshot]
        assert sum(ds2["rows"].values()) == sum(ds["rows"].values()) + 2


def test_a_dataset_is_refused_when_no_batch_passed(studio_env, tmp_path):
    s = Settings.from_env()
    s.landing_dir.mkdir(parents=True)
    write_bad_landing(s.landing_dir)
    with _instance(tmp_path / "dagster") as instance:
        chain = run_chain(s, instance, raise_on_error=False, after_push=lambda: spoil_annotations(s))
        assert not chain.final.success
        assert "dataset_version" not in chain.materialized()
        failure = [e for e in chain.final.all_events if e.event_type_value == "STEP_FAILURE"][0]
        assert "no annotation batch has a passing validation" in failure.event_specific_data.error.to_string()
    assert not (s.dvc_repo / "datasets").exists()
    # the failed step's OpenLineage run is closed with a FAIL that names the error's kind only
    from tests.openlineage_validation import validate_event

    events = [json.loads(line) for line in s.layout.work.openlineage_events.open()]
    for e in events:
        validate_event(e)
    fails = {e["job"]["name"]: e for e in events if e["eventType"] == "FAIL"}
    # only the refused build failed: the annotations asset completed and its blocking check,
    # which has no OpenLineage run of its own, failed
    assert set(fails) == {"dataset_version"}
    fail = fails["dataset_version"]
    assert "GateNotPassed" in fail["run"]["facets"]["errorMessage"]["message"]
    assert [e["eventType"] for e in events if e["run"]["runId"] == fail["run"]["runId"]] == ["START", "FAIL"]
    assert "Oslo" not in json.dumps(events)
    assert mlflow_for(s).champion() is None
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        mlflow_for(s).client().get_registered_model(s.model_name)
