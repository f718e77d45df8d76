"""Running the chain in process the way the sensors and a user would: register the landing
files as batch partitions and run each batch (which pushes its tasks to Label Studio),
pull the annotations back as a snapshot and run it through its gate, then build the
dataset and the model."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from lepton.settings import Settings
from pipelines.annotation_sync import pull_and_register
from pipelines.batches import register_landing
from pipelines.definitions import build_definitions


@dataclass
class ChainRun:
    batches: dict = field(default_factory=dict)      # record-batch key -> ingest run
    annotated: dict = field(default_factory=dict)    # record-batch key -> annotation run after its push
    snapshots: dict = field(default_factory=dict)    # record-batch key -> snapshot id after its push
    final: object = None

    def runs(self) -> list:
        return (list(self.batches.values()) + [r for r in self.annotated.values() if r is not None]
                + ([self.final] if self.final is not None else []))

    def materialized(self) -> set[str]:
        return {e.asset_key.to_user_string() for r in self.runs() for e in r.get_asset_materialization_events()}

    def only_batch(self):
        [result] = self.batches.values()
        return result


def tick(sensor, instance: dg.DagsterInstance, resources: dict, cursor: str | None = None):
    """One evaluation of a sensor, its resources opened as the daemon opens them."""
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def annotate(settings: Settings, instance: dg.DagsterInstance, raise_on_error: bool = True):
    """What the annotation sync sensor does, then the run it launches: (snapshot id, run) or (None, None)."""
    snap = pull_and_register(settings, instance)
    if snap is None:
        return None, None
    run = build_definitions(settings).resolve_job_def("annotation_batch").execute_in_process(
        instance=instance, partition_key=snap.snapshot_id, raise_on_error=raise_on_error)
    return snap.snapshot_id, run


def run_chain(settings: Settings, instance: dg.DagsterInstance, raise_on_error: bool = True,
              final: bool = True, after_push: Callable[[], None] | None = None) -> ChainRun:
    """`after_push` runs between each batch's push to Label Studio and the pull of its
    annotations: what a person does in Label Studio meanwhile."""
    defs = build_definitions(settings)
    out = ChainRun()
    for key in register_landing(settings, instance):
        out.batches[key] = defs.resolve_job_def("ingest_batch").execute_in_process(
            instance=instance, partition_key=key, raise_on_error=raise_on_error)
        if after_push is not None:
            after_push()
        out.snapshots[key], out.annotated[key] = annotate(settings, instance, raise_on_error)
    if final:
        out.final = defs.resolve_job_def("dataset_and_model").execute_in_process(
            instance=instance, raise_on_error=raise_on_error)
    return out


# Two records that are fine as delivered (a landing file's invalid spans are quarantined at
# ingestion), and the annotations a person then saves for them in Label Studio, which break
# the annotations contract: one runs past its text, one has a label outside the schema.
BAD_DOCS = [
    {"text": "Ana works at Acme.", "spans": [{"start": 13, "end": 17, "label": "ORG", "text": "Acme"}]},
    {"text": "Bob lives in Oslo.", "spans": [{"start": 0, "end": 3, "label": "PER", "text": "Bob"}]},
]
BAD_ANNOTATIONS = {"Ana works at Acme.": [{"start": 13, "end": 60, "label": "ORG"}],
                   "Bob lives in Oslo.": [{"start": 0, "end": 3, "label": "CREATURE"}]}


def write_bad_landing(landing: Path, docs: list[dict] = BAD_DOCS) -> None:
    (landing / "bad.jsonl").write_text("\n".join(json.dumps(b) for b in docs) + "\n")


def set_annotations(settings: Settings, spans_by_text: dict[str, list[dict]]) -> int:
    """Replaces, in Label Studio, the annotation of each task whose text is a key; returns how
    many it changed."""
    from lepton.annotation.convert import to_result
    from pipelines.annotation_sync import resource_from_env

    studio = resource_from_env(settings).studio()
    project = studio.find_project(settings.ls_project)
    changed = 0
    for task in studio.tasks(project):
        if task["data"]["text"] in spans_by_text:
            [ann] = task["annotations"]
            studio.update_annotation(ann["id"], to_result(spans_by_text[task["data"]["text"]]), task=task["id"])
            changed += 1
    return changed


def spoil_annotations(settings: Settings) -> None:
    """The person's bad annotations of BAD_DOCS (after_push for run_chain)."""
    changed = set_annotations(settings, {d["text"]: BAD_ANNOTATIONS[d["text"]] for d in BAD_DOCS})
    assert changed == len(BAD_DOCS), changed


REPO = Path(__file__).resolve().parent.parent


@contextmanager
def dagster_daemon(env: dict):
    """A real `dagster-daemon` (sensors, backfills, run queue) on the workspace's instance;
    yields a function that lists the instance's runs as (job, status, partition, backfill)."""
    home = Path(env["DAGSTER_HOME"])
    bin_dir = Path(sys.executable).parent
    daemon = subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)

    def runs():
        with dg.DagsterInstance.from_config(str(home)) as instance:
            return [(r.job_name, r.status.value, r.tags.get("dagster/partition"), r.tags.get("dagster/backfill"))
                    for r in instance.get_runs()]

    try:
        yield runs
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)


def wait_for(runs, pred, what: str, timeout: float = 240, fail_on_failure: bool = True):
    deadline = time.time() + timeout
    current = []
    while time.time() < deadline:
        current = runs()
        if pred(current):
            return current
        if fail_on_failure and any(r[1] == "FAILURE" for r in current):
            raise AssertionError(f"a run failed while waiting for {what}: {current}")
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}: {current}")
