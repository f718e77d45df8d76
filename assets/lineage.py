import dagster as dg

from assets.training import ner_model
from lepton.lineage.completeness import gaps
from lepton.lineage.ledger import RecordLedger
from lepton.lineage.picture import draw_upstream
from lepton.lineage.store import node_id
from resources import LineageResource, WorkspaceResource

CODE_VERSION = "lineage-1"
CHECK = "lineage_complete"


@dg.asset(
    group_name="governance", kinds={"python"}, owners=["team:data-governance"], code_version=CODE_VERSION,
    deps=[ner_model],
    description="The governance lineage graph after training: node and record counts, the trained run's "
                "pinned chain down to its input files, and a picture of it.",
)
def lineage_graph(context: dg.AssetExecutionContext, ner_model: dict, lineage: LineageResource,
                  workspace: WorkspaceResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        store = lineage.store
        run = node_id("training_run", ner_model["run_id"])
        walk = store.upstream(run)
        picture = draw_upstream(walk, run, workspace.file(workspace.work.lineage_picture(ner_model["run_id"])))
        kinds: dict[str, int] = {}
        for _, node, _, _ in walk:
            kinds[node.kind] = kinds.get(node.kind, 0) + 1
        counts = RecordLedger(store).counts(node_id("dataset_version", ner_model["dataset_version"]))
        return dg.Output(
            {"training_run": run, "picture": str(picture), "dataset_version": ner_model["dataset_version"]},
            metadata={"training_run": run, "upstream_nodes_by_kind": dg.MetadataValue.json(kinds),
                      "records_by_split": dg.MetadataValue.json(counts),
                      "picture": dg.MetadataValue.path(str(picture)),
                      **step.complete(None, output=f"lineage_graph:{ner_model['run_id']}",
                                        version=ner_model["run_id"], inputs_extra=[run],
                                        counts={"upstream_nodes": len(walk), "records_by_split": counts})},
        )


@dg.asset_check(
    asset=lineage_graph, blocking=True,
    description="Every dataset version resolves to its records in the ledger, every training run and model "
                "version to a dataset version. Blocking: the model is not registered or promoted otherwise.",
)
def lineage_complete(context: dg.AssetCheckExecutionContext, lineage_graph: dict,
                     lineage: LineageResource) -> dg.AssetCheckResult:
    found = gaps(lineage.store, RecordLedger(lineage.store))
    lineage.stage(context, CODE_VERSION).add_completeness_check(lineage_graph["training_run"], CHECK, not found,
                                                               gaps=[g.to_dict() for g in found[:20]])
    return dg.AssetCheckResult(
        passed=not found, severity=dg.AssetCheckSeverity.ERROR,
        description="the graph is complete" if not found else f"{len(found)} gaps, e.g. {found[0].node}: {found[0].rule}",
        metadata={"gaps": len(found), "first_gaps": dg.MetadataValue.json([g.to_dict() for g in found[:20]])})
