"""MLflow tracking and registry, with absolute URIs and an explicit artifact location:
MLflow's defaults are relative to the current directory, which differs between the
Dagster webserver, a run worker and the CLI."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

from lepton.storage import ensure_sqlite_parent, sqlite_path

CHAMPION = "champion"
_INITIALISED: set[str] = set()


def _labels(client, mv) -> list[str]:
    """A version's entity labels: its tag, else its run's label map (versions registered
    before the tag existed)."""
    if mv.tags.get("labels"):
        return json.loads(mv.tags["labels"])
    import mlflow

    from lepton.annotation.schema import labels_of_tags

    return list(labels_of_tags(mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/label_map.json")["labels"]))


class MlflowStore:
    def __init__(self, tracking_uri: str, experiment: str, artifact_location: str,
                 model_name: str):
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifact_location = artifact_location
        self.model_name = model_name
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        ensure_sqlite_parent(tracking_uri)

    def _activate(self) -> None:
        """MLflow resolves `models:/` URIs through the process-global tracking URI even when a
        client was given its own, so the global one must point at this store too."""
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        self._initialise_once()

    def _initialise_once(self) -> None:
        """MLflow creates and migrates a new database on first use; two runs doing that at
        once on one SQLite file collide inside alembic. The first use is serialised."""
        if self.tracking_uri in _INITIALISED:
            return
        from filelock import FileLock
        from mlflow import MlflowClient

        def touch() -> None:  # any call opens the store, creating and migrating it if needed
            MlflowClient(tracking_uri=self.tracking_uri).search_experiments(max_results=1)

        db = sqlite_path(self.tracking_uri)
        if db is None:
            touch()
        else:
            with FileLock(str(db) + ".init.lock"):
                touch()
        _INITIALISED.add(self.tracking_uri)

    def client(self):
        from mlflow import MlflowClient

        self._activate()
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def _experiment_id(self) -> str:
        client = self.client()
        exp = client.get_experiment_by_name(self.experiment)
        if exp is not None:
            return exp.experiment_id
        return client.create_experiment(self.experiment, artifact_location=self.artifact_location)

    @contextmanager
    def start_run(self, tags: dict | None = None, nested: bool = False):
        import mlflow

        self._activate()
        with mlflow.start_run(experiment_id=self._experiment_id(), tags=tags, nested=nested) as run:
            yield run

    def register(self, model_uri: str, run_id: str, f1: float, labels: list[str], schema_version: str,
                 model_id: str | None = None) -> dict:
        """Registers a version; only the promotion gate moves the champion alias to it. Its
        labels and label-schema version are tags, so whoever uses it can tell which schema it
        fits; `model_id` links the version to the LoggedModel that carries its metrics."""
        from mlflow.exceptions import MlflowException

        client = self.client()
        try:
            client.get_registered_model(self.model_name)
        except MlflowException:
            client.create_registered_model(self.model_name, description="Lepton NER span model")
        mv = client.create_model_version(self.model_name, model_uri, run_id=run_id, model_id=model_id,
                                         tags={"test_f1": f"{f1:.4f}", "labels": json.dumps(list(labels)),
                                               "label_schema_version": schema_version})
        return {"name": self.model_name, "version": int(mv.version), "f1": f1}

    def resolve(self, ref: str | int) -> int:
        """A version number from "3", "v3", "NAME/3", "models:/NAME/3", "@alias" or "alias"."""
        from mlflow.exceptions import MlflowException

        text = str(ref).strip().removeprefix("models:/").removeprefix(f"{self.model_name}/").removeprefix("v")
        if text.isdigit():
            return int(text)
        alias = text.removeprefix(f"{self.model_name}@").removeprefix("@")
        try:
            return int(self.client().get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException:
            raise LookupError(f"{ref!r} names no version of {self.model_name} (a number, NAME/N or an alias)") from None

    def version(self, version: int) -> dict:
        """What the gate and the commands need to know of a registered version."""
        client = self.client()
        mv = client.get_model_version(self.model_name, str(version))
        run = client.get_run(mv.run_id)
        return {"name": self.model_name, "version": int(mv.version), "run_id": mv.run_id,
                "test_f1": run.data.metrics.get("test_f1"), "labels": _labels(client, mv),
                "label_schema_version": mv.tags.get("label_schema_version"),
                "dataset_version": run.data.params.get("dataset_version"),
                "files_deleted_by": mv.tags.get("model_files_deleted_by"),
                "tainted_by": mv.tags.get("tainted_by") if mv.tags.get("tainted") == "true" else None}

    def set_champion(self, version: int) -> None:
        self.client().set_registered_model_alias(self.model_name, CHAMPION, str(version))

    def taint(self, version: int, erasure: str) -> None:
        """A model version trained on an erased record: tagged, so the registry UI, the review
        pack and the promotion gate all see it; the alias stays until a retrained version
        takes it, so serving does not stop."""
        client = self.client()
        client.set_model_version_tag(self.model_name, str(version), "tainted", "true")
        client.set_model_version_tag(self.model_name, str(version), "tainted_by", erasure)

    def tag_version(self, version: int, tag: str, value: str) -> None:
        self.client().set_model_version_tag(self.model_name, str(version), tag, value)

    def tag_values(self, tag: str) -> list[str]:
        """That tag's value on every version of the model that has it (none without a store)."""
        db = sqlite_path(self.tracking_uri)
        if db is not None and not db.exists():
            return []
        return [mv.tags[tag] for mv in self.client().search_model_versions(f"name='{self.model_name}'")
                if tag in mv.tags]

    def delete_model_files(self, version: int, erasure: str) -> None:
        """Deletes the version's logged model from the artifact store (local or remote, through
        MLflow's own artifact repositories): a model trained on erased records can hold their
        text (the tiny encoder's vocabulary is built from the training text). The registry
        entry, its metrics, tags and lineage stay, so history still says what it was."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        client = self.client()
        mv = client.get_model_version(self.model_name, str(version))
        # the version names its LoggedModel by id, or only through its source "models:/<id>"
        model_id = mv.model_id or (mv.source.removeprefix("models:/").split("/")[0]
                                   if (mv.source or "").startswith("models:/m-") else None)
        if model_id:
            get_artifact_repository(client.get_logged_model(model_id).artifact_location).delete_artifacts()
        else:
            get_artifact_repository(mv.source).delete_artifacts()
        client.set_model_version_tag(self.model_name, str(version), "model_files_deleted_by", erasure)

    def tainted(self, version: int) -> str | None:
        """The erasure that tainted the version, if any."""
        tags = self.client().get_model_version(self.model_name, str(version)).tags
        return tags.get("tainted_by") if tags.get("tainted") == "true" else None

    def champion(self) -> dict | None:
        from mlflow.exceptions import MlflowException

        db = sqlite_path(self.tracking_uri)
        if db is not None and not db.exists():
            return None  # no store yet, so no model: do not create one just to look
        try:
            mv = self.client().get_model_version_by_alias(self.model_name, CHAMPION)
        except MlflowException:  # no registered model or no alias yet
            return None
        return self.version(int(mv.version))

    def working_champion(self) -> dict | None:
        """The champion the pipeline may use on new text (pre-annotations, person-name
        detection): none while it is tainted, since it was trained on erased records and may
        reproduce them; the alias itself stays until a retrained version takes it."""
        champ = self.champion()
        return None if champ is None or champ["tainted_by"] else champ

    def predicting_model(self, ref: str = f"@{CHAMPION}") -> dict | None:
        """The version that predicts on pipeline data: the champion (none while it is tainted,
        see working_champion) or a pinned version, refused if tainted."""
        if ref in ("", f"@{CHAMPION}", CHAMPION):
            return self.working_champion()
        info = self.version(self.resolve(ref))
        if info["tainted_by"] or info["files_deleted_by"]:
            raise ValueError(f"the pinned prediction model {self.model_name} v{info['version']} is tainted by erasure "
                             f"{info['tainted_by'] or info['files_deleted_by']}: pin another (LEPTON_PREDICTION_MODEL)")
        return info

    def load_predictor(self, version: int | str):
        """What predicts for a version, a single model or an ensemble alike (its pyfunc's
        `predictor`: `predictions(texts, batch_size)` gives spans, scores and uncertainty)."""
        import mlflow

        self._activate()
        return mlflow.pyfunc.load_model(f"models:/{self.model_name}/{version}").unwrap_python_model().predictor

    def load_ner(self, version: int | str = f"@{CHAMPION}"):
        """A version's transformers model and tokenizer (by number, or "@alias"), for spans
        with token probabilities (the served pyfunc returns spans only)."""
        import mlflow

        self._activate()
        ref = f"{self.model_name}{version}" if str(version).startswith("@") else f"{self.model_name}/{version}"
        wrapped = mlflow.pyfunc.load_model(f"models:/{ref}").unwrap_python_model()
        return wrapped.model, wrapped.tokenizer
