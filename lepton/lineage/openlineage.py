"""OpenLineage events for Lepton's stages, so Marquez, DataHub or any other OpenLineage
consumer sees the same datasets, versions and governance facts as Lepton's own lineage graph.

Events carry only ids, hashes, counts and class names: never keys, MACs, record text or
personal data. The core stays free of dagster; the orchestrator passes in its run id.
"""

from __future__ import annotations

import json
import os
import types
import typing
from collections.abc import Iterable
from datetime import datetime, timezone
from enum import Enum
from functools import cache
from importlib import import_module, resources
from pathlib import Path
from pkgutil import iter_modules
from urllib.parse import urlparse
from uuid import NAMESPACE_URL, UUID, uuid5

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    Dataset,
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.generated.base import BaseFacet, DatasetFacet, JobFacet, RunFacet
from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
from openlineage.client.generated.job_type_job import JobTypeJobFacet
from openlineage.client.generated.parent_run import (
    Job as ParentJob,
)
from openlineage.client.generated.parent_run import (
    ParentRunFacet,
    Root,
    RootJob,
    RootRun,
)
from openlineage.client.generated.parent_run import (
    Run as ParentRun,
)
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields
from openlineage.client.generated.tags_job import TagsJobFacet, TagsJobFacetFields
from openlineage.client.transport.file import FileConfig, FileTransport

PRODUCER = "https://github.com/lepton-ner/lepton"
DEFAULT_NAMESPACE = "lepton"
_FACET_SCHEMA_BASE = "https://github.com/lepton-ner/lepton/blob/main/lepton/lineage/facets"


def _facet_schema_url(name: str) -> str:
    return f"{_FACET_SCHEMA_BASE}/{name}.json#/$defs/{name}"


@attr.define
class LeptonManifestDatasetFacet(DatasetFacet):
    """Lets a catalogue tie a dataset version to the signed manifest that proves its contents."""

    merkle_root: str
    key_id: str | None = attr.field(default=None)
    manifest_sha256: str | None = attr.field(default=None)
    rows: dict[str, int] | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return _facet_schema_url("LeptonManifestDatasetFacet")


@attr.define
class LeptonGovernanceDatasetFacet(DatasetFacet):
    """Shows a dataset's exposure (class names and counts) without holding personal data."""

    sensitivity_classes: dict[str, int] | None = attr.field(default=None)
    pii_types: list[str] | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return _facet_schema_url("LeptonGovernanceDatasetFacet")


# Facet key -> our class; the key is what consumers look facets up by.
_CUSTOM_FACETS: dict[str, type[DatasetFacet]] = {
    "lepton_manifest": LeptonManifestDatasetFacet,
    "lepton_governance": LeptonGovernanceDatasetFacet,
}
_MANIFEST_KEYS = frozenset({"merkle_root", "key_id", "manifest_sha256", "rows"})
_GOVERNANCE_KEYS = frozenset({"sensitivity_classes", "pii_types"})


def dataset(name: str, version: str | None = None, fields: list[tuple[str, str]] | None = None,
            manifest: dict | None = None, governance: dict | None = None,
            namespace: str = DEFAULT_NAMESPACE) -> Dataset:
    """`manifest` and `governance` are allow-listed rather than filtered: a caller handing in a
    whole manifest (with its MAC and record HMACs) gets an error instead of a silent leak."""
    facets: dict[str, DatasetFacet] = {}
    if version is not None:
        facets["version"] = DatasetVersionDatasetFacet(datasetVersion=version, producer=PRODUCER)
    if fields:
        facets["schema"] = SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=n, type=t) for n, t in fields], producer=PRODUCER)
    if manifest:
        _only(manifest, _MANIFEST_KEYS, "manifest")
        facets["lepton_manifest"] = LeptonManifestDatasetFacet(producer=PRODUCER, **manifest)
    if governance:
        _only(governance, _GOVERNANCE_KEYS, "governance")
        facets["lepton_governance"] = LeptonGovernanceDatasetFacet(producer=PRODUCER, **governance)
    return Dataset(namespace=namespace, name=name, facets=facets)


