from pathlib import Path

import dagster as dg

from lepton.datasets.eval_set import EvalSetPolicy
from lepton.ner.config import TrainConfig, default
from lepton.packaged import shipped


class TrainingResource(dg.ConfigurableResource):
    """Base encoder: "tiny" (random, built in process), "minilm" (packaged, pretrained)
    or a local model directory. Nothing is fetched from a hub. The training settings a run may
    change; their defaults are TrainConfig's."""

    base_encoder: str = "tiny"
    epochs: int = default("epochs")
    patience: int = default("patience")
    batch_size: int = default("batch_size")
    learning_rate: float | None = default("learning_rate")  # None: chosen from the encoder's size
    seed: int = default("seed")
    processes: int = 1  # >1: torchrun with DistributedDataParallel (gloo on CPU, NCCL on GPUs)
    augment_copies: int = 0  # >0: augmented copies of each training record (mention replacement, recasing)
    eval_set_policy: str = ""  # the frozen evaluation set's policy file (policy/eval_set.yaml)

    def eval_set(self) -> EvalSetPolicy:
        return EvalSetPolicy.load(Path(self.eval_set_policy or shipped("policy/eval_set.yaml")))

    def augmentation(self) -> dict | None:
        return {"copies": self.augment_copies, "seed": self.seed} if self.augment_copies else None

    def config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, patience=self.patience, batch_size=self.batch_size,
                           learning_rate=self.learning_rate, seed=self.seed)
