"""OpenLineage events for Lepton's stages, so Marquez, DataHub or any other OpenLineage
consumer sees the same datasets, versions and governance facts as Lepton's own lineage graph.

Events carry only ids, hashes, counts and class names: never keys, MACs, record text or
personal data. The core stays free of dagster; the orchestrator passes in its run id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    Dataset,
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.generated.base import DatasetFacet, JobFacet, RunFacet
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
CUSTOM_FACETS: dict[str, type[DatasetFacet]] = {
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
