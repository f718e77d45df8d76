"""The training settings and their defaults, written once: the trainer reads them, the
`lepton train` options and the Dagster training resource are derived from them, and
`lepton.settings` takes its defaults from them. Kept free of torch so any of those can import
it cheaply."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    epochs: int = _f(20, "Upper bound on epochs; early stopping usually ends sooner.")
    patience: int = _f(3, "Epochs without a better dev F1 before stopping.")
    batch_size: int = _f(16, "Global batch size, split across processes when distributed.")
    grad_accumulation: int = _f(1, "Batches per optimiser step.")
    learning_rate: float | None = _f(None, "Peak learning rate; unset: chosen from the encoder's size.")
    scheduler: str = _f("linear", "Learning-rate decay after warm-up: linear or cosine.")
    warmup_ratio: float = _f(0.1, "Share of the steps of the epoch bound spent warming up.")
    weight_decay: float = _f(0.01, "AdamW weight decay.")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm.")
    max_length: int = _f(256, "Tokens per window; longer documents slide.")
    stride: int = _f(32, "Tokens shared by neighbouring windows.")
    label_subtokens: str = _f("first", "Label the first sub-token of a word, or all of them.")
    length_grouping: bool = _f(True, "Batch documents of similar length (less padding).")
    precision: str = _f("auto", "auto: bf16 where supported, fp16 with a scaler on older GPUs, fp32 on CPU.")
    dropout: float | None = _f(None, "Dropout; unset: the encoder's own.")
    seed: int = _f(13, "Seed of the split, the initialisation and the batch order.")
    log_every: int = _f(10, "Steps between step-metric reports.")

    def to_params(self) -> dict:
        return asdict(self)


def _field(name: str):
    return next(f for f in fields(TrainConfig) if f.name == name)


def default(name: str):
    """A field's default, e.g. default("epochs") -> 20."""
    f = _field(name)
    return None if f.default is MISSING else f.default


def help_text(name: str) -> str:
    """A field's help, with its default, for a command-line option."""
    value = default(name)
    return _field(name).metadata["help"] + ("" if value is None else f" [{value}]")


def config_value(name: str, text: str):
    """A TrainConfig field from text (a CLI flag, an MLflow param), typed like the field."""
    kind = str(_field(name).type)
    if text in (None, "None"):
        return None
    if "bool" in kind:
        return text == "True"
    if "int" in kind:
        return int(text)
    if "float" in kind:
        return float(text)
    return text
