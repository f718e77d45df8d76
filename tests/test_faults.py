"""Faults injected into a running pipeline and what must survive them. Each test names its
fault; bench/RESULTS.md keeps the table of what was injected and what held."""

import json
import subprocess

import dagster as dg
import pytest

from assets.ingestion import raw_documents
from lepton.corpus.sample import write_sample
from lepton.settings import Settings
from lepton.workspace import RAW
from pipelines.batches import register_landing
from pipelines.definitions import build_resources


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs (root only: skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_stops_ingestion_with_a_clear_error_and_corrupts_nothing(workspace_env, tmp_path, monkeypatch,
                                                                            small_disk):
    """The workspace on a full disk: the run fails naming the device error and the file, the
    keyring and registry stay readable, and the same run succeeds once there is room."""
    home = small_disk / "ws"
    monkeypatch.setenv("LEPTON_HOME", str(home))
    monkeypatch.setenv("LEPTON_LANDING", str(tmp_path / "landing"))
    s = Settings.from_env()
    write_sample(s.landing_dir, 6000, seed=3, conll_share=0.0)  # 2.4 MB in, 3.4 MB of records out
    (small_disk / "ballast").write_bytes(b"\0" * (4 << 20))      # leaves room for the copy, not the records
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        [key] = register_landing(s, instance)
        failed = dg.materialize([raw_documents], partition_key=key, instance=instance, resources=build_resources(s),
                                raise_on_error=False)
        assert not failed.success
        failure = next(e for e in failed.all_events if e.is_step_failure)
        message = str(failure.event_specific_data.error)
        assert "raw_documents: no space left on a device it writes to" in message and "Errno 28" in message
        # nothing the workspace had is damaged: the keyring and the batch registry still read
        assert json.loads(s.layout.keyring.read_text())
        assert json.loads(next(s.layout.batch_registry.glob("*.json")).read_text())["batch_key"] == key
        # with room again, the same run gives every record
        (small_disk / "ballast").unlink()
        ok = dg.materialize([raw_documents], partition_key=key, instance=instance, resources=build_resources(s))
    out = ok.output_for_node("raw_documents")
    assert out["accepted"] + out["quarantined"] == 6000
    assert len(s.layout.work.stage_file(RAW, key).read_text().splitlines()) == out["accepted"]


def test_ingestion_killed_mid_write_loses_nothing_on_the_next_run(workspace_env, tmp_path):
    """kill -9 of `dagster asset materialize` while it writes a batch's records: Dagster holds
    no materialization of the partition (nothing downstream reads the half-written file), and
    the same command run again counts every record in as accepted or quarantined."""
    import os
    import signal
    import sys
    import time
    from pathlib import Path

    s = Settings.from_env()
    write_sample(s.landing_dir, 60000, seed=4, conll_share=0.0)
    with dg.DagsterInstance.get() as instance:  # the workspace's, as the shell's commands find it
        [key] = register_landing(s, instance)
    env = {**os.environ, **workspace_env}
    dagster = str(Path(sys.executable).parent / "dagster")
    cmd = [dagster, "asset", "materialize", "-m", "pipelines.definitions", "--partition", key, "--select",
           "raw_documents"]
    records = s.layout.work.stage_file(RAW, key)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and not _writing(records, 100_000):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _writing(records, 1), "the run was killed before it wrote anything: the fault was not injected"
    # the half-written file is not where readers look, and Dagster holds no materialization
    assert not records.exists()
    with dg.DagsterInstance.get() as instance:
        assert instance.get_latest_materialization_event(dg.AssetKey("raw_documents")) is None
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("raw_documents"))
    meta = event.asset_materialization.metadata
    assert meta["records_in"].value == 60000 == meta["accepted"].value + meta["quarantined"].value
    assert len(records.read_text().splitlines()) == meta["accepted"].value
    assert not _writing(records, -1), "what the killed run left beside the file is gone"


