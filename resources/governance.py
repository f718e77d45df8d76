from pathlib import Path

import dagster as dg

from lepton.governance.audit import AuditLog
from lepton.governance.pii import PiiDetector
from lepton.governance.policy import Policy


class GovernanceResource(dg.ConfigurableResource):
    """The sensitivity policy file, cleaning limits, the PII detector's settings and the
    audit log. `use_champion_for_persons` adds person names found by the champion model."""

    policy_file: str
    audit_log: str
    max_chars: int = 100_000
    phone_region: str = "GB"
    use_champion_for_persons: bool = True

    def policy(self) -> Policy:
        return Policy.load(Path(self.policy_file))

    def audit(self) -> AuditLog:
        return AuditLog(Path(self.audit_log))

    def detector(self, person_detector=None) -> PiiDetector:
        return PiiDetector(default_region=self.phone_region, person_detector=person_detector)
