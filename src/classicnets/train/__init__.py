"""Training: configuration, recipes, the loop, checkpoints."""

from classicnets.train.checkpoint import Checkpoint, build_model, read_checkpoint
from classicnets.train.config import TrainConfig
from classicnets.train.loop import RunResult, TrainingDiverged, resume, run, train
from classicnets.train.recipes import recipe_config

__all__ = ["Checkpoint", "RunResult", "TrainConfig", "TrainingDiverged", "build_model", "read_checkpoint",
           "recipe_config", "resume", "run", "train"]
