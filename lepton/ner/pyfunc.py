"""The served model: an MLflow pyfunc that returns entity spans.

MLflow's stock transformers flavour flattens token-classification output into a
comma-joined label string, which loses the offsets annotators and stewards need.
"""

from __future__ import annotations

import mlflow.pyfunc


class NerSpanModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        model_dir = context.artifacts["model_dir"]
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForTokenClassification.from_pretrained(model_dir)
        self.model.eval()
        from lepton.ner.predict import ModelPredictor

        self.predictor = ModelPredictor(self.model, self.tokenizer)

    def predict(self, context, model_input, params=None):
        return [p.spans for p in self.predictor.predictions(_texts(model_input))]


class EnsembleSpanModel(mlflow.pyfunc.PythonModel):
    """Registered versions predicting together (lepton.ner.ensemble): each member's Hugging
    Face folder is an artifact `member_<i>`, the method is kept with the model."""

    def __init__(self, method: str):
        self.method = method

    def load_context(self, context):
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        from lepton.ner.ensemble import EnsemblePredictor

        names = sorted((k for k in context.artifacts if k.startswith("member_")), key=lambda k: int(k.split("_")[1]))
        members = []
        for name in names:
            model = AutoModelForTokenClassification.from_pretrained(context.artifacts[name])
            model.eval()
            members.append((model, AutoTokenizer.from_pretrained(context.artifacts[name])))
        self.predictor = EnsemblePredictor(members, self.method)

    def predict(self, context, model_input, params=None):
        return [p.spans for p in self.predictor.predictions(_texts(model_input))]


def _texts(model_input) -> list[str]:
    if hasattr(model_input, "columns"):  # a list arrives as a frame of one unnamed column
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return [str(t) for t in model_input[column].tolist()]
    return [str(t) for t in model_input]
