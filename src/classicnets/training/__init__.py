"""Training: configuration, recipes, the loop, checkpoints."""

from classicnets.training.checkpoint import Checkpoint, build_model, read_checkpoint
from classicnets.training.config import TrainConfig
from classicnets.training.loop import RunResult, TrainingDiverged, resume, run, train
from classicnets.training.recipes import recipe_config

__all__ = ["Checkpoint", "RunResult", "TrainConfig", "TrainingDiverged", "build_model", "read_checkpoint",
           "recipe_config", "resume", "run", "train"]
