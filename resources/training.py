import dagster as dg

from lepton.ner.train import TrainConfig


class TrainingResource(dg.ConfigurableResource):
    """Base encoder: "tiny" (random, built in process), "minilm" (packaged, pretrained)
    or a local model directory. Nothing is fetched from a hub."""

    base_encoder: str = "tiny"
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 1e-4
    seed: int = 13
    f1_floor: float = 0.5

    def config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size,
                           learning_rate=self.learning_rate, seed=self.seed)
