"""Steward queries on the graph and the record ledger, on SQLite and on PostgreSQL: what
went into a model version, where a record went, what changed between two versions, who
touched something; and the `lepton lineage` commands' JSON."""

import json

import pytest
from click.testing import CliRunner

from lepton.annotation.schema import LabelSchema
from lepton.cli import main as cli
from lepton.lineage.events import StageLineage
from lepton.lineage.ledger import RecordLedger
from lepton.lineage.queries import diff, downstream_of_record, upstream_of, who_touched
from lepton.lineage.store import LineageStore
from tests.conftest import PG_DSN


def _graph(url: str) -> tuple[LineageStore, RecordLedger]:
    """v1 holds r1..r5, v2 holds r2..r6 (r2 moved to test); a run and a model on each, the
    second trained on an augmented copy of v2."""
    store = LineageStore(url)
    a = StageLineage(store, run_id="run-a", code_version="t")
    s1, s2 = LabelSchema.of(["ORG", "PER"]), LabelSchema.of(["LOC", "ORG", "PER"])
    a.add_label_schema(s1, 1)
    a.add_label_schema(s2, 1)
    a.add_dataset_version("v1", [], members={"train": ["r1", "r2", "r3"], "dev": ["r4"], "test": ["r5"]}, label_schema=s1.version)
    a.add_training_run("t1", "v1")
    a.add_model_version("m", 1, "t1")
    b = StageLineage(store, run_id="run-b", code_version="t")
    b.add_dataset_version("v2", [], members={"train": ["r3", "r6"], "dev": ["r4"], "test": ["r2", "r5"]}, label_schema=s2.version)
    b.add_training_run("t2", "v2", augmentation={"key": "k1", "copies": 1})
    b.add_model_version("m", 2, "t2")
    return store, RecordLedger(store)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def graph(request, tmp_path, pg_database):
    url = (f"sqlite:///{tmp_path / 'lineage.db'}" if request.param == "sqlite"
           else f"{PG_DSN}/{pg_database('lineage')}")
    return (url, *_graph(url))


def test_downstream_of_a_record_reaches_exactly_the_versions_that_hold_it(graph):
    _, store, ledger = graph
    r1 = downstream_of_record(store, ledger, "r1")
    assert [v["node"] for v in r1["dataset_versions"]] == ["dataset_version:v1"]
    assert [m["node"] for m in r1["model_versions"]] == ["model_version:m/1"]
    r2 = downstream_of_record(store, ledger, "r2")
    assert [(v["node"], v["split"]) for v in r2["dataset_versions"]] == [
        ("dataset_version:v1", "train"), ("dataset_version:v2", "test")]
    assert {m["node"] for m in r2["model_versions"]} == {"model_version:m/1", "model_version:m/2"}
    r6 = downstream_of_record(store, ledger, "r6")
    assert [d["node"] for d in r6["derived_datasets"]] == ["augmented_dataset:v2+k1"]
    assert r6["training_runs"][0]["pinned"]["run_id"] == "run-b"
    assert downstream_of_record(store, ledger, "nobody")["dataset_versions"] == []


def test_upstream_of_a_model_version_pins_its_dataset_and_counts_records(graph):
    _, store, ledger = graph
    up = upstream_of(store, ledger, "model_version:m/1", with_records=True)
    [ds] = up["dataset_versions"]
    assert ds["node"] == "dataset_version:v1" and ds["records_by_split"] == {"train": 3, "dev": 1, "test": 1}
    assert ds["records"]["train"] == ["r1", "r2", "r3"]
    trained_on = [c for c in up["chain"] if c["node"] == "dataset_version:v1"][0]
    assert trained_on["pinned"]["run_id"] == "run-a" and trained_on["edge"] == "trained-on"


def test_diff_of_two_versions_and_of_two_models(graph):
    _, store, ledger = graph
    d = diff(store, ledger, "dataset_version:v1", "dataset_version:v2")
    assert d["added"] == ["r6"] and d["removed"] == ["r1"] and d["moved_split"] == ["r2"]
    s1, s2 = LabelSchema.of(["ORG", "PER"]).version, LabelSchema.of(["LOC", "ORG", "PER"]).version
    assert d["attributes_changed"]["label_schema"] == {"a": s1, "b": s2}
    assert d["schema_changes"] == {"a": s1, "b": s2, "labels_added": ["LOC"], "labels_removed": []}
    assert diff(store, ledger, "model_version:m/1", "model_version:m/2")["added"] == ["r6"]


def test_ledger_writes_a_version_once():
    store = LineageStore("sqlite://")
    ledger = RecordLedger(store)
    assert ledger.add("dataset_version:x", {"train": ["a", "b"]}) == 2
    assert ledger.add("dataset_version:x", {"train": ["a", "b"]}) == 0