def _only(given: dict, allowed: frozenset[str], what: str) -> None:
    if extra := sorted(set(given) - allowed):
        raise ValueError(f"{what} keys {extra} are not allowed in lineage events; "
                         f"allowed: {sorted(allowed)}")


def run_id_for(dagster_run_id: str, job: str) -> str:
    """One OpenLineage run per (Dagster run, asset): START and COMPLETE of the same asset pair
    up, and re-deriving the id needs nothing but the two names."""
    return str(uuid5(NAMESPACE_URL, f"{dagster_run_id}/{job}"))


def _as_uuid(run_id: str) -> str:
    """Dagster run ids are UUIDs already; anything else (a synthetic id in a script) is mapped
    stably, because the spec only accepts UUIDs and a parent must stay linkable."""
    try:
        return str(UUID(run_id))
    except ValueError:
        return str(uuid5(NAMESPACE_URL, run_id))


class Emitter:
    """Builds the events; delivery (file, HTTP, Kafka, ...) is entirely the client's."""

    def __init__(self, client: OpenLineageClient, namespace: str = DEFAULT_NAMESPACE):
        self.client, self.namespace = client, namespace

    def start(self, job: str, dagster_run_id: str, parent_job: str,
              code_version: str | None = None) -> RunEvent:
        return self._emit(RunState.START, job, dagster_run_id, parent_job, code_version)

    def complete(self, job: str, dagster_run_id: str, parent_job: str, inputs: Iterable[Dataset] = (),
                 outputs: Iterable[Dataset] = (), code_version: str | None = None) -> RunEvent:
        return self._emit(RunState.COMPLETE, job, dagster_run_id, parent_job, code_version,
                          inputs=[InputDataset(namespace=d.namespace, name=d.name, facets=d.facets)
                                  for d in inputs],
                          outputs=[OutputDataset(namespace=d.namespace, name=d.name, facets=d.facets)
                                   for d in outputs])

    def fail(self, job: str, dagster_run_id: str, parent_job: str, message: str,
             code_version: str | None = None) -> RunEvent:
        """`message` leaves the process: pass the error's kind and a fixed summary, never an
        exception text that may quote a record."""
        error = ErrorMessageRunFacet(message=message, programmingLanguage="PYTHON", producer=PRODUCER)
        return self._emit(RunState.FAIL, job, dagster_run_id, parent_job, code_version,
                          run_facets={"errorMessage": error})

    def close(self, timeout: float = -1.0) -> bool:
        return self.client.close(timeout)

    def _emit(self, state: RunState, job: str, dagster_run_id: str, parent_job: str,
              code_version: str | None, inputs: list[InputDataset] | None = None,
              outputs: list[OutputDataset] | None = None,
              run_facets: dict[str, RunFacet] | None = None) -> RunEvent:
        parent_id = _as_uuid(dagster_run_id)
        parent = ParentRunFacet(
            run=ParentRun(runId=parent_id), job=ParentJob(namespace=self.namespace, name=parent_job),
            root=Root(run=RootRun(runId=parent_id), job=RootJob(namespace=self.namespace, name=parent_job)),
            producer=PRODUCER)
        job_facets: dict[str, JobFacet] = {
            "jobType": JobTypeJobFacet(processingType="BATCH", integration="DAGSTER", jobType="ASSET",
                                       producer=PRODUCER)}
        if code_version:
            # A standard facet that catalogues already show, rather than a custom one.
            job_facets["tags"] = TagsJobFacet(
                tags=[TagsJobFacetFields(key="code_version", value=code_version, source="LEPTON")],
                producer=PRODUCER)
        event = RunEvent(
            eventType=state, eventTime=datetime.now(timezone.utc).isoformat(), producer=PRODUCER,
            run=Run(runId=run_id_for(dagster_run_id, job), facets={"parent": parent, **(run_facets or {})}),
            job=Job(namespace=self.namespace, name=job, facets=job_facets),
            inputs=inputs or [], outputs=outputs or [])
        self.client.emit(event)
        return event


