"""Promotion decisions: evaluate, apply the gate, record, and only then move the alias.

One code path for the `promotion_gate` check, `lepton promote` and `lepton rollback`, so a
decision reads the same wherever it was made: a `model_evaluation` and a `promotion_decision`
node in lineage (with an `alias_change` when the alias moved), an audit entry naming the
rules that refused it, and the comparison logged to the challenger's MLflow run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from lepton.governance.audit import AuditLog
from lepton.lineage.events import StageLineage
from lepton.lineage.pack import model_node, sign_offs
from lepton.lineage.store import LineageStore
from lepton.promotion.evaluation import evaluate
from lepton.promotion.gate import Decision, Facts, Rule, decide
from lepton.promotion.policy import PromotionPolicy
from lepton.tracking.mlflow_store import CHAMPION, MlflowStore

CODE_VERSION = "promotion-1"


class PromotionRefused(Exception):
    """A promotion or rollback that may not happen (a tainted model, no reason for a forced
    one, nothing to roll back to); the message names the rule."""


@dataclass
class Outcome:
    report: dict
    decision: Decision
    promoted: bool
    forced: bool
    nodes: dict


@dataclass
class Gatekeeper:
    mlflow: MlflowStore
    dvc: object
    keyring: object
    lineage: LineageStore
    audit: AuditLog
    policy: PromotionPolicy
    schema_version: str

    def compare(self, challenger: int, champion: int | None) -> dict:
        return evaluate(self.mlflow, self.dvc, self.keyring, challenger, champion, self.policy)

    def decide(self, report: dict) -> Decision:
        ch, cp = report["challenger"], report["champion"]
        approvals = sign_offs(self.lineage, model_node(self.mlflow.model_name, ch["version"]))
        facts = Facts(tainted_by=ch["tainted_by"], schema_version=ch["label_schema_version"],
                      current_schema=self.schema_version, sign_off=approvals[-1]["status"] if approvals else None,
                      champion_tainted_by=cp["tainted_by"] if cp else None)
        return decide(report, facts, self.policy, ch["version"], cp["version"] if cp else None)

    def evaluate(self, challenger: int, stage: StageLineage) -> tuple[dict, str]:
        """The challenger and the champion in force scored together; (report, its lineage node)."""
        current = self.mlflow.champion()
        if current is not None and current["version"] == challenger:
            raise PromotionRefused(f"{self.mlflow.model_name} v{challenger} is the champion already")
        report = self.compare(challenger, current["version"] if current else None)
        overall = report["overall"]
        node = stage.add_model_evaluation(
            self.mlflow.model_name, challenger, report["champion"]["version"] if report["champion"] else None,
            report["scored_on"], documents=report["documents"], challenger_f1=overall["challenger"]["f1"],
            challenger_ci=overall["challenger"]["ci"], champion_f1=overall.get("champion", {}).get("f1"),
            delta=overall.get("delta"), delta_ci=overall.get("delta_ci"), note=report["note"])
        return report, node

    def apply(self, report: dict, evaluation: str, stage: StageLineage, actor: str, force: bool = False,
              reason: str = "") -> Outcome:
        """Decides on an evaluation, records the decision and moves the alias if it passed (or
        was forced, with a reason). A champion that changed since the evaluation refuses it:
        the challenger was not compared with the champion it would replace."""
        if force and not reason.strip():
            raise PromotionRefused("a forced promotion needs a reason (--reason)")
        if force and report["challenger"]["tainted_by"]:
            raise PromotionRefused(f"model.not_tainted: v{report['challenger']['version']} is tainted by erasure "
                                   f"{report['challenger']['tainted_by']}; no reason can promote it, retrain it")
        decision = self.decide(report)
        current = self.mlflow.champion()
        scored = report["champion"]["version"] if report["champion"] else None
        if current is not None and current["version"] not in (scored, decision.challenger) and not current["tainted_by"] \
                and not (scored is None and report["note"]):
            decision.rules.append(Rule("champion.unchanged", False, f"scored against v{scored}, but the champion "
                                       f"is now v{current['version']}: evaluate again"))
        forced = force and not decision.passed
        promote = decision.passed or force
        previous = current["version"] if current else None
        nodes = self._record(report, decision, evaluation, stage, actor, promote, forced, reason.strip(), previous)
        return Outcome(report, decision, promote, forced, nodes)

    def consider(self, challenger: int, actor: str, stage: StageLineage, force: bool = False,
                 reason: str = "") -> Outcome:
        if force and not reason.strip():
            raise PromotionRefused("a forced promotion needs a reason (--reason)")
        report, evaluation = self.evaluate(challenger, stage)
        return self.apply(report, evaluation, stage, actor, force, reason)

    def _record(self, report: dict, decision: Decision, evaluation: str, stage: StageLineage, actor: str,
                promote: bool, forced: bool, reason: str, previous: int | None) -> dict:
        name, ch = self.mlflow.model_name, report["challenger"]["version"]
        overall = report["overall"]
        outcome = "forced" if forced else ("promoted" if promote else "refused")
        decision_node = stage.add_promotion_decision(
            evaluation, name, ch, at=datetime.now(timezone.utc).isoformat(), outcome=outcome, passed=decision.passed, refused_by=decision.refused_by,
            forced=forced, reason=reason, actor=actor, policy=self.policy.to_dict(), champion=decision.champion,
            rules=[{"name": r.name, "passed": r.passed, "detail": r.detail} for r in decision.rules])
        nodes = {"evaluation": evaluation, "decision": decision_node}
        if promote:
            self.mlflow.set_champion(ch)
            nodes["alias_change"] = stage.add_alias_change(name, CHAMPION, ch, previous, decision=decision_node,
                                                           reason=reason or "passed the promotion gate")
        self.audit.append("model.promotion", model_node(name, ch), actor=actor, outcome=outcome,
                          refused_by=decision.refused_by, forced=forced, reason=reason, champion_before=previous,
                          scored_on=report["scored_on"], challenger_f1=overall["challenger"]["f1"],
                          champion_f1=overall.get("champion", {}).get("f1"), lineage_node=decision_node)
        client = self.mlflow.client()
        run_id_ml = report["challenger"]["run_id"]
        against = f"v{decision.champion}" if decision.champion is not None else "no-champion"
        client.log_dict(run_id_ml, {"report": report, "decision": decision.to_dict(), "outcome": outcome},
                        f"evaluation/{name}-v{ch}-vs-{against}.json")
        client.log_metric(run_id_ml, "frozen_eval_f1", overall["challenger"]["f1"])
        self.mlflow.tag_version(ch, "promotion", outcome if promote else f"refused: {', '.join(decision.refused_by)}")
        self.mlflow.tag_version(ch, "frozen_eval_f1", f"{overall['challenger']['f1']:.4f}")
        return nodes

    def rollback(self, actor: str, stage: StageLineage, reason: str) -> dict:
        """The champion before the current one takes the alias back (a recorded alias change)."""
        name = self.mlflow.model_name
        current = self.mlflow.champion()
        if current is None:
            raise PromotionRefused(f"{name} has no champion to roll back from")
        moves = sorted((n for n in self.lineage.find("alias_change")
                        if n.name.startswith(f"{name}@{CHAMPION}@") and n.attrs.get("version") == current["version"]),
                       key=lambda n: n.attrs.get("at") or "")
        previous = moves[-1].attrs.get("previous") if moves else None
        if previous is None:
            raise PromotionRefused(f"v{current['version']} took the alias from no other version: nothing to roll back to")
        back = self.mlflow.version(previous)
        if back["tainted_by"] or back["files_deleted_by"]:
            raise PromotionRefused(f"model.not_tainted: v{previous} is tainted by erasure "
                                   f"{back['tainted_by'] or back['files_deleted_by']}; it cannot serve again")
        self.mlflow.set_champion(previous)
        node = stage.add_alias_change(name, CHAMPION, previous, current["version"],
                                      reason=f"rollback: {reason.strip() or 'no reason given'}", rollback=True)
        self.audit.append("model.rollback", model_node(name, previous), actor=actor, champion_before=current["version"],
                          reason=reason.strip(), lineage_node=node)
        return {"champion": previous, "was": current["version"], "node": node}
