"""Published map-quality values to compare runs against.

Bamford et al. 2010's 300 s results, as quoted by Bogdan et al.'s analysis,
for the three cases of the topographic-map experiment.
"""

from __future__ import annotations

from sim.experiments.topomap.config import ModelConfig

#: case -> metric -> value; metrics are sigma_aff_conn, sigma_aff_weight, ad_conn, ad_weight.
BAMFORD_2010: dict[int, dict[str, float]] = {
    1: {"sigma_aff_conn": 1.95, "sigma_aff_weight": 1.70, "ad_conn": 0.83, "ad_weight": 0.95},
    2: {"sigma_aff_conn": 2.36, "sigma_aff_weight": 1.98, "ad_conn": 0.78, "ad_weight": 1.58},
    3: {"sigma_aff_conn": 2.17, "sigma_aff_weight": 1.95, "ad_conn": 0.93, "ad_weight": 1.34},
}

#: Network means of Bamford's own initial connectivity (the reference data file).
BAMFORD_2009_INITIAL: dict[str, float] = {
    "sigma_aff_conn": 2.3550,
    "sigma_aff_weight": 2.3550,
    "ad_conn": 0.8200,
    "ad_weight": 0.8215,
}

CASE_NAMES: dict[int, str] = {
    1: "case 1: correlated input + rewiring",
    2: "case 2: correlated input, STDP only",
    3: "case 3: rewiring, uncorrelated input",
}


def case_of(cfg: ModelConfig) -> int | None:
    """Bamford's case number that ``cfg`` corresponds to, or None (e.g. no rewiring and flat input)."""
    correlated = cfg.stimulus.input == "correlated"
    if cfg.rewiring.enabled and correlated:
        return 1
    if not cfg.rewiring.enabled and correlated:
        return 2
    if cfg.rewiring.enabled and not correlated:
        return 3
    return None


def bamford_case(cfg: ModelConfig) -> int | None:
    """Bamford's case of ``cfg`` when ``cfg`` is Bamford's model, whose published values apply; else None.

    The published values (:data:`BAMFORD_2010`, sigma_aff and AD after 300 s)
    were measured on Bamford's own network, which Bogdan et al. 2018 ported to
    SpiNNaker, so they apply only to a configuration of that model:

    * one of Bamford's three cases (:func:`case_of`);
    * slot rewiring (``rewiring.scheme: slot``) over fixed fan-in initial wiring
      (``connectivity.wiring: fixed_fan_in``);
    * one input blob (``stimulus.tiled: false``), excitatory lateral synapses
      (``connectivity.lat_inhibitory: false``) and the published 16 x 16 grid
      (``network.scale: 1``).

    That is the ``bamford2010`` and ``bogdan2018`` presets and their
    ``_stdp_only`` and ``_uncorrelated`` variants. Other models (Knight et al.
    2025's pair rewiring over pairwise-Bernoulli wiring, the demo built on it,
    the lateral-inhibition variants, larger grids) have no published values,
    even where their input and rewiring match one of the cases.
    """
    case = case_of(cfg)
    bamford_model = (
        cfg.rewiring.scheme == "slot"
        and cfg.connectivity.wiring == "fixed_fan_in"
        and not cfg.stimulus.tiled
        and not cfg.connectivity.lat_inhibitory
        and cfg.network.scale == 1
    )
    return case if bamford_model else None


def reference_values(cfg: ModelConfig) -> dict[str, float] | None:
    """Bamford's published values for ``cfg`` (see :func:`bamford_case`), or None."""
    case = bamford_case(cfg)
    return None if case is None else BAMFORD_2010[case]
