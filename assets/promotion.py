import dagster as dg

from lepton.promotion.decisions import Gatekeeper
from lepton.promotion.report import comparison_markdown, rules_markdown
from resources import (
    DvcResource,
    GovernanceResource,
    KeyringResource,
    LabelSchemaResource,
    LineageResource,
    MlflowResource,
)

CODE_VERSION = "promotion-1"


def _gatekeeper(mlflow: MlflowResource, dvc: DvcResource, keyring: KeyringResource, lineage: LineageResource,
                governance: GovernanceResource, labels: LabelSchemaResource) -> Gatekeeper:
    return Gatekeeper(mlflow.store(), dvc.store(), keyring.keyring(), lineage.store, governance.audit(),
                      mlflow.policy(), labels.schema().version)


@dg.asset(
    group_name="registry", kinds={"mlflow"}, owners=["team:ml"], code_version=CODE_VERSION,
    description="The registered version (challenger) and the champion scored on the frozen evaluation set in "
                "the same run by the same code: entity F1 overall, per label and per slice (source, length), "
                "with bootstrap confidence intervals and the paired difference.",
)
def model_evaluation(context: dg.AssetExecutionContext, registered_model: dict, mlflow: MlflowResource,
                     dvc: DvcResource, keyring: KeyringResource, lineage: LineageResource,
                     governance: GovernanceResource, labels: LabelSchemaResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        gate = _gatekeeper(mlflow, dvc, keyring, lineage, governance, labels)
        report, node = gate.evaluate(registered_model["version"], step.stage)
        overall, preview = report["overall"], gate.decide(report)
        context.log.info(f"v{registered_model['version']} on {report['scored_on']['kind']} set "
                         f"{report['scored_on']['version'][:12]} ({report['documents']} documents): {preview.summary()}")
        return dg.Output(
            {"report": report, "evaluation": node},
            metadata={
                "challenger": f"v{registered_model['version']}",
                "champion": f"v{report['champion']['version']}" if report["champion"] else "(none)",
                "scored_on": dg.MetadataValue.json(report["scored_on"]),
                "documents": report["documents"],
                "challenger_f1": dg.MetadataValue.float(overall["challenger"]["f1"]),
                "champion_f1": dg.MetadataValue.float(overall["champion"]["f1"]) if report["champion"] else "(none)",
                "delta_f1": dg.MetadataValue.float(overall["delta"]) if report["champion"] else "(none)",
                "comparison": dg.MetadataValue.md(comparison_markdown(report)),
                "note": report["note"] or "none",
                **step.complete(node),
            },
        )


@dg.asset_check(
    asset=model_evaluation, blocking=True,
    description="The promotion gate (policy/promotion.yaml): the champion alias moves to the challenger only "
                "if it is not worse overall, per label or per slice beyond the tolerances, clears the F1 floor, "
                "is not tainted, fits the current label schema and, when the policy says so, was signed off. "
                "Every decision is a lineage node and an audit entry naming the rules.",
)
def promotion_gate(context: dg.AssetCheckExecutionContext, model_evaluation: dict, mlflow: MlflowResource,
                   dvc: DvcResource, keyring: KeyringResource, lineage: LineageResource,
                   governance: GovernanceResource, labels: LabelSchemaResource) -> dg.AssetCheckResult:
    gate = _gatekeeper(mlflow, dvc, keyring, lineage, governance, labels)
    outcome = gate.apply(model_evaluation["report"], model_evaluation["evaluation"],
                         lineage.stage(context, CODE_VERSION), actor="dagster:" + context.run.run_id)
    decision = outcome.decision
    if not outcome.promoted:
        context.log.warning(decision.summary())
    return dg.AssetCheckResult(
        passed=outcome.promoted, severity=dg.AssetCheckSeverity.ERROR,
        description=("champion: " if outcome.promoted else "champion stays: ") + decision.summary(),
        metadata={"outcome": "promoted" if outcome.promoted else "refused",
                  "refused_by": dg.MetadataValue.json(decision.refused_by),
                  "rules": dg.MetadataValue.md(rules_markdown(decision)),
                  "lineage_node": outcome.nodes["decision"]},
    )
