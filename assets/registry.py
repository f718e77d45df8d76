import dagster as dg

from assets.lineage import CHECK, lineage_graph
from lepton.governance.audit import ANCHOR, anchor
from lepton.lineage.store import node_id
from lepton.validation.gates import not_passed
from resources import GovernanceResource, LineageResource, MlflowResource

CODE_VERSION = "registry-1"


class LineageIncomplete(Exception):
    pass


@dg.asset(
    group_name="registry", kinds={"mlflow"}, owners=["team:ml"], code_version=CODE_VERSION,
    deps=[lineage_graph],
    description="Registers the trained model in the MLflow registry (its labels and label schema as tags); "
                "the champion alias moves only through the promotion_gate check on model_evaluation.",
)
def registered_model(context: dg.AssetExecutionContext, ner_model: dict, mlflow: MlflowResource,
                     lineage: LineageResource, governance: GovernanceResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        stage = step.stage
        # The blocking lineage_complete check stops this asset within a run; this guard covers
        # a later run that would register a model whose lineage was found incomplete.
        run_node = node_id("training_run", ner_model["run_id"])
        if not_passed(lineage.store, run_node, [CHECK]):
            raise LineageIncomplete(f"{run_node} has no passing lineage_complete check; see the lineage_graph "
                                    "asset's check for the gaps")
        previous = mlflow.store().champion()
        reg = mlflow.store().register(ner_model["model_uri"], ner_model["run_id"], ner_model["test_f1"],
                                      ner_model["labels"], ner_model["label_schema_version"],
                                      model_id=ner_model.get("model_id"))
        # F1 under another label set is another measure: say so wherever the two meet
        schema_change = (f"{previous['name']} v{previous['version']} was trained under label schema "
                         f"{previous.get('label_schema_version') or '(unrecorded)'} ({', '.join(previous['labels'])}); "
                         f"this version under {ner_model['label_schema_version']} ({', '.join(ner_model['labels'])}): "
                         "their F1 scores are on different label sets"
                         if previous and previous.get("label_schema_version") != ner_model["label_schema_version"]
                         else "")
        if schema_change:
            context.log.warning(schema_change)
        node = stage.add_model_version(
            reg["name"], reg["version"], ner_model["run_id"], test_f1=round(ner_model["test_f1"], 4),
            dataset_version=ner_model["dataset_version"],
            label_schema=ner_model["label_schema_version"])
        # the audit log's head, anchored where a writer of the workspace cannot rewrite it
        seq, mac = anchor(governance.audit(), lineage.store)
        mlflow.store().tag_version(reg["version"], ANCHOR, f"{seq}:{mac}")
        return dg.Output(
            reg,
            metadata={
                "model": reg["name"], "version": reg["version"],
                "test_f1": dg.MetadataValue.float(reg["f1"]),
                "champion_before": f"v{previous['version']}" if previous else "(none)",
                "model_uri": f"models:/{reg['name']}/{reg['version']}",
                "audit_anchor": f"entry {seq}: {mac[:16]}",
                "label_schema_version": ner_model["label_schema_version"],
                "label_schema_change": schema_change or "none",
                **step.complete(node),
            },
        )
