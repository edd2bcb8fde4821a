"""Experiments on the window: each a package with its views, parameter groups and menus.

Experiments never import each other; the window finds them by key through
:mod:`gui.experiment`.
"""
