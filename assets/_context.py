"""Run facts every asset stamps on its lineage edges, and the lineage summary (pinned upstream
versions, counts, the query that shows more, the OpenLineage run) every asset shows.

Summaries and events carry ids, versions, hashes, counts and class names only: never record
text, keys or MACs.
"""

from collections.abc import Callable, Iterable

import dagster as dg

from lepton.lineage.events import VALIDATED_BY, StageLineage
from lepton.lineage.ledger import RecordLedger
from lepton.lineage.openlineage import Emitter, dataset, run_id_for
from lepton.lineage.queries import dataset_of_model
from lepton.lineage.store import LineageStore
from resources import LineageResource

# The schema of a record file (raw, clean, annotated, dataset split), as OpenLineage fields.
RECORD_FIELDS = [("record_id", "string"), ("source", "string"), ("line", "integer"), ("text", "string"),
                 ("spans", "array")]
# Integer node attributes that are ids or positions, not counts.
_NOT_COUNTS = frozenset({"project", "label_studio_project", "best_epoch", "sequence"})
# Nodes whose records the ledger counts (the nearest dataset version upstream).
_LEDGER_KINDS = frozenset({"dataset_version", "augmented_dataset", "training_run", "model_version"})


def stage_lineage(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, lineage: LineageResource, code_version: str) -> StageLineage:
    return StageLineage(lineage.store, run_id=context.run.run_id, code_version=code_version)


# (Dagster run id, asset) whose START this process sent: the failure hook closes exactly
# these with a FAIL (it runs in the failed step's process), not a check's op that had none.
_started: set[tuple[str, str]] = set()


def lineage_start(context: dg.AssetExecutionContext, lineage: LineageResource) -> None:
    """The OpenLineage START of this asset in this run: the first line of every asset."""
    if _emit(context, lineage, "START",
             lambda em: em.start(_job(context), context.run.run_id, context.job_name, _code_version(context))):
        _started.add((context.run.run_id, _job(context)))


def started(run_id: str, job: str) -> bool:
    return (run_id, job) in _started


def lineage_summary(context: dg.AssetExecutionContext, lineage: LineageResource, node: str | None, *,
                    inputs_extra: Iterable[str] = (), output: str | None = None, version: str | None = None,
                    fields: list[tuple[str, str]] | None = None, manifest: dict | None = None,
                    governance: dict | None = None, counts: dict | None = None) -> dict:
    """Metadata entries to merge into the asset's materialization, and its OpenLineage COMPLETE.

    `node`: the lineage node the asset wrote (None for an asset that writes none); its parents
    are the asset's inputs. `inputs_extra`: nodes read that are not parents of `node`.
    `output` / `version`: the output dataset's name and version where there is no node (the
    node id and its key otherwise). `fields`, `manifest`, `governance`: facets of the output.
    `counts`: counts the asset knows beyond its node's."""
    store = lineage.store
    inputs_extra = list(inputs_extra)
    parents = store.parents(node) if node else []
    upstream = ([_pinned(store, p, kind) for p, kind in parents]
                + [_pinned(store, p, "read") for p in inputs_extra])
    name = output or node
    if name is None:
        raise ValueError("lineage_summary needs a lineage node or an output name")
    query_node = node or (inputs_extra[0] if inputs_extra else None)
    meta = {
        "lineage_upstream": dg.MetadataValue.json(upstream),
        "lineage_counts": dg.MetadataValue.json({**_node_counts(store, node), **(counts or {})}),
    }
    if node:
        meta["lineage_node"] = node
    if query_node:
        meta["lineage_query"] = dg.MetadataValue.text(f"lepton lineage upstream {query_node} --json")

    def complete(em: Emitter) -> None:
        ins = [dataset(p, version=_key(p), namespace=em.namespace)
               for p, kind in parents if kind != VALIDATED_BY]  # a gate result is no input dataset
        ins += [dataset(p, version=_key(p), namespace=em.namespace) for p in inputs_extra]
        out = dataset(name, version=version or _key(name), fields=fields, manifest=manifest,
                      governance=governance, namespace=em.namespace)
        em.complete(_job(context), context.run.run_id, context.job_name, inputs=ins, outputs=[out],
                    code_version=_code_version(context))

    run_id = _emit(context, lineage, "COMPLETE", complete)
    if run_id is not None:
        meta["openlineage_run_id"] = run_id
    return meta


def _job(context: dg.AssetExecutionContext) -> str:
    return context.asset_key.to_user_string()


def _code_version(context: dg.AssetExecutionContext) -> str | None:
    return context.assets_def.code_versions_by_key.get(context.asset_key)


def _key(nid: str) -> str:
    return nid.partition(":")[2] or nid


def _emit(context: dg.AssetExecutionContext, lineage: LineageResource, state: str,
          send: Callable[[Emitter], object]) -> str | None:
    """The OpenLineage run id, or None when OpenLineage is off or the event could not be sent:
    lineage export must not stop the pipeline (the lineage store holds the same facts), but a
    failure is said, not swallowed."""
    try:
        emitter = lineage.emitter
        if emitter is None:
            return None
        send(emitter)
    except Exception as exc:  # noqa: BLE001 - any transport or configuration error
        context.log.warning(f"OpenLineage {state} event for {_job(context)} not sent: "
                            f"{type(exc).__name__}: {exc}")
        return None
    return run_id_for(context.run.run_id, _job(context))


def _pinned(store: LineageStore, nid: str, edge: str) -> dict:
    """An upstream node with the run (and code version) that produced it: the run that wrote
    the edges into it, the earliest where several did; for a source (an input file, a label
    schema, an alias change), which has none, the run that first linked it onward, i.e. the
    run that recorded it."""
    made = ([e for p, _ in store.parents(nid) if (e := store.edge(p, nid)) is not None]
            or [e for c, _ in store.children(nid) if (e := store.edge(nid, c)) is not None])
    first = min(made, key=lambda e: e["created_at"]) if made else {}
    return {"node": nid, "edge": edge, "version": _key(nid), "run_id": first.get("run_id"),
            "code_version": first.get("code_version")}


def _node_counts(store: LineageStore, nid: str | None) -> dict:
    if not nid:
        return {}
    node = store.get(nid)
    if node is None:
        raise LookupError(f"no lineage node {nid!r}")
    out = {k: v for k, v in sorted(node.attrs.items()) if k not in _NOT_COUNTS and _is_count(v)}
    if node.kind in _LEDGER_KINDS:
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
