"""Looking inside networks: summaries, shapes, FLOPs."""

from classicnets.analysis.summary import LayerInfo, ModelSummary, layer_walk, summary

__all__ = ["LayerInfo", "ModelSummary", "layer_walk", "summary"]
