"""OpenLineage emission through the real openlineage-python client and real transports:
a JSON-lines file, and an HTTP server on localhost standing in for Marquez."""

import copy
import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lepton.lineage.openlineage import PRODUCER, Emitter, dataset, emitter_from_env
from tests.openlineage_validation import InvalidEvent, validate_event

DAGSTER_RUN = "0f3c9a52-7d1e-4c38-9b0a-2e6d5f41a7c3"
MERKLE = "3" * 64
MANIFEST = {"merkle_root": MERKLE, "key_id": "dk-ner-1a2b3c4d", "manifest_sha256": "e" * 64,
            "rows": {"train": 80, "dev": 10, "test": 10}}
GOVERNANCE = {"sensitivity_classes": {"public": 70, "confidential": 30}, "pii_types": ["EMAIL", "PHONE"]}


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No OpenLineage configuration from the caller's shell, working directory or home."""
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE") or key == "LEPTON_OPENLINEAGE":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def _emit_asset(emitter: Emitter, job: str = "dataset_version") -> None:
    emitter.start(job, DAGSTER_RUN, "__ASSET_JOB", code_version="cv-7")
    annotations = dataset("ner/annotations", version="batch-12", fields=[("record_id", "string")])
    version = dataset("ner/dataset", version="v3", fields=[("record_id", "string"), ("spans", "array")],
                      manifest=MANIFEST, governance=GOVERNANCE)
    emitter.complete(job, DAGSTER_RUN, "__ASSET_JOB", inputs=[annotations], outputs=[version],
                     code_version="cv-7")
    emitter.close()


