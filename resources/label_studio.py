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

    @classmethod
    def from_settings(cls, s, url, api_key) -> "LabelStudioResource":
        """`url` and `api_key`: dg.EnvVar in the code location, plain values in a shell."""
        return cls(url=url, api_key=api_key, project=s.ls_project, input_labels=s.input_labels,
                   min_agreement_f1=s.min_agreement_f1, retry_seconds=s.ls_retry_seconds)

    def studio(self, on_retry=None, retry_seconds: float | None = None) -> Studio:
        return Studio(self.url, self.api_key, on_retry=on_retry,
                      retry_seconds=self.retry_seconds if retry_seconds is None else retry_seconds)
