from pathlib import Path

import dagster as dg

from lepton.validation.distribution import load_thresholds
from lepton.validation.gx_suite import ValidationReport, suite_key, validate_records


class GreatExpectationsResource(dg.ConfigurableResource):
    """Suites are JSON files in expectations/; GX itself is imported only when validating."""

    expectations_dir: str

    def validate(self, records, suite: str, unaligned=frozenset(), labels=None) -> ValidationReport:
        """`labels`: the label schema's, for a suite with the "labels in the current schema" rule."""
        return validate_records(records, Path(self.expectations_dir) / f"{suite}.json", unaligned, labels)

    def thresholds(self) -> dict:
        """Distribution thresholds (expectations/thresholds.yaml): a reviewed file, not code."""
        return load_thresholds(Path(self.expectations_dir) / "thresholds.yaml")

    def suite_key(self, suite: str) -> str:
        return suite_key(Path(self.expectations_dir) / f"{suite}.json")

    def thresholds_key(self) -> str:
        return suite_key(Path(self.expectations_dir) / "thresholds.yaml")

    def dataset_keys(self) -> list[str]:
        """The checks a dataset version must have passed before a model is trained on it."""
        return [self.thresholds_key(), self.suite_key("dataset_splits")]