def standard_config_present() -> bool:
    if os.environ.get("OPENLINEAGE_URL") or os.environ.get("OPENLINEAGE_CONFIG"):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT__") for k in os.environ):
        return True
    # The client also reads these two files unprompted; honour them the same way.
    return any(p.is_file() for p in (Path.cwd() / "openlineage.yml",
                                     Path("~/.openlineage/openlineage.yml").expanduser()))


def _client_from_openlineage_config() -> OpenLineageClient:
    """The client copies OPENLINEAGE_URL into OPENLINEAGE__TRANSPORT__TRANSPORTS__DEFAULT_HTTP__*
    variables as it starts; those would outlive a later change of OPENLINEAGE_URL and make the
    next emitter_from_env think a transport is configured, so they are taken back out."""
    before = set(os.environ)
    try:
        return OpenLineageClient()
    finally:
        for key in set(os.environ) - before:
            del os.environ[key]


def emitter_from_env(default_file: Path) -> Emitter | None:
    """Anyone who configures OpenLineage the standard way (OPENLINEAGE_URL, OPENLINEAGE_CONFIG,
    OPENLINEAGE__TRANSPORT__*, openlineage.yml) gets exactly that; everyone else still gets a
    JSON-lines record of every event in `default_file`, so lineage is never silently lost."""
    if os.environ.get("LEPTON_OPENLINEAGE", "").strip().lower() == "off":
        return None
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return None
    namespace = os.environ.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE
    if standard_config_present():
        return Emitter(_client_from_openlineage_config(), namespace)
    default_file = Path(default_file)
    default_file.parent.mkdir(parents=True, exist_ok=True)
    transport = FileTransport(FileConfig(log_file_path=str(default_file), append=True))
    return Emitter(OpenLineageClient(transport=transport), namespace)


# --- validation ---------------------------------------------------------------------------

class InvalidEvent(ValueError):
    pass


_RULES = {
    "eventTime": "must be an ISO-8601 date-time with a time part",
    "runId": "must be a UUID",
}
_URI_FIELDS = ("producer", "schemaURL", "_producer", "_schemaURL")


def validate_event(event: dict) -> None:
    """Rebuilds the event through openlineage-python's own classes, so the spec's rules are the
    library's rules (not a copy of them that drifts); on top of that every facet must say who
    produced it and where its schema is, and our facets must match their published schema."""
    if not isinstance(event, dict):
        raise InvalidEvent("event: must be a JSON object")
    if "run" in event:
        cls: type = RunEvent
    elif "dataset" in event:
        cls = DatasetEvent
    else:
        cls = JobEvent
    for key in ("producer", "schemaURL", "eventTime"):
        if key not in event:
            raise InvalidEvent(f"{key}: required")
    _build(cls, event, "")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_uri(path: str, value: object) -> None:
    parsed = urlparse(value) if isinstance(value, str) else None
    if not parsed or not parsed.scheme or not parsed.netloc:
        raise InvalidEvent(f"{path}: must be an absolute URI, got {value!r}")


def _build(cls: type, data: object, path: str, extra_ok: bool = False):
    if not isinstance(data, dict):
        raise InvalidEvent(f"{path or 'event'}: must be a JSON object")
    fields = {a.name: a for a in attr.fields(cls)}
    if not extra_ok and (unknown := sorted(set(data) - set(fields))):
        raise InvalidEvent(f"{_join(path, unknown[0])}: not a field of {cls.__name__}")
    hints = _hints(cls)
    kwargs = {}
    for name, a in fields.items():
        sub = _join(path, name)
        if name in _URI_FIELDS and name in data:
            _check_uri(sub, data[name])
        if not a.init:
            continue  # schemaURL / _schemaURL: the class fixes them; checked as URIs above
        if name not in data:
            if a.default is attr.NOTHING:
                raise InvalidEvent(f"{sub}: required")
            continue
        value = _convert(hints[name], data[name], sub)
        if a.validator is not None:
            try:
                a.validator(None, a, value)
            except (ValueError, TypeError) as e:
                raise InvalidEvent(f"{sub}: {_RULES.get(name, 'invalid')} ({e})") from None
        kwargs[a.alias] = value
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        raise InvalidEvent(f"{path or 'event'}: {e}") from None


