"""The promotion gate's rules, applied to one comparison. Each rule is named, so a refusal
says which rule refused it (in the check, the audit log, lineage and the CLI) and a
reviewer can find that rule's tolerance in the policy file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lepton.promotion.policy import PromotionPolicy


@dataclass(frozen=True)
class Rule:
    name: str
    passed: bool | None  # None: not applied here (said why in `detail`)
    detail: str


@dataclass
class Decision:
    challenger: int
    champion: int | None
    rules: list[Rule] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed is not False for r in self.rules)

    @property
    def refused_by(self) -> list[str]:
        return [r.name for r in self.rules if r.passed is False]

    def summary(self) -> str:
        if self.passed:
            return f"v{self.challenger} passes every rule"
        return f"v{self.challenger} refused by " + "; ".join(f"{r.name} ({r.detail})" for r in self.rules
                                                           if r.passed is False)

    def to_dict(self) -> dict:
        return {"challenger": self.challenger, "champion": self.champion, "passed": self.passed,
                "refused_by": self.refused_by, "rules": [asdict(r) for r in self.rules]}


@dataclass(frozen=True)
class Facts:
    """What the gate knows of the challenger besides its scores."""
    tainted_by: str | None
    schema_version: str | None
    current_schema: str
    sign_off: str | None           # the latest steward decision on its review pack: approved, rejected or None
    champion_tainted_by: str | None = None


def _not_worse(name: str, entry: dict, tolerance: float) -> Rule:
    delta = entry["delta"]
    return Rule(name, delta >= -tolerance - 1e-9,
                f"F1 {entry['challenger']['f1']:.4f} vs champion {entry['champion']['f1']:.4f}, "
                f"difference {delta:+.4f} (95% interval {entry['delta_ci'][0]:+.4f}..{entry['delta_ci'][1]:+.4f}), "
                f"tolerance {tolerance}")


def decide(comparison: dict, facts: Facts, policy: PromotionPolicy, challenger: int, champion: int | None) -> Decision:
    d = Decision(challenger, champion)
    rules = d.rules
    rules.append(Rule("model.not_tainted", facts.tainted_by is None,
                      f"tainted by erasure {facts.tainted_by}" if facts.tainted_by else "not tainted"))
    rules.append(Rule("schema.matches", facts.schema_version == facts.current_schema,
                      f"trained under label schema {facts.schema_version or '(unrecorded)'}, "
                      f"current {facts.current_schema}"))
    if policy.require_sign_off:
        rules.append(Rule("review.signed_off", facts.sign_off == "approved",
                          f"steward sign-off: {facts.sign_off or 'none yet'}"))
    else:
        rules.append(Rule("review.signed_off", None, "not required by the policy"))
    overall = comparison["overall"]
    rules.append(Rule("f1.floor", overall["challenger"]["f1"] >= policy.f1_floor,
                      f"F1 {overall['challenger']['f1']:.4f} on {comparison['documents']} documents, "
                      f"floor {policy.f1_floor}"))
    if champion is None:
        rules.append(Rule("overall.not_worse", None, "no champion to compare with"))
        return d
    if facts.champion_tainted_by:
        # a tainted champion must be replaced; its scores are shown, not held against the challenger
        rules.append(Rule("overall.not_worse", None, f"the champion v{champion} is tainted by erasure "
                          f"{facts.champion_tainted_by}: regressions are reported, not ruled on"))
        return d
    rules.append(_not_worse("overall.not_worse", overall, policy.overall_tolerance))
    for label, entry in comparison["labels"].items():
        if entry["champion"]["support"] < policy.min_support:
            continue
        rules.append(_not_worse(f"label.{label}.not_worse", entry, policy.label_tolerance))
    for name, entry in comparison["slices"].items():
        if entry["documents"] < policy.min_documents or entry["champion"]["support"] < policy.min_support:
            continue
        rules.append(_not_worse(f"slice.{name}.not_worse", entry, policy.slice_tolerance))
    return d
