import errno
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import dagster as dg

from lepton import workspace_lock
from lepton.lineage.events import VALIDATED_BY, StageLineage
from lepton.lineage.openlineage import Emitter, dataset, emitter_from_env, run_id_for, standard_config_present
from lepton.lineage.queries import node_counts, pinned, version_of
from lepton.lineage.store import LineageStore
from lepton.workspace import Layout

AnyContext = dg.AssetExecutionContext | dg.AssetCheckExecutionContext


class LineageResource(dg.ConfigurableResource):
    """SQLAlchemy URL of the lineage store: SQLite by default, PostgreSQL in production.

    `events_file`: where OpenLineage events go as JSON lines when OpenLineage is not configured
    the standard way (OPENLINEAGE_URL, OPENLINEAGE_CONFIG, ...); empty with no such
    configuration, no events are sent.

    `workspace_home`: where each step's lock lives (lepton.workspace.Layout.step_lock): two runs
    of one asset and partition take turns, the second waiting up to `lock_wait_seconds`."""

    url: str
    events_file: str = ""
    workspace_home: str = ""
    lock_wait_seconds: float = 600.0

    @cached_property
    def store(self) -> LineageStore:
        return LineageStore(self.url)

    @cached_property
    def emitter(self) -> Emitter | None:
        if not self.events_file and not standard_config_present():
            return None
        return emitter_from_env(Path(self.events_file))

    def stage(self, context: AnyContext, code_version: str | None) -> StageLineage:
        """The graph writer for one run: every edge it writes is pinned to the run and code version."""
        return StageLineage(self.store, run_id=context.run.run_id, code_version=code_version)

    @contextmanager
    def step(self, context: dg.AssetExecutionContext) -> Iterator["LineageStep"]:
        """Every asset's body runs inside one: OpenLineage START on entry, FAIL (naming the
        error's kind only) when the body raises, and COMPLETE with the lineage summary when it
        returns `step.complete(...)`. An asset that leaves without completing is a bug, said
        at once rather than left as a silent gap in the graph. Two runs of the same asset and
        partition take turns here (a retry launched while the first run still writes)."""
        if not self.workspace_home:
            with self._step(context) as step:
                yield step
            return
        partition = context.partition_key if context.has_partition_key else None
        name = context.asset_key.to_user_string()
        lock = Layout(Path(self.workspace_home)).step_lock(name.replace("/", "__"), partition)
        what = name + (f" for partition {partition}" if partition else "")
        with workspace_lock.one_at_a_time(lock, self.lock_wait_seconds, what), self._step(context) as step:
            yield step

    @contextmanager
    def _step(self, context: dg.AssetExecutionContext) -> Iterator["LineageStep"]:
        step = LineageStep(context, self)
        step.emit("START", lambda em: em.start(step.job, context.run.run_id, context.job_name, step.code_version))
        try:
            yield step
        except BaseException as exc:
            kind = type(exc).__name__
            # the exception's kind and where to read it, never its text (it may quote a record)
            step.emit("FAIL", lambda em: em.fail(step.job, context.run.run_id, context.job_name,
                                                 message=f"{kind} in {step.job}; see Dagster run {context.run.run_id}"))
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise DiskFull(f"{step.job}: no space left on a device it writes to"
                               f"{f' ({exc.filename})' if exc.filename else ''}; free space and run it again "
                               "(what a failed step wrote is not used)") from exc
            raise
        if not step.completed:
            raise RuntimeError(f"asset {step.job} left its lineage step without step.complete(...)")


class DiskFull(OSError):
    """A step stopped by a full disk, said plainly (the OSError alone names no step)."""


class LineageStep:
    """One asset materialisation's lineage: the graph writer (`stage`) and the summary and
    OpenLineage COMPLETE (`complete`). Summaries and events carry ids, versions, hashes, counts
    and class names only: never record text, keys or MACs."""

    def __init__(self, context: dg.AssetExecutionContext, lineage: LineageResource):
        self.context, self.lineage = context, lineage
        self.job = context.asset_key.to_user_string()
        self.code_version = context.assets_def.code_versions_by_key.get(context.asset_key)
        self.stage = lineage.stage(context, self.code_version)
        self.completed = False

    def complete(self, node: str | None, *, inputs_extra: Iterable[str] = (), output: str | None = None,
                 version: str | None = None, fields: list[tuple[str, str]] | None = None,
                 manifest: dict | None = None, governance: dict | None = None, counts: dict | None = None,
                 rows: int | None = None) -> dict:
        """Metadata entries to merge into the asset's materialization, and its OpenLineage COMPLETE.

        `node`: the lineage node the asset wrote (None for an asset that writes none); its parents
        are the asset's inputs. `inputs_extra`: nodes read that are not parents of `node`.
        `output` / `version`: the output dataset's name and version where there is no node (the
        node id and its key otherwise). `fields`, `manifest`, `governance`: facets of the output.
        `counts`: counts the asset knows beyond its node's. `rows`: the records the output holds.
        `fields` and `rows` are also Dagster's own `dagster/column_schema` and `dagster/row_count`,
        which its UI shows and its freshness and row-count checks read."""
        store = self.lineage.store
        inputs_extra = list(inputs_extra)
        parents = store.parents(node) if node else []
        name = output or node
        if name is None:
            raise ValueError("a lineage step completes with a lineage node or an output name")
        query_node = node or (inputs_extra[0] if inputs_extra else None)
        meta = {
            "lineage_upstream": dg.MetadataValue.json(pinned(store, parents + [(p, "read") for p in inputs_extra])),
            "lineage_counts": dg.MetadataValue.json({**node_counts(store, node), **(counts or {})}),
        }
        if fields:
            meta["dagster/column_schema"] = dg.TableSchema(
                columns=[dg.TableColumn(name=n, type=t) for n, t in fields])
        if rows is not None:
            meta["dagster/row_count"] = rows
        if node:
            meta["lineage_node"] = node
        if query_node:
            meta["lineage_query"] = dg.MetadataValue.text(f"lepton lineage upstream {query_node} --json")

        def send(em: Emitter) -> None:
            ins = [dataset(p, version=version_of(p), namespace=em.namespace)
                   for p, kind in parents if kind != VALIDATED_BY]  # a gate result is no input dataset
            ins += [dataset(p, version=version_of(p), namespace=em.namespace) for p in inputs_extra]
            out = dataset(name, version=version or version_of(name), fields=fields, manifest=manifest,
                          governance=governance, namespace=em.namespace)
            em.complete(self.job, self.context.run.run_id, self.context.job_name, inputs=ins, outputs=[out],
                        code_version=self.code_version)

        run_id = self.emit("COMPLETE", send)
        if run_id is not None:
            meta["openlineage_run_id"] = run_id
        self.completed = True
        return meta

    def emit(self, state: str, send: Callable[[Emitter], object]) -> str | None:
        """The OpenLineage run id, or None when OpenLineage is off or the event could not be sent:
        lineage export must not stop the pipeline (the lineage store holds the same facts), but a
        failure is said, not swallowed."""
        try:
            emitter = self.lineage.emitter
            if emitter is None:
                return None
            send(emitter)
        except Exception as exc:  # noqa: BLE001 - any transport or configuration error
            self.context.log.warning(f"OpenLineage {state} event for {self.job} not sent: "
                                     f"{type(exc).__name__}: {exc}")
            return None
        return run_id_for(self.context.run.run_id, self.job)
