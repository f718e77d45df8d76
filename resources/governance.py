from pathlib import Path

import dagster as dg

from lepton.crypto.keyring import load_master_key
from lepton.governance.audit import AuditLog, audit_key
from lepton.governance.pii import PiiDetector, policy_detector
from lepton.governance.policy import Policy


class GovernanceResource(dg.ConfigurableResource):
    """The sensitivity policy file, cleaning limits, the PII detector's settings and the
    audit log. `use_champion_for_persons` adds person names found by the champion model."""

    policy_file: str
    audit_log: str
    key_file: str  # the master key's file (LEPTON_MASTER_KEY wins): the audit chain's key derives from it
    max_chars: int = 100_000
    use_champion_for_persons: bool = True

    def policy(self) -> Policy:
        return Policy.load(Path(self.policy_file))

    def audit(self) -> AuditLog:
        return AuditLog(Path(self.audit_log), audit_key(load_master_key(Path(self.key_file))))

    def detector(self, person_detector=None) -> PiiDetector:
        return policy_detector(self.policy(), person_detector)