def _file_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_file_transport_writes_valid_start_and_complete(clean_env):
    path = clean_env / "lineage" / "events.jsonl"
    emitter = emitter_from_env(path)
    assert emitter is not None and emitter.namespace == "lepton"
    _emit_asset(emitter)

    events = _file_events(path)
    for event in events:
        validate_event(event)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    start, complete = events
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert complete["run"]["runId"] == str(uuid.uuid5(uuid.NAMESPACE_URL, f"{DAGSTER_RUN}/dataset_version"))
    assert complete["producer"] == PRODUCER

    parent = complete["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == DAGSTER_RUN
    assert parent["job"] == {"namespace": "lepton", "name": "__ASSET_JOB", "facets": {}}
    job_facets = complete["job"]["facets"]
    assert job_facets["jobType"]["integration"] == "DAGSTER" and job_facets["jobType"]["jobType"] == "ASSET"
    assert {"key": "code_version", "value": "cv-7", "source": "LEPTON"} in job_facets["tags"]["tags"]

    assert [d["name"] for d in complete["inputs"]] == ["ner/annotations"]
    assert set(complete["inputs"][0]["facets"]) == {"version", "schema"}  # only facets given
    out = complete["outputs"][0]["facets"]
    assert out["version"]["datasetVersion"] == "v3"
    assert [f["name"] for f in out["schema"]["fields"]] == ["record_id", "spans"]
    assert out["lepton_manifest"]["merkle_root"] == MERKLE
    assert out["lepton_manifest"]["rows"] == MANIFEST["rows"]
    assert out["lepton_governance"]["sensitivity_classes"] == {"public": 70, "confidential": 30}
    assert out["lepton_governance"]["pii_types"] == ["EMAIL", "PHONE"]
    assert out["lepton_manifest"]["_schemaURL"].endswith(
        "facets/LeptonManifestDatasetFacet.json#/$defs/LeptonManifestDatasetFacet")


def test_run_ids_differ_per_asset_and_file_appends(clean_env):
    path = clean_env / "events.jsonl"
    emitter = emitter_from_env(path)
    emitter.start("a", DAGSTER_RUN, "job")
    emitter.start("b", DAGSTER_RUN, "job")
    emitter.fail("b", DAGSTER_RUN, "job", "GateFailed: dataset checks")
    events = _file_events(path)
    assert len(events) == 3 and len({e["run"]["runId"] for e in events}) == 2
    assert events[2]["eventType"] == "FAIL"
    assert events[2]["run"]["facets"]["errorMessage"]["message"] == "GateFailed: dataset checks"
    for event in events:
        validate_event(event)


class _Recorder(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def lineage_server():
    handler = type("Recorder", (_Recorder,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.received
    server.shutdown()
    server.server_close()


def test_http_transport_posts_to_the_lineage_api(clean_env, monkeypatch, lineage_server):
    url, received = lineage_server
    monkeypatch.setenv("OPENLINEAGE_URL", url)
    monkeypatch.setenv("OPENLINEAGE_API_KEY", "s3cr3t-api-key")
    monkeypatch.setenv("OPENLINEAGE_NAMESPACE", "lepton-test")
    emitter = emitter_from_env(clean_env / "unused.jsonl")
    # The client's own copies of OPENLINEAGE_URL must not outlive it.
    assert not [k for k in os.environ if k.startswith("OPENLINEAGE__")]
    _emit_asset(emitter)

    assert not (clean_env / "unused.jsonl").exists()
    assert [path for path, _, _ in received] == ["/api/v1/lineage", "/api/v1/lineage"]
    assert all(headers["Authorization"] == "Bearer s3cr3t-api-key" for _, headers, _ in received)
    events = [body for _, _, body in received]
    for event in events:
        validate_event(event)
        assert "s3cr3t-api-key" not in json.dumps(event)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[1]["job"]["namespace"] == "lepton-test"
    assert events[1]["outputs"][0]["facets"]["lepton_manifest"]["merkle_root"] == MERKLE


def test_file_transport_configured_the_openlineage_way(clean_env, monkeypatch):
    target = clean_env / "ol" / "configured.jsonl"
    target.parent.mkdir()
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(target))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")
    default = clean_env / "default.jsonl"
    _emit_asset(emitter_from_env(default))
    assert not default.exists()
    assert [e["eventType"] for e in _file_events(target)] == ["START", "COMPLETE"]


def test_off_gives_no_emitter(clean_env, monkeypatch):
    monkeypatch.setenv("LEPTON_OPENLINEAGE", "off")
    monkeypatch.setenv("OPENLINEAGE_URL", "http://127.0.0.1:9")
    assert emitter_from_env(clean_env / "events.jsonl") is None
    assert not (clean_env / "events.jsonl").exists()


def test_dataset_refuses_manifest_keys_outside_the_allow_list():
    with pytest.raises(ValueError, match="manifest_mac"):
        dataset("ner/dataset", manifest={**MANIFEST, "manifest_mac": "f" * 64})
    assert set(dataset("x").facets) == set()


@pytest.fixture
def good_event(clean_env) -> dict:
    path = clean_env / "events.jsonl"
    _emit_asset(emitter_from_env(path))
    event = _file_events(path)[1]
    validate_event(event)
    return event


def _rejected(event: dict) -> str:
    with pytest.raises(InvalidEvent) as info:
        validate_event(event)
    return str(info.value)


def test_rejects_a_run_id_that_is_not_a_uuid(good_event):
    event = copy.deepcopy(good_event)
    event["run"]["runId"] = "run-42"
    message = _rejected(event)
    assert "run.runId" in message and "UUID" in message


def test_rejects_an_event_time_that_is_not_iso_8601(good_event):
    event = copy.deepcopy(good_event)
    event["eventTime"] = "yesterday at noon"
    message = _rejected(event)
    assert message.startswith("eventTime:") and "ISO-8601" in message


def test_rejects_an_unknown_event_type_and_a_relative_producer(good_event):
    event = copy.deepcopy(good_event)
    event["eventType"] = "DONE"
    assert _rejected(event).startswith("eventType: must be one of")
    event = copy.deepcopy(good_event)
    event["run"]["facets"]["parent"]["_producer"] = "lepton"
    assert "run.facets.parent._producer: must be an absolute URI" in _rejected(event)


def test_rejects_a_custom_facet_without_producer(good_event):
    event = copy.deepcopy(good_event)
    del event["outputs"][0]["facets"]["lepton_manifest"]["_producer"]
    message = _rejected(event)
    assert "outputs[0].facets.lepton_manifest._producer" in message and "required" in message


def test_rejects_a_manifest_facet_with_rows_of_the_wrong_type(good_event):
    event = copy.deepcopy(good_event)
    event["outputs"][0]["facets"]["lepton_manifest"]["rows"] = "100"
    message = _rejected(event)
    assert "lepton_manifest.rows" in message and "not of type 'object'" in message


def test_rejects_governance_values_that_look_like_personal_data(good_event):
    event = copy.deepcopy(good_event)
    event["outputs"][0]["facets"]["lepton_governance"]["pii_types"] = ["jane.doe@example.com"]
    message = _rejected(event)
    assert "lepton_governance.pii_types.0" in message and "pattern" in message

