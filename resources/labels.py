import dagster as dg

from lepton.annotation.schema import LabelSchema, load_schema


class LabelSchemaResource(dg.ConfigurableResource):
    """The reviewed entity label schema (policy/labels.yaml, or LEPTON_LABEL_SCHEMA): read
    when an asset runs, so an edited file is the next run's schema without a reload."""

    schema_file: str

    def schema(self) -> LabelSchema:
        return load_schema(self.schema_file)
