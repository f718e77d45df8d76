"""`lepton models compare`, `lepton promote` and `lepton rollback`: the promotion gate from
the shell, through the same code as the `promotion_gate` check (lepton.promotion)."""

from __future__ import annotations

import json
import os
import uuid

import click

from lepton.settings import Settings


def _actor() -> str:
    return f"cli:{os.environ.get('USER', '?')}"


def _gatekeeper(s: Settings):
    from lepton.annotation.schema import load_schema
    from lepton.promotion.decisions import Gatekeeper
    from lepton.promotion.policy import PromotionPolicy
    from lepton.stores import audit_for, dvc_for, keyring_for, lineage_for, mlflow_for

    return Gatekeeper(mlflow_for(s), dvc_for(s), keyring_for(s), lineage_for(s), audit_for(s),
                      PromotionPolicy.load(s.promotion_policy), load_schema(s.label_schema_file).version)


def _stage(gate):
    from lepton.lineage.events import StageLineage
    from lepton.promotion.decisions import CODE_VERSION

    return StageLineage(gate.lineage, f"cli-{uuid.uuid4().hex[:12]}", CODE_VERSION)


@click.group()
def models() -> None:
    """Registered model versions: compare two on the frozen evaluation set."""


@models.command("compare")
@click.argument("challenger")
@click.argument("champion", required=False)
@click.option("--json", "as_json", is_flag=True, help="The whole comparison and the gate's verdict as JSON.")
def compare_cmd(challenger: str, champion: str | None, as_json: bool) -> None:
    """CHALLENGER against CHAMPION (default: the champion alias), scored as the promotion gate
    scores them; nothing is recorded and no alias moves. Versions: 3, v3, NAME/3 or @alias."""
    from lepton.promotion.report import comparison_markdown, rules_markdown

    gate = _gatekeeper(Settings.from_env())
    try:
        a = gate.mlflow.resolve(challenger)
        b = gate.mlflow.resolve(champion or "@champion") if champion or gate.mlflow.champion() else None
    except LookupError as err:
        raise click.ClickException(str(err)) from None
    report = gate.compare(a, b)
    decision = gate.decide(report)
    if as_json:
        click.echo(json.dumps({"report": report, "decision": decision.to_dict()}, indent=1, default=str))
        return
    click.echo(comparison_markdown(report))
    click.echo("")
    click.echo(rules_markdown(decision))
    click.echo("")
    click.echo(("would pass: " if decision.passed else "would be refused: ") + decision.summary())


@click.command("promote")
@click.argument("ref")
@click.option("--force", is_flag=True, help="Promote even if the gate refuses (not a tainted model); needs --reason.")
@click.option("--reason", default="", help="Why: kept in the audit log and lineage (required with --force).")
def promote_cmd(ref: str, force: bool, reason: str) -> None:
    """Runs the promotion gate on REF against the champion and moves the alias if it passes."""
    from lepton.promotion.decisions import PromotionRefused

    gate = _gatekeeper(Settings.from_env())
    try:
        outcome = gate.consider(gate.mlflow.resolve(ref), _actor(), _stage(gate), force=force, reason=reason)
    except (PromotionRefused, LookupError) as err:
        raise click.ClickException(str(err)) from None
    word = "forced to champion" if outcome.forced else ("champion" if outcome.promoted else "refused")
    click.echo(f"{gate.mlflow.model_name} v{outcome.decision.challenger}: {word}: {outcome.decision.summary()}")
    click.echo(f"lineage: {outcome.nodes['decision']}")
    if not outcome.promoted:
        raise SystemExit(1)


@click.command("rollback")
@click.option("--reason", default="", help="Why: kept in the audit log and lineage.")
def rollback_cmd(reason: str) -> None:
    """Gives the champion alias back to the version that held it before the current one."""
    from lepton.promotion.decisions import PromotionRefused

    gate = _gatekeeper(Settings.from_env())
    try:
        done = gate.rollback(_actor(), _stage(gate), reason)
    except PromotionRefused as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{gate.mlflow.model_name}: champion v{done['was']} -> v{done['champion']} ({done['node']})")


@models.command("ensemble")
@click.argument("versions", nargs=-1, required=True)
@click.option("--method", type=click.Choice(["vote", "average"]), default="vote", show_default=True,
              help="vote: a span stands when most members predict it; average: token probabilities averaged "
                   "(members must share a tokenizer).")
def ensemble_cmd(versions: tuple[str, ...], method: str) -> None:
    """Registers VERSIONS (two or more, one label schema) as one ensemble version, its members
    in lineage; compare it with its best member by `lepton models compare`, promote it like any."""
    from lepton.ner.ensemble import EnsembleError, register

    gate = _gatekeeper(Settings.from_env())
    try:
        reg = register(gate.mlflow, _stage(gate), [gate.mlflow.resolve(v) for v in versions], method)
    except (EnsembleError, LookupError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{reg['name']} v{reg['version']}: {method} ensemble of "
               + ", ".join(f"v{m}" for m in reg["members"]))
