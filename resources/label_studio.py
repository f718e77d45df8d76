import dagster as dg

from lepton.annotation.studio import Studio


class LabelStudioResource(dg.ConfigurableResource):
    """The Label Studio server annotators use. URL and token come from the environment
    (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY) through dg.EnvVar, so the token never sits in
    run config or the UI."""

    url: str
    api_key: str
    project: str = "Lepton NER"
    input_labels: str = "annotations"
    min_agreement_f1: float = 0.8
    retry_seconds: float = 120.0

    def studio(self, on_retry=None) -> Studio:
        return Studio(self.url, self.api_key, retry_seconds=self.retry_seconds, on_retry=on_retry)
