"""Parameter sweeps on Dask: the cross product of presets, values and seeds as independent headless
runs, on a local cluster of worker processes or on any Dask scheduler.

- :mod:`app.sweep.plan`: the runs, validated and named before anything runs (no Dask);
- :mod:`app.sweep.worker`: what a worker does for one run;
- :mod:`app.sweep.runner`: the client: cluster, submission, progress, Ctrl-C;
- :mod:`app.sweep.report`: ``sweep.csv`` and the figures.
"""
