"""What each pipeline stage writes to the lineage graph, in one place so the node and edge
vocabulary stays consistent. Edges read "dst <kind> src" (a dataset version is
derived-from an annotation batch) and always name the exact upstream version."""

from __future__ import annotations

from datetime import datetime, timezone

from lepton.lineage.store import LineageStore, node_id

DERIVED_FROM = "derived-from"
ANNOTATED_BY = "annotated-by"
VALIDATED_BY = "validated-by"
TRAINED_ON = "trained-on"
REGISTERED_FROM = "registered-from"
GOVERNED_BY = "governed-by"
PROMOTED_BY = "promoted-by"
EVALUATED_BY = "evaluated-by"
ENSEMBLE_OF = "ensemble-of"  # an ensemble version is an ensemble-of each member version
HOLDS_OUT = "holds-out"  # a dataset version holds-out the frozen evaluation set (its test split has it)


class StageLineage:
    def __init__(self, store: LineageStore, run_id: str | None, code_version: str | None):
        self.store, self.run_id, self.code_version = store, run_id, code_version

    def _edge(self, src: str, dst: str, kind: str) -> None:
        self.store.add_edge(src, dst, kind, run_id=self.run_id, code_version=self.code_version)

    def add_record_batch(self, batch_id: str, files: list[dict]) -> str:
        batch = self.store.add_node("record_batch", batch_id,
                                    accepted=sum(f["accepted"] for f in files),
                                    quarantined=sum(f["quarantined"] for f in files))
        for f in files:
            src = self.store.add_node("input_file", f"{f['source']}@{f['sha256'][:16]}", name=f["source"],
                                      sha256=f["sha256"], records_in=f["records_in"],
                                      accepted=f["accepted"], quarantined=f["quarantined"])
            self._edge(src, batch, DERIVED_FROM)
        return batch

    def add_clean_batch(self, record_batch: str, **attrs) -> str:
        nid = self.store.add_node("clean_batch", record_batch, **attrs)
        self._edge(node_id("record_batch", record_batch), nid, DERIVED_FROM)
        return nid

    def add_pii_findings(self, record_batch: str, **attrs) -> str:
        """The batch's personal-data findings (types and offsets, never values)."""
        nid = self.store.add_node("pii_findings", record_batch, **attrs)
        self._edge(node_id("clean_batch", record_batch), nid, DERIVED_FROM)
        return nid

    def add_governed_batch(self, record_batch: str, **attrs) -> str:
        """The batch after the sensitivity policy: what annotation and training may see."""
        nid = self.store.add_node("governed_batch", record_batch, **attrs)
        self._edge(node_id("clean_batch", record_batch), nid, GOVERNED_BY)
        findings = node_id("pii_findings", record_batch)
        if self.store.get(findings) is not None:  # batches governed before findings were nodes have none
            self._edge(findings, nid, DERIVED_FROM)
        return nid

    def add_prediction_batch(self, record_batch: str, model: str, **attrs) -> str:
        """A model version's spans on a batch's cleaned records (the predictions asset), read by
        person-name detection and pre-annotation; `model` is NAME/VERSION."""
        nid = self.store.add_node("prediction_batch", f"{record_batch}@{model}", model_version=model, **attrs)
        self._edge(node_id("clean_batch", record_batch), nid, DERIVED_FROM)
        self._edge(node_id("model_version", model), nid, DERIVED_FROM)
        return nid

    def add_label_schema(self, schema, project: int) -> str:
        """A label schema (lepton.annotation.schema.LabelSchema) is a node of its own: a
        changed file is a new version, derived from the version before it, and every
        annotation batch, dataset version, training run and model names the version it was
        made under."""
        nid = node_id("label_schema", schema.version)
        if self.store.get(nid) is not None:
            return nid
        before = self.store.find("label_schema")
        self.store.add_node("label_schema", schema.version, labels=list(schema.names), renamed=schema.renamed,
                            descriptions={lab.name: lab.description for lab in schema.labels},
                            removed=list(schema.removed), file=schema.source, label_studio_project=project)
        if before:
            self._edge(before[-1].node_id, nid, DERIVED_FROM)
        return nid

    def add_annotation_tasks(self, record_batch: str, project: int, schema: str, predictions: str | None = None,
                         **attrs) -> str:
        nid = self.store.add_node("annotation_tasks", f"{record_batch}@project-{project}", project=project,
                                  label_schema=schema,
                                  **attrs)
        self._edge(node_id("governed_batch", record_batch), nid, DERIVED_FROM)
        self._edge(node_id("label_schema", schema), nid, DERIVED_FROM)
        if predictions is not None:
            self._edge(predictions, nid, DERIVED_FROM)
        return nid

    def add_annotation_batch(self, annotation_batch: str, record_batches: list[str], project: int | None = None,
                   schema: str | None = None, **attrs) -> str:
        nid = self.store.add_node("annotation_batch", annotation_batch, label_schema=schema, **attrs)
        for rb in record_batches:
            src = (node_id("annotation_tasks", f"{rb}@project-{project}") if project is not None
                   else node_id("governed_batch", rb))
            self._edge(src, nid, ANNOTATED_BY)
        if schema is not None:
            self._edge(node_id("label_schema", schema), nid, DERIVED_FROM)
        return nid

    def _validation(self, parent: str, name: str, suite: str, success: bool, **attrs) -> str:
        """One node per validation run (keyed by the Dagster run, or the time of a CLI rerun):
        a batch fixed and re-validated keeps its failed result beside the passing one."""
        attempt = self.run_id or "rerun-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        nid = self.store.add_node("validation_result", f"{suite}@{name}@{attempt}", name=name, suite=suite,
                                  success=success, **attrs)
        self._edge(parent, nid, VALIDATED_BY)
        return nid

    def add_validation(self, annotation_batch: str, suite_key: str, success: bool, **attrs) -> str:
        return self._validation(node_id("annotation_batch", annotation_batch), annotation_batch, suite_key, success,
                                **attrs)

    def add_dataset_version(self, version: str, batches: list[tuple[str, str]], members: dict[str, list[str]] | None = None,
                **attrs) -> str:
        """`batches`: (annotation batch id, id of its passing validation) for each batch used;
        `members`: split -> record ids, written to the record ledger."""
        nid = self.store.add_node("dataset_version", version, **attrs)
        if members is not None:
            from lepton.lineage.ledger import RecordLedger

            RecordLedger(self.store).add(nid, members)
        for annotation_batch, validation in batches:
            self._edge(node_id("annotation_batch", annotation_batch), nid, DERIVED_FROM)
            self._edge(validation, nid, VALIDATED_BY)
        return nid

    def add_derived(self, nid: str, source: str) -> None:
        """`nid` derived-from `source` (both node ids)."""
        self._edge(source, nid, DERIVED_FROM)

    def add_held_out(self, dataset_version: str, eval_set_version: str) -> None:
        """The frozen evaluation set a dataset version kept out of its train and dev splits."""
        self._edge(node_id("dataset_version", eval_set_version), node_id("dataset_version", dataset_version),
                   HOLDS_OUT)

    def add_training_run(self, run_id: str, dataset_version: str, augmentation: dict | None = None, **attrs) -> str:
        """With augmentation, the run is trained on a derived dataset (the version's train
        split augmented by a recorded configuration), itself derived from the version."""
        nid = self.store.add_node("training_run", run_id, **attrs)
        source = node_id("dataset_version", dataset_version)
        if augmentation:
            derived = self.store.add_node("augmented_dataset", f"{dataset_version}+{augmentation['key']}",
                                          augmentation_key=augmentation["key"],
                                          **{k: v for k, v in augmentation.items() if k != "key"})
            self._edge(source, derived, DERIVED_FROM)
            source = derived
        self._edge(source, nid, TRAINED_ON)
        return nid

    def add_batch_validation(self, record_batch: str, suite: str, success: bool, **attrs) -> str:
        """A contract check of an ingested record batch."""
        return self._validation(node_id("record_batch", record_batch), record_batch, suite, success, **attrs)

    def add_dataset_validation(self, version: str, suite: str, success: bool, **attrs) -> str:
        """A dataset-level check result, named by the dataset version it judged."""
        return self._validation(node_id("dataset_version", version), version, suite, success, **attrs)

    def add_completeness_check(self, training_run: str, suite: str, success: bool, **attrs) -> str:
        """The graph-completeness check made before promoting the model of a training run."""
        return self._validation(training_run, training_run, suite, success, **attrs)

    def add_model_version(self, name: str, version: int, training_run: str, **attrs) -> str:
        nid = self.store.add_node("model_version", f"{name}/{version}", **attrs)
        self._edge(node_id("training_run", training_run), nid, REGISTERED_FROM)
        return nid

    def add_ensemble_version(self, name: str, version: int, members: list[int], **attrs) -> str:
        """A registered ensemble: a model version derived from each member version."""
        nid = self.store.add_node("model_version", f"{name}/{version}", members=members, **attrs)
        for m in members:
            self._edge(node_id("model_version", f"{name}/{m}"), nid, ENSEMBLE_OF)
        return nid

    def add_alias_change(self, name: str, alias: str, version: int, previous: int | None,
                         decision: str | None = None, **attrs) -> str:
        """An alias moved to a model version, by the promotion decision `decision` (a node id)
        or by a rollback; `at` orders the moves, so a rollback finds the champion before."""
        nid = self.store.add_node("alias_change", f"{name}@{alias}@{self.run_id}", alias=alias, version=version,
                                  previous=previous, at=datetime.now(timezone.utc).isoformat(), **attrs)
        self._edge(nid, node_id("model_version", f"{name}/{version}"), PROMOTED_BY)
        if decision is not None:
            self._edge(decision, nid, DERIVED_FROM)
        return nid

    def add_model_evaluation(self, name: str, challenger: int, champion: int | None, scored_on: dict,
                             **attrs) -> str:
        """Challenger and champion scored on one evaluation set version in one run."""
        nid = self.store.add_node("model_evaluation", f"{name}/{challenger}@{self.run_id}", challenger=challenger,
                                  champion=champion, scored_on=scored_on, **attrs)
        # "the model version is evaluated-by the evaluation": both versions point back to it
        self._edge(nid, node_id("model_version", f"{name}/{challenger}"), EVALUATED_BY)
        if champion is not None:
            self._edge(nid, node_id("model_version", f"{name}/{champion}"), EVALUATED_BY)
        if scored_on.get("kind") == "frozen":
            self._edge(node_id("dataset_version", scored_on["version"]), nid, DERIVED_FROM)
        return nid

    def add_promotion_decision(self, evaluation: str, name: str, challenger: int, **attrs) -> str:
        """The gate's decision on an evaluation, passed or refused, with the rules that refused it."""
        nid = self.store.add_node("promotion_decision", f"{name}/{challenger}@{self.run_id}", **attrs)
        self._edge(evaluation, nid, DERIVED_FROM)
        return nid