def _convert(tp: object, value: object, path: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        arms = [a for a in args if a is not type(None)]
        return _convert(arms[0], value, path) if len(arms) == 1 else value
    if origin is list:
        if not isinstance(value, list):
            raise InvalidEvent(f"{path}: must be an array")
        return [_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidEvent(f"{path}: must be an object")
        if isinstance(args[1], type) and issubclass(args[1], BaseFacet):
            return {k: _facet(k, args[1], v, _join(path, k)) for k, v in value.items()}
        return {k: _convert(args[1], v, _join(path, k)) for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise InvalidEvent(f"{path}: must be one of {[m.value for m in tp]}, got {value!r}") from None
    if isinstance(tp, type) and attr.has(tp):
        return _build(tp, value, path)
    if tp in (str, int, float, bool):
        ok = isinstance(value, tp) if tp is not float else isinstance(value, (int, float))
        if not ok or (tp is not bool and isinstance(value, bool)):
            raise InvalidEvent(f"{path}: must be a {tp.__name__}, got {type(value).__name__}")
    return value


def _facet(key: str, slot: type[BaseFacet], data: object, path: str) -> BaseFacet:
    if not isinstance(data, dict):
        raise InvalidEvent(f"{path}: a facet must be a JSON object")
    for required in ("_producer", "_schemaURL"):
        if required not in data:
            raise InvalidEvent(f"{path}.{required}: required on every facet")
    if key in _CUSTOM_FACETS and slot is DatasetFacet:
        cls = _CUSTOM_FACETS[key]
        _check_custom(cls, data, path)
        return _build(cls, data, path)
    _check_uri(f"{path}._schemaURL", data["_schemaURL"])
    cls = _standard_facets().get(urlparse(data["_schemaURL"]).fragment.rpartition("/")[2], slot)
    if not issubclass(cls, slot):
        raise InvalidEvent(f"{path}: a {cls.__name__} cannot stand where a {slot.__name__} goes")
    return _build(cls, data, path, extra_ok=True)  # the spec lets facets carry more


def _check_custom(cls: type, data: dict, path: str) -> None:
    import jsonschema

    name = cls.__name__
    for err in jsonschema.Draft202012Validator(_custom_schema(name)).iter_errors(data):
        where = ".".join(str(p) for p in err.absolute_path)
        raise InvalidEvent(f"{_join(path, where) if where else path}: {err.message} "
                           f"(schema {name}, rule {err.validator})")
    if data["_schemaURL"] != cls._get_schema():
        raise InvalidEvent(f"{path}._schemaURL: must be {cls._get_schema()}")


@cache
def _custom_schema(name: str) -> dict:
    doc = json.loads(resources.files("lepton.lineage").joinpath("facets", f"{name}.json").read_text("utf-8"))
    return {"$schema": doc["$schema"], "$defs": doc["$defs"], "$ref": f"#/$defs/{name}"}


@cache
def _standard_facets() -> dict[str, type[BaseFacet]]:
    """Every facet class the library ships, by the `$defs` name its schema URL ends in, so a
    facet from another producer or an older spec version still meets its own class."""
    import openlineage.client.generated as generated

    found: dict[str, type[BaseFacet]] = {}
    for info in iter_modules(generated.__path__):
        if info.name == "base":  # the abstract slots; an unknown facet falls back to its slot
            continue
        module = import_module(f"{generated.__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseFacet) and obj.__module__ == module.__name__:
                found[obj.__name__] = obj
    return found


@cache
def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls)
