"""Restricted text must not reach Label Studio, logs, Dagster metadata or storage, MLflow,
the lineage store, the audit log or the DVC remote in clear. Plant canaries, run the chain,
scan every byte of those stores: Label Studio both through its API (every task,
annotation and prediction) and on disk (its database and logs)."""

import json
from pathlib import Path

import dagster as dg

from lepton.corpus.sample import write_sample
from lepton.settings import Settings
from lepton.workspace import GOVERNED
from tests.chain import run_chain

CANARY_NAME = "Quaxworthington"
CANARY_CARD = "4111 1111 1111 1111"
CANARY_IBAN = "GB82 WEST 1234 5698 7654 32"
NEEDLES = [CANARY_NAME, CANARY_CARD, CANARY_CARD.replace(" ", ""), CANARY_IBAN, CANARY_IBAN.replace(" ", "")]


def _canary_docs():
    docs = []
    for i, (pii, what) in enumerate([(CANARY_CARD, "card"), (CANARY_IBAN, "IBAN")]):
        text = f"Zed {CANARY_NAME} paid Acme Labs by {what} {pii} in Berlin (case {i})."
        start = text.index(CANARY_NAME)
        docs.append({"text": text, "spans": [
            {"start": start - 4, "end": start + len(CANARY_NAME), "label": "PER"},
            {"start": text.index("Acme"), "end": text.index("Acme") + 9, "label": "ORG"},
            {"start": text.index("Berlin"), "end": text.index("Berlin") + 6, "label": "LOC"}]})
    return docs


def _scan(root: Path) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n!r}" for n in NEEDLES if n.encode() in data]
    return hits


def test_restricted_canaries_never_leave_in_clear(studio_env, tmp_path, capfd, caplog, label_studio):
    s = Settings.from_env()
    write_sample(s.landing_dir, 120, seed=17)
    (s.landing_dir / "canary.jsonl").write_text("".join(json.dumps(d) + "\n" for d in _canary_docs()))
    instance_dir = tmp_path / "dagster"
    instance_dir.mkdir()
    with dg.instance_for_test(temp_dir=str(instance_dir)) as instance:
        chain = run_chain(s, instance)
        assert chain.final.success
        canary = next(r for k, r in chain.batches.items() if k.startswith("canary.jsonl"))
        assert canary.output_for_node("sensitivity")["withheld"] == 2
        runs = list(chain.batches.values()) + [chain.final]
        metadata_dump = json.dumps([str(e) for r in runs for e in instance.all_logs(r.run_id)])
    raw = Path(canary.output_for_node("raw_documents")["records_path"])
    assert CANARY_NAME in raw.read_text(), "the canaries were ingested: the scan below can fail"

    work = s.layout.work
    stores = [instance_dir, s.layout.mlflow_db.parent, s.layout.dvc_repo.parent, s.layout.audit_log.parent,
              work.root / GOVERNED, work.annotations, work.validation]
    leaks = [h for root in stores for h in _scan(root)]
    leaks += [f"lineage.db: {n!r}" for n in NEEDLES if n.encode() in s.layout.lineage_db.read_bytes()]
    leaks += [f"event log: {n!r}" for n in NEEDLES if n in metadata_dump]
    out, err = capfd.readouterr()
    leaks += [f"stdout/stderr: {n!r}" for n in NEEDLES if n in out + err]
    leaks += [f"python logs: {n!r}" for n in NEEDLES if n in caplog.text]
    from pipelines.annotation_sync import resource_from_env

    studio = resource_from_env(s).studio()
    served = json.dumps(studio.tasks(studio.find_project(s.ls_project)), ensure_ascii=False)
    assert "Acme" in served, "tasks reached Label Studio: the scan below can fail"
    leaks += [f"label studio API: {n!r}" for n in NEEDLES if n in served]
    pushed = studio.tasks(studio.find_project(s.ls_project))[0]["data"]["record_id"].encode()
    assert any(pushed in p.read_bytes() for p in label_studio.home.rglob("*.sqlite3*")), \
        "the server's database holds the pushed tasks: the file scan can fail"
    leaks += [f"label studio files: {h}" for h in _scan(label_studio.home)]
    assert leaks == []
