"""The steward review pack of one model version: everything a steward needs to approve
it, gathered from the stores that hold each fact (lineage, ledger, DVC, MLflow, the
workspace's governed records and tombstones), and the sign-off that closes it.

A sign-off is a lineage node and an audit entry that pin the SHA-256 of the exact pack
the steward read, so an approval cannot later be said to cover a different report.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from lepton.lineage.ledger import RecordLedger
from lepton.lineage.picture import draw_upstream
from lepton.lineage.queries import dataset_of_model
from lepton.lineage.review import render_review_pack
from lepton.lineage.store import LineageStore
from lepton.workspace import GOVERNED, WorkTree, erasures, ingested, stage_docs

if TYPE_CHECKING:  # the caller passes its audit log; lineage does not depend on governance
    from lepton.governance.audit import AuditLog

SIGNED_OFF_BY = "signs-off"  # edges read "dst <kind> src": the sign-off signs off the model
STATUSES = ("approved", "rejected")


class SignOffRefused(Exception):
    pass


def model_node(name: str, version: int) -> str:
    return f"model_version:{name}/{version}"


def _sensitivity(work: WorkTree) -> dict[str, str]:
    return {doc["record_id"]: doc["sensitivity"] for _, doc in stage_docs(work, GOVERNED)}


def _agreement(work: WorkTree, batch: str) -> dict | None:
    for pointer in sorted(work.annotation_pointers.glob(f"*-{batch}.json")):
        ag = json.loads(pointer.read_text())["agreement"]
        return {"mean_pairwise_f1": ag["entity_f1"], "kappa": ag["token_kappa"],
                "tasks": ag["tasks_multi_annotated"]}
    return None


def _curve(client, run_id: str, path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {m: client.get_metric_history(run_id, m) for m in ("train_loss", "dev_f1")}
    if not any(series.values()):
        return None
    fig, ax = plt.subplots(figsize=(7, 3))
    for name, hist in series.items():
        ax.plot([h.step for h in hist], [h.value for h in hist], marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def sign_offs(store: LineageStore, node: str) -> list[dict]:
    """Oldest first."""
    out = [{**store.get(child).attrs, "node": child} for child, kind in store.children(node) if kind == SIGNED_OFF_BY]
    return sorted(out, key=lambda s: s["at"])


def promotion_decisions(store: LineageStore, name: str, version: int) -> list[dict]:
    """The promotion gate's decisions on the version, oldest first, with the evaluation each read."""
    out = []
    for d in store.find("promotion_decision"):
        if not d.name.startswith(f"{name}/{version}@"):
            continue
        [evaluation] = [store.node(p).attrs for p, _ in store.parents(d.node_id) if p.startswith("model_evaluation:")]
        out.append({**{k: d.attrs.get(k) for k in ("at", "outcome", "champion", "refused_by", "reason", "actor")},
                    **{k: evaluation.get(k) for k in ("challenger_f1", "champion_f1", "delta", "delta_ci")}})
    return sorted(out, key=lambda x: x["at"] or "")


def label_schema_of(store: LineageStore, node: str, current) -> dict | None:
    """The label schema the model was made under (its labels and what annotators were told
    they mean), and whether it is the current one (`current`: a LabelSchema)."""
    model = store.get(node)
    version = (model.attrs.get("label_schema") if model else None)
    found = store.get(f"label_schema:{version}") if version else None
    if found is None:
        return None
    descriptions = found.attrs.get("descriptions") or {}
    return {"version": version, "current": version == current.version, "current_version": current.version,
            "labels": [{"name": n, "description": descriptions.get(n, "")} for n in found.attrs.get("labels", [])],
            "renamed": found.attrs.get("renamed") or {}, "removed": found.attrs.get("removed") or []}