def _writing(path, size: int) -> bool:
    """A writer (lepton.atomic.replaced) holds more than `size` bytes beside `path`."""
    return any(p.stat().st_size > size for p in path.parent.glob(f".{path.name}.*.tmp")) \
        if path.parent.exists() else False


def test_an_erasure_journal_line_cut_short_by_a_kill_is_done_again(tmp_path):
    """A kill in the middle of a journal append leaves half a line: the re-run reads the steps
    before it, and its own next entry starts a line of its own."""
    from lepton.governance.erasure import Journal

    journal = Journal(tmp_path / "j.jsonl")
    journal.record("started", records=["r1"])
    with journal.path.open("a") as fh:
        fh.write('{"step": "datasets", "repl')
    assert [e["step"] for e in journal.entries()] == ["started"]
    journal.record("datasets", replaced={})
    assert [e["step"] for e in journal.entries()] == ["started", "datasets"]


def test_two_runs_of_one_partition_at_once_take_turns(workspace_env, tmp_path):
    """Two `dagster asset materialize` of the same batch at the same moment (a retry launched
    while the first still runs): the second waits for the first's step, so the records file
    is one whole run's output, not two interleaved."""
    import os
    import sys
    from pathlib import Path

    s = Settings.from_env()
    write_sample(s.landing_dir, 30000, seed=6, conll_share=0.0)
    with dg.DagsterInstance.get() as instance:
        [key] = register_landing(s, instance)
    env = {**os.environ, **workspace_env}
    cmd = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "pipelines.definitions",
           "--partition", key, "--select", "raw_documents"]
    runs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    errors = [r.communicate(timeout=600)[1] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], [e[-2000:] for e in errors]
    with dg.DagsterInstance.get() as instance:
        events = instance.fetch_materializations(dg.AssetKey("raw_documents"), limit=10).records
    assert len(events) == 2
    # the steps did not overlap: the lineage START of each is sent once it holds the step,
    # and one run's COMPLETE comes before the other's START
    spans: dict = {}
    for line in s.layout.work.openlineage_events.read_text().splitlines():
        e = json.loads(line)
        if e["job"]["name"].endswith("raw_documents") and e["eventType"] in ("START", "COMPLETE"):
            spans.setdefault(e["run"]["runId"], {})[e["eventType"]] = e["eventTime"]
    first, second = sorted((v["START"], v["COMPLETE"]) for v in spans.values())
    assert first[1] <= second[0], spans
    meta = events[0].asset_materialization.metadata
    lines = s.layout.work.stage_file(RAW, key).read_bytes().splitlines()
    ids = [json.loads(line)["record_id"] for line in lines]
    assert len(ids) == len(set(ids)) == meta["accepted"].value
    assert meta["records_in"].value == 30000 == meta["accepted"].value + meta["quarantined"].value


