"""Firing-rate summaries of recorded spike counts."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["mean_rates", "population_rate"]


def _duration(duration_s: float) -> float:
    out = float(duration_s)
    if not math.isfinite(out) or out < 0.0:
        raise ValueError(f"duration_s must be a non-negative number, got {duration_s!r}")
    return out


def mean_rates(spike_counts: ArrayLike, duration_s: float) -> NDArray[np.float64]:
    """Mean firing rate of each neuron.

    Parameters
    ----------
    spike_counts : array_like of int or float
        Spikes per neuron over the recording (any shape).
    duration_s : float
        Length of the recording in seconds.

    Returns
    -------
    ndarray of float64
        Rates in Hz, same shape as ``spike_counts``; all zeros when
        ``duration_s`` is 0.

    Raises
    ------
    ValueError
        If ``duration_s`` is negative or not finite, or a count is negative
        or not finite.
    """
    duration = _duration(duration_s)
    counts = np.asarray(spike_counts, dtype=np.float64)
    if counts.size and (not np.all(np.isfinite(counts)) or float(counts.min()) < 0.0):
        raise ValueError("spike_counts must be finite and non-negative")
    if duration == 0.0:
        return np.zeros(counts.shape, dtype=np.float64)
    return counts / duration


def population_rate(spike_counts: ArrayLike, duration_s: float) -> float:
    """Mean firing rate over a population, in Hz per neuron.

    Parameters
    ----------
    spike_counts : array_like of int or float
        Spikes per neuron over the recording.
    duration_s : float
        Length of the recording in seconds.

    Returns
    -------
    float
        Mean of :func:`mean_rates`; 0 for an empty population or a zero duration.

    Raises
    ------
    ValueError
        As :func:`mean_rates`.
    """
    rates = mean_rates(spike_counts, duration_s)
    return float(rates.mean()) if rates.size else 0.0