def gather(store: LineageStore, mlflow, dvc, work: WorkTree, name: str, version: int, tmp: Path,
           min_agreement_f1: float, schema) -> tuple[dict, Path, Path | None]:
    """(pack, lineage picture, training curve) for the model version; `schema`: the current
    label schema, which the model's own is compared with."""
    node = model_node(name, version)
    walk = store.upstream(node)
    ledger = RecordLedger(store)
    client = mlflow.client()
    mv = client.get_model_version(name, str(version))
    run = client.get_run(mv.run_id)
    dataset = store.node(dataset_of_model(store, node))
    fetched = dvc.fetch_directory(dataset.name, tmp / "dataset")
    manifest = json.loads((fetched / "manifest.json").read_text())
    members = ledger.records(dataset.node_id)
    where = ingested(work)
    classes = _sensitivity(work)
    by_source: dict[str, Counter] = defaultdict(Counter)
    by_class: Counter = Counter()
    for split, ids in members.items():
        for rid in ids:
            by_source[where[rid]["source"] if rid in where else "(erased)"][split] += 1
            by_class[classes.get(rid, "(erased)")] += 1
    run_node = f"training_run:{mv.run_id}"
    validations = [n for _, n, _, _ in walk if n.kind == "validation_result"]
    validations += [store.get(c) for c, _ in store.children(run_node) if c.startswith("validation_result:")]
    batch = next((n.name for _, n, _, _ in walk if n.kind == "annotation_batch"), None)
    agreement = _agreement(work, batch) if batch else None
    if agreement is not None:
        agreement.update(threshold=min_agreement_f1,
                         passed=agreement["tasks"] == 0 or agreement["mean_pairwise_f1"] >= min_agreement_f1)
    chain_versions = {n.node_id for _, n, _, _ in walk if n.kind == "dataset_version"}
    affecting = [t for t in erasures(work) if node in t["model_versions_tainted"]
                 or chain_versions & {v for vs in t["held_in"].values() for v in vs}]
    tainted = mlflow.tainted(version) if name == mlflow.model_name else None
    champ = mlflow.champion() if name == mlflow.model_name else None
    champion = champ is not None and champ["version"] == version
    approvals = sign_offs(store, node)
    latest = approvals[-1] if approvals else {"status": "pending"}
    pack = {
        "model": {"name": name, "version": version, "node": node, "run_id": mv.run_id, "champion": champion,
                  "tainted": tainted is not None, "generated_at": datetime.now(timezone.utc).isoformat()},
        "manifest": {"dataset_version": dataset.name, "dataset": manifest["dataset"], "key_id": manifest["key_id"],
                     "merkle_root": manifest["merkle_root"], "rows": {s: e["rows"] for s, e in manifest["splits"].items()},
                     "labels": manifest["labels"], "provenance": manifest["provenance"], "seed": manifest["seed"]},
        "records_by_source": {k: dict(v) for k, v in sorted(by_source.items())},
        "records_by_sensitivity": dict(sorted(by_class.items())),
        "validations": [{"suite": v.attrs.get("suite"), "name": v.attrs.get("name", v.name),
                         "success": bool(v.attrs.get("success")), "node": v.node_id,
                         "at": (store.edge(store.parents(v.node_id)[0][0], v.node_id) or {}).get("created_at")}
                        for v in validations],
        "agreement": agreement,
        "label_schema": label_schema_of(store, node, schema),
        "training": {"metrics": {k: round(v, 4) for k, v in sorted(run.data.metrics.items())},
                     "params": dict(sorted(run.data.params.items()))},
        "erasures": [{"erasure": t["erasure"], "at": t["at"], "by": t["actor"],
                      "record_hash": ", ".join(h[:16] for h in t["record_hmacs"].values()),
                      "replaced_by": ", ".join(p["new"] for ps in t["dataset_versions_replaced"].values() for p in ps)}
                     for t in affecting],
        "chain": [{"depth": d, "node": n.node_id, "kind": n.kind, "edge": e,
                   **{k: (store.edge(n.node_id, c) or {}).get(k) for k in ("run_id", "code_version")}}
                  for d, n, e, c in walk],
        "promotion": promotion_decisions(store, name, version),
        "approval": {k: latest.get(k) for k in ("status", "by", "at", "note")},
        "sign_off_command": f"lepton lineage sign-off {name}/{version} --approve --by NAME --note TEXT",
    }
    picture = draw_upstream(walk, node, tmp / "lineage.png")
    return pack, picture, _curve(client, mv.run_id, tmp / "curve.png")


def write_pack(store: LineageStore, mlflow, dvc, work: WorkTree, name: str, version: int, out: Path,
               min_agreement_f1: float, schema) -> tuple[Path, dict]:
    with tempfile.TemporaryDirectory(prefix="lepton-pack-") as tmp:
        pack, picture, curve = gather(store, mlflow, dvc, work, name, version, Path(tmp), min_agreement_f1, schema)
        render_review_pack(pack, picture, out, curve)
    return out, pack


def sign_off(store: LineageStore, audit: AuditLog, mlflow, name: str, version: int, status: str, by: str,
             note: str, pack: Path | None) -> str:
    """Records the steward's decision on the pack they read. A tainted model (trained on an
    erased record) cannot be approved: it must be retrained first."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    tainted = mlflow.tainted(version) if status == "approved" else None
    if tainted:
        raise SignOffRefused(f"{name}/{version} is tainted by erasure {tainted}: retrain it before approval")
    node = model_node(name, version)
    if store.get(node) is None:
        raise LookupError(f"no lineage node {node!r}")
    at = datetime.now(timezone.utc).isoformat()
    digest = hashlib.sha256(Path(pack).read_bytes()).hexdigest() if pack else None
    nid = store.add_node("sign_off", f"{node}@{at}", name=node, status=status, by=by, note=note, at=at,
                         pack_sha256=digest)
    store.add_edge(node, nid, SIGNED_OFF_BY, code_version="review-1")
    audit.append("steward.sign_off", node, actor=by, status=status, note=note, pack_sha256=digest,
                 lineage_node=nid)
    return nid
