"""Tabular AutoML: pipeline search over preprocessing and model families."""