def test_training_killed_mid_epoch_leaves_no_model_and_runs_again(tmp_path):
    """kill -9 after the first optimizer step of `lepton train`: no model or result is left in
    the output folder, and the same command then trains to the end."""
    import os
    import sys
    from pathlib import Path

    from lepton.corpus.sample import sample_records

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": r.text, "spans": [sp.to_dict() for sp in r.spans]}) + "\n"
                            for r in sample_records(120, seed=8)))
    out = tmp_path / "model"
    cmd = [str(Path(sys.executable).parent / "lepton"), "train", str(data), "--base", "tiny", "--epochs", "2",
           "--batch-size", "8", "--no-mlflow", "--out", str(out)]
    env = {**os.environ, "LEPTON_HOME": str(tmp_path / "ws"), "HF_HUB_OFFLINE": "1"}
    killed = subprocess.run(cmd, env={**env, "LEPTON_FAILPOINTS": "train.step"}, capture_output=True, text=True,
                            timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (out / "result.json").exists() and not any(out.rglob("*.safetensors"))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((out / "result.json").read_text())["best_epoch"] >= 1


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own, run as the postgres user from the machine's
    binaries: restarting it disturbs no other test. Yields (port, restart)."""
    import os
    import shutil
    import socket
    import tempfile
    from pathlib import Path

    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if os.geteuid() != 0 or not bins:
        pytest.skip("needs root and the machine's PostgreSQL binaries to run a server of its own")
    bindir = bins[-1].parent
    root = Path(tempfile.mkdtemp(prefix="lepton-pg-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"

    def pg(*args):
        done = subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-1000:]

    pg(bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres")
    pg(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", data / "server.log", "-w", "start")
    try:
        yield port, lambda: pg(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", data / "server.log", "-m", "fast",
                               "-w", "restart")
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_postgres_restarted_under_a_daemon_a_webserver_and_a_run(own_postgres, workspace_env):
    """The Dagster instance on PostgreSQL, restarted while the daemon, the webserver and an
    ingestion run are up: the run ends and says how (never left STARTED), the history is
    whole, the daemon and webserver carry on, and the next run succeeds."""
    import os
    import signal
    import socket
    import sys
    import time
    from pathlib import Path

    import httpx
    import yaml

    port, restart = own_postgres
    home = Path(workspace_env["DAGSTER_HOME"])
    (home / "dagster.yaml").write_text(yaml.safe_dump({
        "storage": {"postgres": {"postgres_db": {"hostname": "127.0.0.1", "port": port, "username": "postgres",
                                                 "password": "", "db_name": "postgres",
                                                 "scheme": "postgresql+psycopg2"}}},
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 5}, "telemetry": {"enabled": False}}))
    s = Settings.from_env()
    write_sample(s.landing_dir, 60000, seed=4, conll_share=0.0)
    with dg.DagsterInstance.get() as instance:
        [key] = register_landing(s, instance)
    env = {**os.environ, **workspace_env}
    bin_dir = Path(sys.executable).parent
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        web_port = sock.getsockname()[1]
    services = [subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", "-m", "pipelines.definitions"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
                subprocess.Popen([str(bin_dir / "dagster-webserver"), "-m", "pipelines.definitions", "-h", "127.0.0.1",
                                  "-p", str(web_port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)]
    cmd = [str(bin_dir / "dagster"), "asset", "materialize", "-m", "pipelines.definitions", "--partition", key,
           "--select", "raw_documents"]
    records = s.layout.work.stage_file(RAW, key)
    try:
        run = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 300
        while time.time() < deadline and not _writing(records, 100_000):
            time.sleep(0.05)
        assert run.poll() is None, "the run ended before the restart: the fault was not injected"
        restarted = time.time()
        restart()
        err = run.communicate(timeout=600)[1]

        def graphql(query: str) -> dict:
            r = httpx.post(f"http://127.0.0.1:{web_port}/graphql", json={"query": query}, timeout=30)
            r.raise_for_status()
            return r.json()["data"]

        with dg.DagsterInstance.get() as instance:
            [record] = instance.get_run_records()
            assert record.dagster_run.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
            assert (run.returncode == 0) == (record.dagster_run.status == dg.DagsterRunStatus.SUCCESS), err[-2000:]
            # the daemon's heartbeats resume after the restart
            deadline = time.time() + 120
            while time.time() < deadline:
                beats = instance.get_daemon_heartbeats()
                if beats and min(b.timestamp for b in beats.values()) > restarted:
                    break
                time.sleep(2)
            else:
                raise AssertionError(f"no daemon heartbeat since the restart: {beats}")
        deadline = time.time() + 120
        while True:  # the webserver answers from the restarted server, the history whole
            try:
                runs = graphql("{ runsOrError { ... on Runs { results { runId status } } } }")
                break
            except httpx.HTTPError:
                if time.time() > deadline:
                    raise
                time.sleep(2)
        assert [r["runId"] for r in runs["runsOrError"]["results"]] == [record.dagster_run.run_id]
        assert all(p.poll() is None for p in services), "the daemon or the webserver died"
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stderr[-2000:]
        assert len(graphql("{ runsOrError { ... on Runs { results { runId } } } }")["runsOrError"]["results"]) == 2
    finally:
        for p in services:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=60)
