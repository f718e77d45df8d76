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

    def predict(self, context, model_input, params=None):
        from lepton.ner.predict import predict_spans

        if hasattr(model_input, "columns"):  # a list arrives as a frame of one unnamed column
            column = "text" if "text" in model_input.columns else model_input.columns[0]
            texts = [str(t) for t in model_input[column].tolist()]
        else:
            texts = [str(t) for t in model_input]
        return predict_spans(self.model, self.tokenizer, texts)
