"""Experiments: each a package holding its model, state, kernels and analysis.

Experiments never import each other, and the shared core never imports an experiment.
"""
