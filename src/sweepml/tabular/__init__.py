"""Tabular AutoML: pipeline search over preprocessing and model families."""

from sweepml.tabular.estimators import AutoClassifier, AutoRegressor, load_model

__all__ = ["AutoClassifier", "AutoRegressor", "load_model"]
