"""Steward queries over the graph and the record ledger: what went into a model version,
where a record went, what changed between two versions, and who touched something."""

from __future__ import annotations

from collections import deque

from lepton.lineage.events import TRAINED_ON
from lepton.lineage.ledger import RecordLedger
from lepton.lineage.store import LineageStore, node_id

DOWNSTREAM_KINDS = ("augmented_dataset", "training_run", "model_version")


def _walk_down(store: LineageStore, start: str) -> list[tuple[str, str, str]]:
    """(node id, edge kind, parent) reachable from `start`, breadth first."""
    out, seen, queue = [], {start}, deque([start])
    while queue:
        cur = queue.popleft()
        for child, kind in store.children(cur):
            if child not in seen:
                seen.add(child)
                out.append((child, kind, cur))
                queue.append(child)
    return out


def downstream_of_record(store: LineageStore, ledger: RecordLedger, record_id: str) -> dict:
    """Every dataset version holding the record (and its split), and every training run and
    model version built on those versions."""
    versions = ledger.containers(record_id)
    reached: dict[str, dict] = {}
    for container, _ in versions:
        for nid, kind, parent in _walk_down(store, container):
            node = store.node(nid)
            if node.kind in DOWNSTREAM_KINDS:
                reached.setdefault(nid, {"node": nid, "kind": node.kind, "via": parent, "edge": kind,
                                         "pinned": store.edge(parent, nid)})
    return {"record": record_id,
            "dataset_versions": [{"node": c, "split": s} for c, s in versions],
            "training_runs": [v for v in reached.values() if v["kind"] == "training_run"],
            "model_versions": [v for v in reached.values() if v["kind"] == "model_version"],
            "derived_datasets": [v for v in reached.values() if v["kind"] == "augmented_dataset"],
            # what happened to it since: erasures name their records in their tombstone
            "erasures": [n.node_id for n in store.find("erasure") if record_id in n.attrs.get("records", [])]}


def upstream_of(store: LineageStore, ledger: RecordLedger, nid: str, with_records: bool = False) -> dict:
    """The chain below a node (a model version) with each edge's pinned run, and the records
    of every dataset version in it, counted by split (listed with `with_records`)."""
    walk = store.upstream(nid)
    chain = [{"depth": d, "node": n.node_id, "kind": n.kind, "edge": e, "child": c,
              "pinned": store.edge(n.node_id, c) if c else None} for d, n, e, c in walk]
    datasets = []
    for _, n, _, _ in walk:
        if n.kind == "dataset_version":
            entry = {"node": n.node_id, "records_by_split": ledger.counts(n.node_id)}
            if with_records:
                entry["records"] = ledger.records(n.node_id)
            datasets.append(entry)
    if any(n.kind == "training_run" for _, n, _, _ in walk):  # the version trained on first
        trained = dataset_of_model(store, nid)
        datasets.sort(key=lambda d: d["node"] != trained)
    return {"node": nid, "chain": chain, "dataset_versions": datasets}


def dataset_of_model(store: LineageStore, nid: str) -> str:
    """The dataset version the model (or training run) was trained on: reached by the
    trained-on edge (through an augmented dataset, if any), since a model's upstream also
    holds the evaluation sets it was scored on."""
    walk = store.upstream(nid)
    start = next((n.node_id for _, n, edge, _ in walk if edge == TRAINED_ON), None)
    if start is not None:
        walk = store.upstream(start)
    for _, n, _, _ in walk:
        if n.kind == "dataset_version":
            return n.node_id
    raise LookupError(f"{nid} does not resolve to a dataset version")


def diff(store: LineageStore, ledger: RecordLedger, a: str, b: str) -> dict:
    """Two dataset versions (or two model versions, by their dataset versions): records
    added, removed, moved between splits, and attributes that changed (label schema, key…)."""
    da = a if a.startswith("dataset_version:") else dataset_of_model(store, a)
    db = b if b.startswith("dataset_version:") else dataset_of_model(store, b)
    na, nb = store.get(da), store.get(db)
    if na is None or nb is None:
        raise LookupError(f"no lineage node {da if na is None else db!r}")
    changed = {k: {"a": na.attrs.get(k), "b": nb.attrs.get(k)} for k in sorted(set(na.attrs) | set(nb.attrs))
               if na.attrs.get(k) != nb.attrs.get(k)}
    return {"a": da, "b": db, **ledger.diff(da, db), "attributes_changed": changed,
            "schema_changes": _schema_changes(store, na.attrs.get("label_schema"), nb.attrs.get("label_schema"))}


def _schema_changes(store: LineageStore, a: str | None, b: str | None) -> dict:
    """The label set each version was annotated under, where they differ."""
    if a == b:
        return {}

    def labels(version: str | None) -> set[str]:
        node = store.get(node_id("label_schema", version)) if version else None
        return set(node.attrs.get("labels", [])) if node else set()

    return {"a": a, "b": b, "labels_added": sorted(labels(b) - labels(a)),
            "labels_removed": sorted(labels(a) - labels(b))}


def who_touched(entries: list[dict], subject: str) -> list[dict]:
    """Audit entries whose subject or details name `subject` (a record id, a batch, a version)."""
    return [e for e in entries if subject in e.get("subject", "")
            or any(subject in str(v) for v in (e.get("details") or {}).values())]


def dataset_node(version: str) -> str:
    return version if version.startswith("dataset_version:") else node_id("dataset_version", version)


# Integer node attributes that are ids or positions, not counts.
NOT_COUNTS = frozenset({"project", "label_studio_project", "best_epoch", "sequence"})
# Nodes whose records the ledger counts (the nearest dataset version upstream).
LEDGER_KINDS = frozenset({"dataset_version", "augmented_dataset", "training_run", "model_version"})


def version_of(nid: str) -> str:
    """A node id's key (`dataset_version:abc` -> `abc`): the version an event or summary names."""
    return nid.partition(":")[2] or nid


def pinned(store: LineageStore, upstream: list[tuple[str, str]]) -> list[dict]:
    """Each upstream (node, edge kind) with the run and code version that produced it, in one
    query: the run that wrote the edges into the node, the earliest where several did; for a
    source (an input file, a label schema, an alias change), which has none, the run that first
    linked it onward, i.e. the run that recorded it."""
    made: dict[str, dict] = {}
    linked: dict[str, dict] = {}
    for e in store.edges_touching(sorted({nid for nid, _ in upstream})):  # oldest first: keep the first seen
        made.setdefault(e["dst"], e)
        linked.setdefault(e["src"], e)
    out = []
    for nid, edge in upstream:
        first = made.get(nid) or linked.get(nid) or {}
        out.append({"node": nid, "edge": edge, "version": version_of(nid), "run_id": first.get("run_id"),
                    "code_version": first.get("code_version")})
    return out


def node_counts(store: LineageStore, nid: str | None) -> dict:
    """The counts a node carries (never ids or positions), and for a dataset, run or model the
    ledger's records per split of the dataset version it resolves to."""
    if not nid:
        return {}
    node = store.node(nid)
    out = {k: v for k, v in sorted(node.attrs.items()) if k not in NOT_COUNTS and _is_count(v)}
    if node.kind in LEDGER_KINDS:
        try:
            source = dataset_of_model(store, nid)
        except LookupError:
            pass  # an augmented dataset or run without a dataset version is a gap lineage_complete names
        else:
            out["records_by_split"] = RecordLedger(store).counts(source)
    return out


def _is_count(v: object) -> bool:
    if isinstance(v, dict):
        return bool(v) and all(_is_count(x) for x in v.values())
    return isinstance(v, int) and not isinstance(v, bool)