def test_who_touched_reads_the_audit_log():
    entries = [{"at": "t1", "actor": "cli:ann", "action": "read.quarantine", "subject": "quarantine:b1", "details": {}},
               {"at": "t2", "actor": "dagster:r", "action": "export.dataset_version", "subject": "dataset_version:v9",
                "details": {"annotation_batch": "b1"}},
               {"at": "t3", "actor": "cli:bo", "action": "keys.rotate", "subject": "dataset:ner", "details": {}}]
    assert [e["at"] for e in who_touched(entries, "b1")] == ["t1", "t2"]


def test_lineage_commands_answer_in_json(graph, monkeypatch):
    url, _, _ = graph
    monkeypatch.setenv("LEPTON_LINEAGE_URL", url)
    runner = CliRunner()
    down = json.loads(runner.invoke(cli, ["lineage", "downstream", "r2", "--json"]).stdout)
    assert {m["node"] for m in down["model_versions"]} == {"model_version:m/1", "model_version:m/2"}
    up = json.loads(runner.invoke(cli, ["lineage", "upstream", "m/2", "--json"]).stdout)
    assert up["dataset_versions"][0]["records_by_split"] == {"train": 2, "dev": 1, "test": 2}
    d = json.loads(runner.invoke(cli, ["lineage", "diff", "v1", "v2", "--json"]).stdout)
    assert d["removed"] == ["r1"]
    missing = runner.invoke(cli, ["lineage", "upstream", "m/9"])
    assert missing.exit_code != 0 and "no lineage node" in missing.output


def test_completeness_names_each_gap(graph):
    from lepton.lineage.completeness import gaps

    _, store, ledger = graph
    assert gaps(store, ledger) == []
    stage = StageLineage(store, run_id="run-c", code_version="t")
    stage.add_dataset_version("v3", [], rows_train=5)                       # no records in the ledger
    stage.add_dataset_version("v4", [], members={"train": ["r1"]}, rows_train=2)  # fewer than it declares
    store.add_node("training_run", "orphan")                   # trained on nothing known
    found = {(g.node, g.rule) for g in gaps(store, ledger)}
    assert found == {("dataset_version:v3", "dataset version resolves to no records in the ledger"),
                     ("dataset_version:v4", "ledger holds 1 train records, the version declares 2"),
                     ("training_run:orphan", "training run resolves to no dataset version")}


def test_the_lineage_summary_pins_every_upstream_node_to_its_run_in_one_query(graph):
    """What each asset's materialization shows: the run that produced each upstream node (the
    earliest that wrote an edge into it; for a source, the run that first linked it onward),
    fetched in one statement however many parents there are."""
    import sqlalchemy as sa

    from lepton.lineage.queries import node_counts, pinned

    _, store, _ = graph
    c = StageLineage(store, run_id="run-c", code_version="later")
    c.add_dataset_version("v1", [], members={"train": ["r1", "r2", "r3"], "dev": ["r4"], "test": ["r5"]})  # v1 again: no new edge
    c.add_training_run("t3", "v1")
    statements = []

    def count(conn, cursor, statement, *rest):
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        got = pinned(store, [("dataset_version:v1", "trained-on"), ("training_run:t2", "read"),
                             ("dataset_version:v2", "read")])
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    by_node = {p["node"]: p for p in got}
    assert by_node["training_run:t2"] == {"node": "training_run:t2", "edge": "read", "version": "t2",
                                          "run_id": "run-b", "code_version": "t"}
    # v1 has no parents here (a source of the graph): pinned to the run that first linked it onward
    assert by_node["dataset_version:v1"]["run_id"] == "run-a"
    assert [p["node"] for p in got] == ["dataset_version:v1", "training_run:t2", "dataset_version:v2"]
    assert pinned(store, []) == []
    counts = node_counts(store, "model_version:m/2")
    assert counts["records_by_split"] == {"train": 2, "dev": 1, "test": 2}
    assert node_counts(store, None) == {}
    with pytest.raises(LookupError, match="no lineage node 'model_version:nope/1'"):
        node_counts(store, "model_version:nope/1")


def test_gate_queries_read_the_latest_result_of_each_suite(tmp_path):
    """What keeps a later run from building on a refused batch: the latest result wins, so a
    batch fixed and re-validated passes, and a suite that never ran counts as not passed."""
    from lepton.validation.gates import not_passed, passed_validation

    store = LineageStore(f"sqlite:///{tmp_path / 'lineage.db'}")
    StageLineage(store, run_id="run-1", code_version="t").add_validation("b1", "suite-a", False)
    assert passed_validation(store, "b1") is None
    fixed = StageLineage(store, run_id="run-2", code_version="t").add_validation("b1", "suite-a", True)
    assert passed_validation(store, "b1") == fixed
    assert not_passed(store, "b1", ["suite-a", "suite-b"]) == ["suite-b"]
    assert passed_validation(store, "never-validated") is None
