from pathlib import Path

import dagster as dg

from lepton.validation.distribution import load_thresholds
from lepton.validation.gx_suite import ValidationReport, validate_records


class GreatExpectationsResource(dg.ConfigurableResource):
    """Suites are JSON files in expectations/; GX itself is imported only when validating."""

    expectations_dir: str

    def validate(self, records, suite: str, unaligned=frozenset()) -> ValidationReport:
        return validate_records(records, Path(self.expectations_dir) / f"{suite}.json", unaligned)

    def thresholds(self) -> dict:
        """Distribution thresholds (expectations/thresholds.yaml): a reviewed file, not code."""
        return load_thresholds(Path(self.expectations_dir) / "thresholds.yaml")
