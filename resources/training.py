import dagster as dg

from lepton.ner.train import TrainConfig


class TrainingResource(dg.ConfigurableResource):
    """Base encoder: "tiny" (random, built in process), "minilm" (packaged, pretrained)
    or a local model directory. Nothing is fetched from a hub."""

    base_encoder: str = "tiny"
    epochs: int = 20
    patience: int = 3
    batch_size: int = 16
    learning_rate: float | None = None  # None: chosen from the encoder's size
    seed: int = 13
    f1_floor: float = 0.5
    processes: int = 1  # >1: torchrun with DistributedDataParallel (gloo on CPU, NCCL on GPUs)
    augment_copies: int = 0  # >0: augmented copies of each training record (mention replacement, recasing)

    def augmentation(self) -> dict | None:
        return {"copies": self.augment_copies, "seed": self.seed} if self.augment_copies else None

    def config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, patience=self.patience, batch_size=self.batch_size,
                           learning_rate=self.learning_rate, seed=self.seed)
