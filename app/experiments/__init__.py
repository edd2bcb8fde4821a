"""Experiments on the application layer: each a package with its metrics, figures, summary and frames.

Experiments never import each other, and the shared application core never imports an experiment.
"""
