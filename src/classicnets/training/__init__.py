"""Training: configuration, recipes, the loop, checkpoints."""

from classicnets.training.checkpoint import Checkpoint, build_model, read_checkpoint
from classicnets.training.config import TrainConfig
from classicnets.training.loop import RunResult, resume, run, train
from classicnets.training.recipes import recipe_config
from classicnets.training.stopping import TrainingDiverged, TrainingInterrupted

__all__ = ["Checkpoint", "RunResult", "TrainConfig", "TrainingDiverged", "TrainingInterrupted", "build_model",
           "read_checkpoint", "recipe_config", "resume", "run", "train"]
